import net from 'node:net';

export interface ProxyOptions {
  // Hold each response chunk this long: "worker dies while a call is in flight".
  delayMs?: number;
  // Forward POST requests but drop their responses: "the import ran, the answer was lost".
  losePostResponses?: boolean;
}

// A TCP proxy in front of a real management API that injects one kind of fault.
export async function startFaultyProxy(upstreamPort: number, options: ProxyOptions): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const delayMs = options.delayMs ?? 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    // Connections are kept alive: judge by the latest request line seen.
    let isPost = false;
    client.on('data', (chunk: Buffer) => {
      const start = chunk.subarray(0, 8).toString();
      if (/^(GET|POST|PUT|DELETE|HEAD) /.test(start)) isPost = start.startsWith('POST ');
    });
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (isPost && options.losePostResponses) {
        client.destroy();
        return;
      }
      setTimeout(() => client.write(chunk), delayMs);
    });
    upstream.on('end', () => setTimeout(() => client.end(), delayMs + 10));
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
