// The compose stack and its worker config, checked without a Docker engine:
// docker-compose 1.29 validates and resolves a file on its own.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseConfigFile } from '../config/load';
import { ensureDebianPackage } from '../scripts/devstack/debianPackages';

const root = path.resolve(__dirname, '..');
const composeFile = path.join(root, 'docker-compose.yml');
const workerConfigFile = path.join(root, 'deploy', 'compose', 'rabbitvault.yaml');

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | null>;
  volumes?: Array<string | { type?: string; source?: string; target?: string; read_only?: boolean }>;
  healthcheck?: unknown;
  depends_on?: Record<string, { condition?: string }>;
}

interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

let dockerCompose = '';
let scratch = '';

function run(command: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // Interpolation must use the file's defaults, not whatever the shell exports.
    const env = { ...process.env };
    for (const name of ['RABBITMQ_PASSWORD', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'COMPOSE_FILE', 'COMPOSE_PROJECT_NAME']) delete env[name];
    const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function composeConfig(file: string, ...extra: string[]): Promise<RunResult> {
  return run(dockerCompose, ['-f', file, '--project-directory', root, 'config', ...extra]);
}

// Short ("src:dst:ro") or long syntax, as `config` may print either.
function mounts(service: ComposeService): Mount[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source ?? '', target: v.target ?? '', readOnly: v.read_only === true };
    const [source = '', target = '', mode = ''] = v.split(':');
    return { source, target, readOnly: mode.split(',').includes('ro') };
  });
}

function envReferences(value: unknown): string[] {
  if (typeof value === 'string') return /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(value)?.slice(1) ?? [];
  if (Array.isArray(value)) return value.flatMap(envReferences);
  if (value && typeof value === 'object') return Object.values(value).flatMap(envReferences);
  return [];
}

function asText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(' ') : (value ?? '');
}

