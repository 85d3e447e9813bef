import { countDefinitions, parseDefinitions, type DefinitionsCounts } from '../../lib/definitions/model';
import { step } from '../../scripts/devstack/progress';
import type { IsolatedRabbitNode } from '../../scripts/devstack/rabbitmqNode';
import { getDefinitions, postDefinitions } from './bareHttp';
import { generateDefinitions, splitByVhost, type DefinitionsShape, BENCH_SHAPE } from './generatedDefinitions';
import { timed } from './timing';

export interface SeededSource {
  // GET /api/definitions of the seeded node: what every backup should contain.
  exported: Buffer;
  counts: DefinitionsCounts;
  rabbitmqVersion: string | null;
  importMs: number;
}

// Imports in parts so a long import shows progress; each part is a valid definitions file.
export async function seedSource(node: IsolatedRabbitNode, shape: DefinitionsShape = BENCH_SHAPE, parts = 10): Promise<SeededSource> {
  const chunks = splitByVhost(generateDefinitions(shape), parts);
  step(`bench: importing ${shape.queues} queues, ${shape.bindings} bindings, ${shape.vhosts} vhosts into ${node.nodeName} in ${chunks.length} parts`);
  let queues = 0;
  let importMs = 0;
  for (const [i, chunk] of chunks.entries()) {
    importMs += await timed(() => postDefinitions(node, JSON.stringify(chunk)));
    queues += chunk.queues.length;
    step(`bench:   part ${i + 1}/${chunks.length}: ${queues}/${shape.queues} queues imported (${(importMs / 1000).toFixed(1)} s)`);
  }
  const exported = await getDefinitions(node);
  const defs = parseDefinitions(exported, `definitions of ${node.nodeName}`, true);
  const counts = countDefinitions(defs);
  if (counts.queues < shape.queues || counts.bindings < shape.bindings) {
    throw new Error(`seeding ${node.nodeName} fell short: ${counts.queues} queues, ${counts.bindings} bindings exported`);
  }
  const version = defs.rabbitmq_version ?? defs.rabbit_version;
  return { exported, counts, rabbitmqVersion: typeof version === 'string' ? version : null, importMs };
}
