import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LocalNodeHost } from '../lib/nodeAccess/localHost';

// The worker's own host: how a node command's answer comes back.
const host = new LocalNodeHost('local-host-test', { type: 'local', taskQueue: 'unused', rabbitmqctl: 'rabbitmqctl', rabbitmqServer: 'rabbitmq-server', env: {} } as never);

describe('local host commands', () => {
  test('an answer with characters split across pipe reads comes back whole', async () => {
    // 600,000 bytes of three-byte characters: pipe reads of 64 KiB split some
    // of them (a queue name in list_queues output, where a U+FFFD would
    // change the name recorded in a manifest).
    const expected = '€'.repeat(200_000);
    const out = await host.run([process.execPath, '-e', `process.stdout.write('€'.repeat(200000))`]);
    assert.equal(out.includes('\ufffd'), false, 'no replacement character');
    assert.equal(out, expected);
  });
});
