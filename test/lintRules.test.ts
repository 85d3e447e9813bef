import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';

const root = path.resolve(__dirname, '..');

// The lint rules are our guard against Temporal's two silent failure modes;
// prove they fire on real files in the folders they protect.
describe('lint rules', () => {
  async function lint(folder: string, code: string): Promise<string[]> {
    const dir = mkdtempSync(path.join(root, folder, 'lint-probe-'));
    const file = path.join(dir, 'probe.ts');
    writeFileSync(file, code);
    try {
      const [result] = await new ESLint({ cwd: root }).lintFiles([file]);
      return result?.messages.map((m) => `${m.ruleId}: ${m.message}`) ?? [];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('a Node built-in in workflow code is an error', async () => {
    const messages = await lint('workflows', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n");
    assert.ok(messages.some((m) => m.startsWith('no-restricted-imports') && m.includes('deterministic')), messages.join('\n'));
  });

  test('a floating promise is an error', async () => {
    const messages = await lint('activities', 'export async function f(): Promise<void> {}\nexport function g(): void {\n  f();\n}\n');
    assert.ok(messages.some((m) => m.startsWith('@typescript-eslint/no-floating-promises')), messages.join('\n'));
  });

  test('the same built-in outside workflow code is fine', async () => {
    const messages = await lint('activities', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n");
    assert.deepEqual(messages, []);
  });
});
