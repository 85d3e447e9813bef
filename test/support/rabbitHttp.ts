import { readFileSync } from 'node:fs';
import type { IsolatedRabbitNode } from '../../scripts/devstack/rabbitmqNode';

const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

// Direct management API calls for test setup and assertions (not our code path).
export async function rabbitApi(node: IsolatedRabbitNode, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${node.managementUrl}${path}`, {
    method,
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

export function liveDefinitions(node: IsolatedRabbitNode): Promise<Record<string, unknown[]>> {
  return rabbitApi(node, 'GET', '/api/definitions') as Promise<Record<string, unknown[]>>;
}

export async function importFixture(node: IsolatedRabbitNode, file: string): Promise<void> {
  await rabbitApi(node, 'POST', '/api/definitions', readFileSync(file, 'utf8'));
}

export async function declareQueue(node: IsolatedRabbitNode, vhost: string, name: string, args: Record<string, unknown> = {}): Promise<void> {
  await rabbitApi(node, 'PUT', `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`, { durable: true, arguments: args });
}
