import { randomBytes } from 'node:crypto';
import { step } from './progress';
import { freePort } from './ports';
import { IsolatedRabbitNode } from './rabbitmqNode';

// A real RabbitMQ cluster of isolated nodes on one host: each node its own
// ports, node name and data directory, all sharing one Erlang cookie, joined
// with join_cluster the way an operator does it (stop_app, join_cluster,
// start_app on every node but the first). The machine's own node is never touched.
export class IsolatedRabbitCluster {
  constructor(readonly nodes: IsolatedRabbitNode[]) {}

  static async create(options: { name: string; baseDir: string; size?: number }): Promise<IsolatedRabbitCluster> {
    const cookie = randomBytes(16).toString('hex').toUpperCase();
    const nodes: IsolatedRabbitNode[] = [];
    for (let i = 1; i <= (options.size ?? 3); i += 1) {
      nodes.push(
        new IsolatedRabbitNode({
          name: `${options.name}-${i}`,
          baseDir: options.baseDir,
          amqpPort: await freePort(),
          managementPort: await freePort(),
          distPort: await freePort(),
          cookie,
        }),
      );
    }
    return new IsolatedRabbitCluster(nodes);
  }

  get seed(): IsolatedRabbitNode {
    return this.nodes[0]!;
  }

  async start(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.start()));
    for (const node of this.nodes.slice(1)) {
      step(`joining ${node.nodeName} to ${this.seed.nodeName}`);
      await node.ctl(['stop_app']);
      await node.ctl(['join_cluster', this.seed.nodeName]);
      await node.ctl(['start_app']);
    }
    const members = await this.runningNodes(this.seed);
    const missing = this.nodes.filter((n) => !members.includes(n.nodeName));
    if (missing.length > 0) throw new Error(`cluster did not form: ${missing.map((n) => n.nodeName).join(', ')} not running in it (${members.join(', ')})`);
  }

  // The nodes `node` sees running in its cluster.
  async runningNodes(node: IsolatedRabbitNode): Promise<string[]> {
    const status = JSON.parse(await node.ctl(['cluster_status', '--formatter', 'json'])) as { running_nodes?: string[] };
    return [...(status.running_nodes ?? [])].sort();
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.destroy()));
  }
}
