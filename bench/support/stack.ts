import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/devstack/ports';
import { step } from '../../scripts/devstack/progress';
import { IsolatedRabbitNode } from '../../scripts/devstack/rabbitmqNode';
import { startTemporalDevServer, type RunningTemporal } from '../../scripts/devstack/temporal';

export interface BenchStack {
  runDir: string;
  temporalAddress: string;
  source: IsolatedRabbitNode;
  target: IsolatedRabbitNode;
  // Safe to call more than once and after a partial start.
  stop(): Promise<void>;
}

async function isolatedNode(name: string, baseDir: string): Promise<IsolatedRabbitNode> {
  return new IsolatedRabbitNode({
    name: `${name}-${process.pid}`,
    baseDir,
    amqpPort: await freePort(),
    managementPort: await freePort(),
    distPort: await freePort(),
  });
}

// A stack of the bench's own in a temp dir: in-memory Temporal dev server and
// two isolated RabbitMQ nodes on free ports. Nothing shared is touched.
export async function startBenchStack(): Promise<BenchStack> {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-bench-'));
  const stops: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      step('bench: tearing the stack down');
      for (const s of stops.reverse()) await s().catch(() => undefined);
      rmSync(runDir, { recursive: true, force: true });
      process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    })());
  // Ctrl-C mid-run still stops the detached RabbitMQ nodes.
  const interrupted = () => void stop().then(() => process.exit(130));
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    const baseDir = path.join(runDir, 'rabbitmq');
    const source = await isolatedNode('rv-bench-source', baseDir);
    const target = await isolatedNode('rv-bench-target', baseDir);
    stops.push(() => source.stop(), () => target.stop());
    // allSettled: a failed start must not leave another part running unrecorded.
    let temporal: RunningTemporal | undefined;
    const started = await Promise.allSettled([
      startTemporalDevServer({ port: await freePort(), logFile: path.join(runDir, 'temporal.log') }).then((t) => {
        temporal = t;
        stops.push(t.stop);
      }),
      source.start(),
      target.start(),
    ]);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed || !temporal) throw failed?.reason ?? new Error('Temporal dev server did not start');
    return { runDir, temporalAddress: (temporal as RunningTemporal).address, source, target, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
