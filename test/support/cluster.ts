import { randomBytes } from 'node:crypto';
import path from 'node:path';
import amqp from 'amqplib';
import { IsolatedRabbitCluster } from '../../scripts/devstack/rabbitmqCluster';
import type { IsolatedRabbitNode } from '../../scripts/devstack/rabbitmqNode';
import { testStack } from './stack';

// A real three-node RabbitMQ cluster for one test file (the stack's two single
// nodes stay untouched): started in before(), destroyed in after().
export async function startTestCluster(): Promise<IsolatedRabbitCluster> {
  const cluster = await IsolatedRabbitCluster.create({ name: `rv-cluster-${randomBytes(3).toString('hex')}`, baseDir: path.join(testStack().runDir, 'clusters') });
  try {
    await cluster.start();
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
  return cluster;
}

// A quorum queue replicated on every node, and one classic queue homed on each
// node (declared through that node: classic queues live where they were declared).
export async function fillCluster(cluster: IsolatedRabbitCluster, counts: { quorum: number; classicPerNode: number }, size = 1024): Promise<Record<string, number>> {
  const expected: Record<string, number> = {};
  for (const [i, node] of cluster.nodes.entries()) {
    const connection = await amqp.connect(node.amqpUrl);
    try {
      const ch = await connection.createConfirmChannel();
      if (i === 0) {
        await ch.assertQueue('cl-quorum', { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': cluster.nodes.length } });
        for (let m = 0; m < counts.quorum; m += 1) ch.sendToQueue('cl-quorum', randomBytes(size), { persistent: true });
        expected['cl-quorum'] = counts.quorum;
      }
      const classic = `cl-classic-${i + 1}`;
      await ch.assertQueue(classic, { durable: true });
      for (let m = 0; m < counts.classicPerNode; m += 1) ch.sendToQueue(classic, randomBytes(size), { persistent: true });
      expected[classic] = counts.classicPerNode;
      await ch.waitForConfirms();
    } finally {
      await connection.close();
    }
  }
  return expected;
}

// Each queue's home (the node a classic queue lives on, a quorum queue's
// leader) from the management API, and the quorum members online.
export async function queuePlacement(node: IsolatedRabbitNode): Promise<Array<{ name: string; type: string; node: string; leader: string; members: string[]; online: string[] }>> {
  const res = await fetch(`${node.managementUrl}/api/queues?columns=name,type,node,leader,members,online`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
  if (!res.ok) throw new Error(`GET /api/queues on ${node.nodeName} answered ${res.status}`);
  return ((await res.json()) as Array<Record<string, unknown>>).map((q) => ({
    name: String(q.name),
    type: String(q.type),
    node: String(q.node ?? ''),
    leader: typeof q.leader === 'string' ? q.leader : '',
    members: Array.isArray(q.members) ? q.members.map(String).sort() : [],
    online: Array.isArray(q.online) ? q.online.map(String).sort() : [],
  }));
}
