import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';

const root = path.resolve(__dirname, '..');

// The lint rules are our guard against Temporal's two silent failure modes;
// prove they fire on real files in the folders they protect.
describe('lint rules', () => {
  // One linter for every probe: it keeps its TypeScript project between files.
  const eslint = new ESLint({ cwd: root });
  // A probe lives in the folder it tests for a moment. The worker build, which
  // the other test lane may run meanwhile, skips the lint-probe- prefix.
  async function withProbe<T>(folder: string, code: string, use: (file: string) => Promise<T>): Promise<T> {
    const dir = mkdtempSync(path.join(root, folder, 'lint-probe-'));
    const file = path.join(dir, 'probe.ts');
    writeFileSync(file, code);
    try {
      return await use(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const lint = (folder: string, code: string) =>
    withProbe(folder, code, async (file) => {
      const [result] = await eslint.lintFiles([file]);
      return result?.messages.map((m) => `${m.ruleId}: ${m.message}`) ?? [];
    });

  test('a probe is never part of the worker build (CI: a build in the other lane failed on a probe deleted under it)', async () => {
    const files = await withProbe('lib', 'export const x = 1;\n', async (file) => {
      const listed = execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json'), '--listFilesOnly'], { cwd: root, encoding: 'utf8' });
      return { listed: listed.split('\n').map((l) => path.resolve(l.trim())), probe: file };
    });
    assert.ok(files.listed.some((f) => f.endsWith(path.join('lib', 'clusterConfig.ts'))), 'tsc listed the build\'s sources');
    assert.equal(files.listed.includes(files.probe), false, 'the probe is not compiled');
    assert.equal(files.listed.filter((f) => f.includes(`${path.sep}lint-probe-`)).length, 0);
  });

  test('a Node built-in in workflow code is an error', async () => {
    const messages = await lint('workflows', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n");
    assert.ok(messages.some((m) => m.startsWith('no-restricted-imports') && m.includes('deterministic')), messages.join('\n'));
  });

  test('a floating promise is an error', async () => {
    const messages = await lint('activities', 'export async function f(): Promise<void> {}\nexport function g(): void {\n  f();\n}\n');
    assert.ok(messages.some((m) => m.startsWith('@typescript-eslint/no-floating-promises')), messages.join('\n'));
  });

  // The layering: imports only run downward (eslint.config.mjs draws the picture).
  test('lib/ importing an activity adapter is an error', async () => {
    const messages = await lint('lib', "import { createActivities } from '../../activities';\nexport const x = createActivities;\n");
    assert.ok(messages.some((m) => m.startsWith('no-restricted-imports') && m.includes('lib/ sits below activities')), messages.join('\n'));
  });

  test('lib/ using the activity context is an error', async () => {
    const messages = await lint('lib', "import { heartbeat } from '@temporalio/activity';\nexport const x = heartbeat;\n");
    assert.ok(messages.some((m) => m.startsWith('no-restricted-imports') && m.includes('no activity context')), messages.join('\n'));
  });

  test('an activity importing workflow code is an error', async () => {
    const messages = await lint('activities', "import { backupDefinitions } from '../../workflows';\nexport const x = backupDefinitions;\n");
    assert.ok(messages.some((m) => m.startsWith('no-restricted-imports') && m.includes('Activities sit below')), messages.join('\n'));
  });

  test('workflow code may import activity types, not activity code', async () => {
    const typeOnly = await lint('workflows', "import type { Activities } from '../../activities';\nexport type X = Activities;\n");
    assert.deepEqual(typeOnly, []);
    const value = await lint('workflows', "import { createActivities } from '../../activities';\nexport const x = createActivities;\n");
    assert.ok(value.some((m) => m.startsWith('no-restricted-imports') && m.includes('types only')), value.join('\n'));
  });

  test("a workflow importing another workflow's file is an error", async () => {
    const file = path.join(root, 'workflows', `lintProbe${process.pid}.ts`);
    writeFileSync(file, "import { backupDefinitions } from './backupDefinitions';\nexport const x = backupDefinitions;\n");
    try {
      const [result] = await eslint.lintFiles([file]);
      const messages = result?.messages.map((m) => `${m.ruleId}: ${m.message}`) ?? [];
      assert.ok(messages.some((m) => m.startsWith('no-restricted-imports') && m.includes("another workflow's file")), messages.join('\n'));
    } finally {
      rmSync(file, { force: true });
    }
  });

  test('the CLI importing the dev stack is an error (the image ships no scripts/)', async () => {
    const messages = await lint('cli', "import { TEST_STACK_ENV } from '../../scripts/devstack/testStack';\nexport const x = TEST_STACK_ENV;\n");
    assert.ok(messages.some((m) => m.startsWith('no-restricted-imports') && m.includes('without scripts/')), messages.join('\n'));
  });

  test('the same built-in outside workflow code is fine', async () => {
    const messages = await lint('activities', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n");
    assert.deepEqual(messages, []);
  });
});