void describe('docker-compose.yml', () => {
  let services: Record<string, ComposeService> = {};

  before(async () => {
    dockerCompose = await ensureDebianPackage('docker-compose', 'docker-compose');
    scratch = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-compose-'));
    const effective = await composeConfig(composeFile);
    assert.equal(effective.code, 0, effective.stderr);
    services = (parse(effective.stdout) as { services: Record<string, ComposeService> }).services;
  });

  after(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  void it('passes docker-compose config -q with nothing on stderr', async () => {
    const result = await composeConfig(composeFile, '-q');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr.trim(), '', 'warnings or errors on stderr');
  });

  void it('is rejected by the validator once a key is misspelled', async () => {
    const original = readFileSync(composeFile, 'utf8');
    const control = path.join(scratch, 'control.yml');
    writeFileSync(control, original);
    const copyResult = await composeConfig(control, '-q');
    assert.equal(copyResult.code, 0, `the unchanged copy must pass first: ${copyResult.stderr}`);

    const broken = path.join(scratch, 'broken.yml');
    assert.match(original, /^ {4}healthcheck:$/m);
    writeFileSync(broken, original.replace(/^ {4}healthcheck:$/m, '    healthchek:'));
    const result = await composeConfig(broken, '-q');
    assert.notEqual(result.code, 0, 'a misspelled key must fail validation');
    assert.match(result.stderr, /healthchek/);
  });

  void it('defines the stack: rabbitmq, temporal, minio (+ bucket init) and the worker', () => {
    for (const name of ['rabbitmq', 'temporal', 'minio', 'minio-init', 'worker']) assert.ok(services[name], `service ${name}`);
    assert.equal(services.rabbitmq?.image, 'rabbitmq:3.13-management');
    assert.ok(services.worker?.build, 'the worker is built from the repo');
  });

  void it('starts the worker only after the services it needs are healthy', () => {
    const dependsOn = services.worker?.depends_on ?? {};
    for (const [name, service] of Object.entries(services)) {
      if (name === 'worker') continue;
      const expected = service.healthcheck ? 'service_healthy' : 'service_completed_successfully';
      assert.equal(dependsOn[name]?.condition, expected, `worker depends_on ${name}`);
    }
  });

  void it('mounts the compose config read-only where RABBITVAULT_CONFIG points', () => {
    const worker = services.worker!;
    const configPath = worker.environment?.RABBITVAULT_CONFIG;
    assert.equal(configPath, '/etc/rabbitvault/rabbitvault.yaml');
    const mount = mounts(worker).find((m) => m.target === configPath);
    assert.ok(mount, `nothing mounted at ${configPath}`);
    assert.equal(path.resolve(root, mount.source), workerConfigFile);
    assert.ok(mount.readOnly, 'the config mount must be read-only');
  });

  void it('gives the worker every env: secret its config references', () => {
    const config = parseConfigFile(workerConfigFile);
    const references = [...new Set(envReferences(config))];
    assert.deepEqual(references.sort(), ['RABBITMQ_PASSWORD', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']);
    const environment = services.worker?.environment ?? {};
    for (const name of references) assert.ok(environment[name], `worker environment lacks ${name}`);
  });

  void it('points the config at the services and credentials compose sets up', () => {
    const config = parseConfigFile(workerConfigFile);
    const worker = services.worker?.environment ?? {};
    const rabbitmq = services.rabbitmq?.environment ?? {};
    const minio = services.minio?.environment ?? {};

    assert.equal(config.temporal.address, 'temporal:7233');
    assert.equal(config.storage.default, 'minio');
    const s3 = config.storage.targets.minio;
    assert.ok(s3?.type === 's3');
    assert.equal(s3.endpoint, 'http://minio:9000');
    assert.equal(s3.forcePathStyle, true);
    assert.match(asText(services['minio-init']?.command), new RegExp(`mc mb \\S* ?\\S*/${s3.bucket}\\b`));
    assert.equal(worker.S3_ACCESS_KEY_ID, minio.MINIO_ROOT_USER);
    assert.equal(worker.S3_SECRET_ACCESS_KEY, minio.MINIO_ROOT_PASSWORD);

    const local = config.storage.targets.local;
    assert.ok(local?.type === 'local');
    assert.ok(mounts(services.worker!).some((m) => m.target === local.path && !m.readOnly), `no writable volume at ${local.path}`);

    const cluster = config.clusters.compose;
    assert.ok(cluster);
    assert.equal(new URL(String(cluster.management.url)).host, 'rabbitmq:15672');
    assert.equal(new URL(cluster.amqp?.url ?? '').host, 'rabbitmq:5672');
    assert.equal(cluster.management.username, rabbitmq.RABBITMQ_DEFAULT_USER);
    assert.equal(worker.RABBITMQ_PASSWORD, rabbitmq.RABBITMQ_DEFAULT_PASS);
  });
});

void describe('Dockerfile', () => {
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  // COPY lines from the build context (not --from=another stage): sources and destination.
  const contextCopies = [...dockerfile.matchAll(/^COPY\s+(?!--from)(.+)$/gm)].map((m) => (m[1] ?? '').split(/\s+/));
  const copied = contextCopies.flatMap((parts) => parts.slice(0, -1));
  const buildStage = dockerfile.slice(0, dockerfile.indexOf('\nFROM ', dockerfile.indexOf('AS build')));

  void it('copies only sources that exist and the build context keeps', () => {
    assert.ok(copied.length > 0);
    for (const source of copied) {
      assert.ok(existsSync(path.join(root, source)), `COPY ${source}: not in the repo`);
      assert.ok(!ignored.includes(source.split('/')[0] ?? ''), `COPY ${source}: excluded by .dockerignore`);
    }
    assert.ok(ignored.includes('dist'), 'a local dist/ must not leak into the image: the build stage makes its own');
  });

  void it('runs the compiled worker from a build stage as a non-root user', () => {
    assert.match(dockerfile, /^FROM node:20-bookworm-slim AS build$/m);
    assert.match(buildStage, /^RUN node scripts\/setup\/build-worker\.mjs$/m);
    assert.match(dockerfile, /^COPY --from=build \/app\/dist \.\/dist$/m);
    assert.match(dockerfile.slice(buildStage.length), /npm ci --omit=dev/);
    assert.match(dockerfile, /^USER (?!root\b|0\b)\S+$/m);
    assert.match(dockerfile, /^CMD \["workers\/worker\.sh"\]$/m);
  });

  // The image's CLI runs from what the final stage copies, and that holds no dev stack.
  void it("the final stage's sources run the operator CLI, without scripts/", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-image-final-'));
    try {
      const finalStage = dockerfile.slice(buildStage.length);
      const stageCopies = [...finalStage.matchAll(/^COPY\s+(?!--from)(.+)$/gm)].map((m) => (m[1] ?? '').split(/\s+/));
      for (const parts of stageCopies) {
        const destination = parts.at(-1)!;
        for (const source of parts.slice(0, -1)) {
          assert.ok(!source.startsWith('scripts') && !source.startsWith('test') && !source.startsWith('bench'), `the image copies ${source}`);
          const to = destination.endsWith('/') ? path.join(dir, destination, path.basename(source)) : path.join(dir, destination);
          cpSync(path.join(root, source), to, { recursive: true });
        }
      }
      symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
      const config = path.join(dir, 'rabbitvault.yaml');
      cpSync(path.join(root, 'rabbitvault.example.yaml'), config);
      const check = spawnSync(path.join(dir, 'cli', 'rabbitvault.sh'), ['config', 'check', '--config', config], { cwd: dir, encoding: 'utf8' });
      assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
      assert.ok(existsSync(path.join(dir, 'workers', 'worker.sh')), 'workers/worker.sh (the CMD)');
      // `rabbitvault worker` in the image runs the prebuilt dist/ (stand-in here) without a build step.
      mkdirSync(path.join(dir, 'dist', 'workers'), { recursive: true });
      writeFileSync(path.join(dir, 'dist', 'workers', 'main.js'), "console.log('prebuilt worker ran with ' + process.argv.slice(2).join(' '));\n");
      const worker = spawnSync(path.join(dir, 'cli', 'rabbitvault.sh'), ['worker', '--node-queue', 'q1'], { cwd: dir, encoding: 'utf8' });
      assert.equal(worker.status, 0, `${worker.stdout}${worker.stderr}`);
      assert.match(worker.stdout, /prebuilt worker ran with --node-queue q1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // What the build stage copies is enough to build: its COPY lines replayed into
  // an empty directory (dependencies linked, not installed), then its RUN step.
  void it("the build stage's sources compile and bundle on their own", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-image-build-'));
    try {
      const stageCopies = [...buildStage.matchAll(/^COPY\s+(?!--from)(.+)$/gm)].map((m) => (m[1] ?? '').split(/\s+/));
      for (const parts of stageCopies) {
        const destination = parts.at(-1)!;
        for (const source of parts.slice(0, -1)) {
          const to = destination.endsWith('/') ? path.join(dir, destination, path.basename(source)) : path.join(dir, destination);
          cpSync(path.join(root, source), to, { recursive: true });
        }
      }
      symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
      const build = spawnSync(process.execPath, ['scripts/setup/build-worker.mjs'], { cwd: dir, encoding: 'utf8' });
      assert.equal(build.status, 0, build.stderr);
      assert.ok(existsSync(path.join(dir, 'dist', 'workers', 'main.js')), 'dist/workers/main.js');
      assert.ok(existsSync(path.join(dir, 'dist', 'workflow-bundle.js')), 'dist/workflow-bundle.js');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
