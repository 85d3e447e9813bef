import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { RabbitvaultConfig } from '../../config/schema';
import type { IsolatedRabbitNode } from '../../scripts/devstack/rabbitmqNode';
import type { BenchStack } from './stack';

function clusterEntry(node: IsolatedRabbitNode) {
  return {
    management: { url: node.managementUrl, username: 'guest', password: 'value:guest' },
    amqp: { url: `amqp://127.0.0.1:${node.options.amqpPort}`, username: 'guest', password: 'value:guest' },
  };
}

// One config for the in-process worker and the CLI: same task queue, same
// local storage, clusters "source" and "target". Written as YAML for the CLI.
export function writeBenchConfig(stack: BenchStack): { config: RabbitvaultConfig; file: string } {
  const raw = {
    temporal: { address: stack.temporalAddress, taskQueue: `bench-${randomBytes(4).toString('hex')}` },
    storage: { default: 'local', targets: { local: { type: 'local', path: path.join(stack.runDir, 'backups') } } },
    clusters: { source: clusterEntry(stack.source), target: clusterEntry(stack.target) },
  };
  const config = RabbitvaultConfig.parse(raw);
  const file = path.join(stack.runDir, 'rabbitvault.yaml');
  writeFileSync(file, stringify(raw));
  return { config, file };
}
