// What status and the metrics believe of a replication report read back from
// storage (untrusted), and how the last transfer is dated across checks. No broker.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { replicationStatusKey } from '../common/backupSetLayout';
import type { ReplicationStatusReport } from '../lib/replication/replicationStatus';
import { withLastTransfer } from '../lib/replication/transfers';
import { replicationReport } from '../lib/reports/newestReports';
import { judgeReplication } from '../lib/status/backupHealth';
import { LocalDirectoryStorage } from '../lib/storage/local';

const root = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-replication-reports-'));
after(() => rmSync(root, { recursive: true, force: true }));
const storage = new LocalDirectoryStorage(root);
const now = new Date('2026-12-03T12:00:00Z');

function report(overrides: Partial<ReplicationStatusReport> = {}): ReplicationStatusReport {
  return {
    source: 'src',
    destination: 'dst',
    checkedAt: '2026-12-03T11:59:00.000Z',
    up: true,
    unreachable: [],
    links: [{ kind: 'shovel', vhost: '/', name: 'rabbitvault:src:dst:orders', queue: 'orders', state: 'running', lagMessages: 0, transferred: 10 }],
    ...overrides,
  };
}
const store = (body: unknown) => storage.put(replicationStatusKey('src', 'dst'), Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
async function refusal(): Promise<string> {
  try {
    await replicationReport(storage, 'src', 'dst', now);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the report to be refused');
}

describe('replication reports read from storage', () => {
  test('a genuine report is read back as written', async () => {
    await store(report());
    assert.deepEqual(await replicationReport(storage, 'src', 'dst', now), report());
  });

  test('forged reports are refused with the reason, never believed', async () => {
    await store(report({ source: 'other' }));
    assert.match(await refusal(), /is about other -> dst/);
    await store(report({ checkedAt: '2027-01-01T00:00:00.000Z' }));
    assert.match(await refusal(), /dated 2027-01-01T00:00:00.000Z, in the future/, 'a report dated ahead would silence the staleness alert');
    await store(report({ links: [{ ...report().links[0]!, lastTransferAt: '2030-01-01T00:00:00.000Z' }] }));
    assert.match(await refusal(), /in the future/);
    await store(report({ links: [{ ...report().links[0]!, lagMessages: -5 }] }));
    assert.match(await refusal(), /links\.0\.lagMessages/);
    await store('{"source": "src", ');
    assert.match(await refusal(), /is not a replication report: .*JSON/);
    await store(`{"source":"src","destination":"dst","pad":"${'x'.repeat(5 * 1024 * 1024)}"}`);
    assert.match(await refusal(), /larger than/);
  });

  test('a report claiming up while a link is terminated is judged down', () => {
    const claimed = report({ links: [{ ...report().links[0]!, state: 'terminated' }] });
    const judged = judgeReplication({ source: 'src', destination: 'dst' }, claimed, now, 600);
    assert.equal(judged.up, false);
    assert.match(judged.problems[0]!, /replication down: shovel orders: terminated/);
  });
});

describe('the last transfer across recorded checks', () => {
  test('dated at the check where the consumed count moved, kept while it stands still, unknown at first', () => {
    const first = withLastTransfer(report({ checkedAt: '2026-12-03T10:00:00.000Z' }), undefined);
    assert.equal(first.links[0]!.lastTransferAt, undefined, 'the first check cannot know');
    const moved = withLastTransfer(report({ checkedAt: '2026-12-03T10:05:00.000Z', links: [{ ...report().links[0]!, transferred: 25 }] }), first);
    assert.equal(moved.links[0]!.lastTransferAt, '2026-12-03T10:05:00.000Z');
    const still = withLastTransfer(report({ checkedAt: '2026-12-03T10:10:00.000Z', links: [{ ...report().links[0]!, transferred: 25, lagMessages: 7 }] }), moved);
    assert.equal(still.links[0]!.lastTransferAt, '2026-12-03T10:05:00.000Z', 'nothing moved since: the time stays');
    const otherLink = withLastTransfer(report({ links: [{ ...report().links[0]!, queue: 'invoices', transferred: 99 }] }), still);
    assert.equal(otherLink.links[0]!.lastTransferAt, undefined, 'another link is not this one');
  });
});
