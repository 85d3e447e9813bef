// `npm test`: lint, type-check, start the real dev stack (Temporal dev server,
// MinIO, a Kubernetes API server with kwok, two isolated RabbitMQ nodes per
// lane), run every test file against it in lanes side by side, tear it down.
// RABBITVAULT_TEST_LANES sets the number of lanes (default 2).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { ensureDebianPackage } from './devstack/debianPackages';
import { ensureGoTool, MINIO, TEMPORAL_CLI } from './devstack/goTools';
import { ensureKubernetesBinaries, startKubernetesApiServer } from './devstack/kubernetes';
import { ensureKwok, startKwok } from './devstack/kwok';
import { startMinio } from './devstack/minio';
import { freePort } from './devstack/ports';
import { SetupError, step } from './devstack/progress';
import { IsolatedRabbitNode } from './devstack/rabbitmqNode';
import { claimRunDir, RUN_DIR_PREFIX, sweepStaleTestRuns } from './devstack/staleRuns';
import { startTemporalDevServer } from './devstack/temporal';
import { runInLanes, summary } from './devstack/testLanes';
import { type TestStackInfo } from './devstack/testStack';

const root = path.resolve(__dirname, '..');

function runStep(title: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  step(title);
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

function testFiles(selected: string[]): string[] {
  if (selected.length > 0) return selected.map((f) => path.resolve(f));
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.test.ts') ? [path.join(dir, e.name)] : [],
    );
  return walk(path.join(root, 'test')).sort();
}

async function main(): Promise<number> {
  const selected = process.argv.slice(2);
  if (selected.length === 0) {
    const bin = (name: string) => path.join(root, 'node_modules', '.bin', name);
    if ((await runStep('lint (eslint)', bin('eslint'), ['.'])) !== 0) return 1;
    if ((await runStep('type-check (tsc)', bin('tsc'), ['--noEmit', '-p', '.'])) !== 0) return 1;
    // Tests that kill and restart a worker process run the production build (dist/).
    if ((await runStep('production worker build (dist/, reused when fresh)', process.execPath, [path.join(root, 'scripts', 'setup', 'build-worker.mjs')])) !== 0) return 1;
  }
  await ensureGoTool(TEMPORAL_CLI);
  await ensureGoTool(MINIO);
  await ensureKubernetesBinaries();
  await ensureKwok();
  // Data-directory backups: restic (Method 5) and zstd (the archive compressor), from Debian.
  await ensureDebianPackage('restic', 'restic');
  await ensureDebianPackage('zstd', 'zstd');

  sweepStaleTestRuns();
  const runDir = mkdtempSync(path.join(os.tmpdir(), RUN_DIR_PREFIX));
  claimRunDir(runDir);
  const stops: Array<() => Promise<void>> = [];
  const teardown = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(runDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void teardown().then(() => process.exit(130)));
  try {
    const files = testFiles(selected);
    const laneCount = Math.max(1, Math.min(lanesWanted(), files.length));
    const lanes = Array.from({ length: laneCount }, (_, i) => ({
      number: i + 1,
      temporalNamespace: i === 0 ? 'default' : `lane-${i + 1}`,
      bucket: i === 0 ? 'rabbitvault-test' : `rabbitvault-test-lane-${i + 1}`,
    }));
    const temporalPort = await freePort();
    // Ports first: kwok forwards every pod's management port to lane 1's node a.
    const nodeOptions = await Promise.all(
      lanes.flatMap((lane) => ['a', 'b'].map((letter) => (lane.number === 1 ? letter : `${letter}${lane.number}`))).map(async (suffix) => ({
        name: `rv-test-${suffix}-${process.pid}`,
        baseDir: path.join(runDir, 'rabbitmq'),
        amqpPort: await freePort(),
        managementPort: await freePort(),
        distPort: await freePort(),
      })),
    );
    const [temporal, minio, kubernetes] = await Promise.all([
      startTemporalDevServer({ port: temporalPort, logFile: path.join(runDir, 'temporal.log'), namespaces: lanes.map((l) => l.temporalNamespace) }),
      startMinio({ port: await freePort(), dataDir: path.join(runDir, 'minio'), logFile: path.join(runDir, 'minio.log') }),
      startKubernetesApiServer({ dir: path.join(runDir, 'kubernetes'), etcdPort: await freePort(), etcdPeerPort: await freePort(), apiPort: await freePort() }),
    ]);
    stops.push(temporal.stop, minio.stop, kubernetes.stop);
    const kwok = await startKwok({
      dir: path.join(runDir, 'kubernetes'),
      kubeconfig: kubernetes.kubeconfig,
      port: await freePort(),
      certFile: kubernetes.certFile,
      keyFile: kubernetes.keyFile,
      portForwards: [{ port: 15672, target: nodeOptions[0]!.managementPort }],
    });
    stops.push(kwok.stop);
    const nodes = await Promise.all(
      nodeOptions.map(async (options) => {
        const node = new IsolatedRabbitNode(options);
        stops.push(() => node.stop());
        await node.start();
        return node;
      }),
    );
    step('bundling workflow code once for every test worker');
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietLogger });
    const workflowBundlePath = path.join(runDir, 'workflow-bundle.js');
    writeFileSync(workflowBundlePath, code);
    const infos: TestStackInfo[] = lanes.map((lane, i) => ({
      runDir,
      temporalAddress: temporal.address,
      workflowBundlePath,
      minio: { endpoint: minio.endpoint, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
      nodes: nodes.slice(2 * i, 2 * i + 2).map((n) => n.options),
      kubernetes: { server: kubernetes.server, kubeconfig: kubernetes.kubeconfig, node: kwok.node },
      lane,
    }));
    mkdirSync(path.join(runDir, 'work'), { recursive: true });
    step(`running ${files.length} test file(s) in ${laneCount} lane(s)`);
    const started = Date.now();
    const outcomes = await runInLanes({
      root,
      files,
      lanes: infos,
      // The SDK's Node 22 notice would repeat in every test process; README states it once.
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    const { text, ok } = summary(outcomes, (Date.now() - started) / 1000);
    process.stdout.write(text);
    return ok && outcomes.length === files.length ? 0 : 1;
  } finally {
    await teardown();
  }
}

function lanesWanted(): number {
  const raw = process.env.RABBITVAULT_TEST_LANES ?? '2';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 4) throw new SetupError(`RABBITVAULT_TEST_LANES=${raw} is not a whole number from 1 to 4: unset it for the default of 2`);
  return n;
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => step(`bundler: ${m}`),
  error: (m: string) => step(`bundler: ${m}`),
};

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`rabbitvault: ${error instanceof SetupError ? error.message : String((error as Error)?.stack ?? error)}\n`);
    process.exit(1);
  },
);
