// Builds the production worker into dist/: the TypeScript compiled by tsc, and
// the workflow code bundled once (the worker would otherwise run webpack at every
// start, in its own process). Plain Node without tsx's loader and without the
// bundler keeps the worker's memory down (bench/messages.bench.ts measures it).
// A warm run only compares modification times.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = path.join(root, 'dist');
const stamp = path.join(dist, '.built');
export const BUNDLE = path.join(dist, 'workflow-bundle.js');
const SOURCES = ['contracts', 'workflows', 'activities', 'lib', 'common', 'config', 'workers'];
const INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

const say = (line) => process.stderr.write(`[rabbitvault] ${line}\n`);

function newestInput() {
  let newest = 0;
  const visit = (p) => {
    // The lint tests' probe files come and go while other tests build (tsconfig.build.json excludes them too).
    if (path.basename(p).startsWith('lint-probe-')) return;
    const s = statSync(p, { throwIfNoEntry: false });
    if (!s) return;
    if (s.isDirectory()) for (const entry of readdirSync(p)) visit(path.join(p, entry));
    else if (p.endsWith('.ts')) newest = Math.max(newest, s.mtimeMs);
  };
  for (const dir of SOURCES) if (existsSync(path.join(root, dir))) visit(path.join(root, dir));
  for (const file of INPUTS) newest = Math.max(newest, statSync(path.join(root, file)).mtimeMs);
  return newest;
}

export function workerBuildIsFresh() {
  return existsSync(stamp) && existsSync(BUNDLE) && statSync(stamp).mtimeMs >= newestInput();
}

export async function buildWorker() {
  if (workerBuildIsFresh()) return;
  const started = Date.now();
  say('compiling the worker into dist/ (tsc; first run or sources changed)');
  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error('tsc failed (see above): fix the type errors, or run `npm run typecheck`');
  say('bundling the workflow code (dist/workflow-bundle.js)');
  const require = createRequire(path.join(root, 'package.json'));
  const { bundleWorkflowCode } = require('@temporalio/worker');
  const quiet = { trace() {}, debug() {}, info() {}, log() {}, warn: (m) => say(`bundler: ${m}`), error: (m) => say(`bundler: ${m}`) };
  const { code } = await bundleWorkflowCode({ workflowsPath: path.join(dist, 'workflows', 'index.js'), logger: quiet });
  mkdirSync(dist, { recursive: true });
  // Written aside and renamed: a worker starting meanwhile never reads half a bundle.
  writeFileSync(`${BUNDLE}.tmp`, code);
  renameSync(`${BUNDLE}.tmp`, BUNDLE);
  // Dated at the build's start: a source saved while it ran makes the next run rebuild.
  writeFileSync(stamp, `${new Date(started).toISOString()}\n`);
  utimesSync(stamp, started / 1000, started / 1000);
  say(`worker built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildWorker().catch((error) => {
    process.stderr.write(`rabbitvault: building the worker failed: ${error.message}\n`);
    process.exit(1);
  });
}
