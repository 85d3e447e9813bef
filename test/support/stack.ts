import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { IsolatedRabbitNode } from '../../scripts/devstack/rabbitmqNode';
import { TEST_STACK_ENV, TestStackInfo } from '../../scripts/devstack/testStack';

// The stack `npm test` started (scripts/run-tests.ts). Run tests through
// `npm test [-- files]`, never bare `node --test`, so it exists.
export function testStack(): TestStackInfo {
  const raw = process.env[TEST_STACK_ENV];
  if (!raw) throw new Error(`${TEST_STACK_ENV} is not set: run tests with \`npm test -- <file>\``);
  return TestStackInfo.parse(JSON.parse(raw));
}

// Index 0 and 1: two isolated nodes ("a" and "b") of this test run.
export function testNode(index: 0 | 1): IsolatedRabbitNode {
  const info = testStack().nodes[index];
  if (!info) throw new Error(`test stack has no node ${index}`);
  return new IsolatedRabbitNode(info);
}

export function scratchDir(label: string): string {
  return mkdtempSync(path.join(testStack().runDir, 'work', `${label}-`));
}
