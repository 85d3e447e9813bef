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

// Ports this process handed out: never hand one out twice.
const handedOut = new Set<number>();

// A port the OS says is free now, never one already handed out by this
// process, and held back from other processes for about a minute (see
// reservedPort); tests use these so runs never collide.
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await reservedPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

// Linux may give a just-closed port to the next bind(0) of any process: the
// Temporal dev server picks its internal ports that way, as do the other
// lane's tests, so a port we merely closed could be taken before its owner
// binds it (CI saw a dev server and a worker fail together). So, as
// Temporal's own GetFreePort does: connect to the port and close the
// accepted side first. That side waits in TIME_WAIT (60 s), which bind(0)
// skips, while an explicit bind with SO_REUSEADDR (Node, Go and Erlang's
// listeners set it) still succeeds.
function reservedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((accepted) => accepted.destroy());
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const client = net.connect(port, '127.0.0.1');
      client.once('error', reject);
      // The server closed first, so this close completes its TIME_WAIT.
      client.once('close', () => server.close(() => resolve(port)));
      client.resume();
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
