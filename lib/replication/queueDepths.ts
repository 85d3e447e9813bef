import type { ChannelModel } from 'amqplib';
import type { RabbitvaultConfig } from '../../config/schema';
import { clusterConfig } from '../clusterConfig';
import { connectAmqp } from '../rabbitmq/amqpConnection';

// Exact queue depths over AMQP (a passive declare), where the management API's
// figures lag by a statistics interval: a failover must not call a queue
// drained five seconds before it is. null: no such queue.
export class QueueDepths {
  private readonly connections = new Map<string, Promise<ChannelModel>>();

  constructor(
    private readonly config: RabbitvaultConfig,
    private readonly cluster: string,
  ) {}

  async of(vhost: string, queue: string): Promise<number | null> {
    let connection = this.connections.get(vhost);
    if (!connection) {
      connection = connectAmqp(this.cluster, clusterConfig(this.config, this.cluster), vhost);
      this.connections.set(vhost, connection);
    }
    const channel = await (await connection).createChannel();
    // A missing queue closes the channel with NOT_FOUND: that is the answer, not an error.
    channel.on('error', () => undefined);
    try {
      return (await channel.checkQueue(queue)).messageCount;
    } catch (error) {
      if (/NOT_FOUND/.test((error as Error).message)) return null;
      throw error;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    for (const c of this.connections.values()) await (await c.catch(() => undefined))?.close().catch(() => undefined);
    this.connections.clear();
  }
}
