// An HTTP proxy in front of a real management API that answers the first
// `times` queue listings (GET /api/queues) without the named queues, as a
// surviving node does for a moment after a cluster member dies (measured on
// RabbitMQ 3.10: about 0.4 s without the dead node's classic queues and the
// quorum queues it led). Every other request, and every later listing, passes
// through unchanged.
import http from 'node:http';

export async function startPartialListingProxy(upstreamPort: number, options: { hide: string[]; times: number }): Promise<{ url: string; partialAnswers(): number; close(): Promise<void> }> {
  let partial = 0;
  const server = http.createServer((req, res) => {
    const listing = req.method === 'GET' && /^\/api\/queues(\?|$)/.test(req.url ?? '');
    // A listing it may rewrite is asked for uncompressed.
    const headers = listing ? { ...req.headers, 'accept-encoding': 'identity' } : req.headers;
    const upstream = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers }, (answer) => {
      if (!listing || partial >= options.times || answer.statusCode !== 200) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        partial += 1;
        const queues = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Array<{ name: string }>).filter((q) => !options.hide.includes(q.name));
        const body = Buffer.from(JSON.stringify(queues));
        const { 'transfer-encoding': _chunked, ...headers } = answer.headers;
        void _chunked;
        res.writeHead(200, { ...headers, 'content-length': String(body.length) });
        res.end(body);
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    partialAnswers: () => partial,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
