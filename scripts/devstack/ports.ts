import net from 'node:net';
import { SetupError } from './progress';

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export async function assertPortFree(port: number, what: string, hint: string): Promise<void> {
  if (!(await isPortFree(port))) throw new SetupError(`port ${port} (${what}) is in use: ${hint}`);
}

// Ports this process handed out: the OS may offer a just-released port again,
// and two services of one stack must never be given the same one.
const handedOut = new Set<number>();

// A port the OS says is free now, never one already handed out by this
// process; tests use these so runs never collide.
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await osFreePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function osFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // A SetupError from the check (a process exited) ends the wait at once;
    // any other error (refused, reset) means "not yet".
    const ok = await check().catch((error: unknown) => {
      if (error instanceof SetupError) throw error;
      return false;
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new SetupError(`${what} did not become ready within ${Math.round(timeoutMs / 1000)} s`);
}
