import type { IsolatedRabbitNode } from '../../scripts/devstack/rabbitmqNode';

// The reference side: the management API calls an operator would make with
// curl, with nothing around them.
const authorization = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

export async function getDefinitions(node: IsolatedRabbitNode): Promise<Buffer> {
  const res = await fetch(`${node.managementUrl}/api/definitions`, { headers: { authorization } });
  if (!res.ok) throw new Error(`GET /api/definitions on ${node.nodeName}: ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}

export async function postDefinitions(node: IsolatedRabbitNode, body: Buffer | string): Promise<void> {
  const res = await fetch(`${node.managementUrl}/api/definitions`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body,
    // A hung import fails the bench instead of stalling it.
    signal: AbortSignal.timeout(600_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST /api/definitions on ${node.nodeName}: ${res.status} ${text.slice(0, 500)}`);
}
