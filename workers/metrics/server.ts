import http from 'node:http';
import type { Client } from '@temporalio/client';
import type { RabbitvaultConfig } from '../../config/schema';
import { collectSamples, renderExposition } from './collect';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

// GET /metrics in Prometheus text format, recomputed at most every cacheSeconds.
export async function startMetricsServer(config: RabbitvaultConfig, listen: string, client: () => Promise<Client>, cacheSeconds = 10): Promise<MetricsServer> {
  const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];
  let cached: { at: number; body: Promise<string> } | undefined;
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || !req.url?.startsWith('/metrics')) {
      res.writeHead(404).end('try /metrics\n');
      return;
    }
    if (!cached || Date.now() - cached.at > cacheSeconds * 1000) {
      cached = { at: Date.now(), body: collectSamples(config, client).then(renderExposition) };
    }
    cached.body.then(
      (body) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body),
      (error: Error) => {
        cached = undefined;
        res.writeHead(500).end(`metrics unavailable: ${error.message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
