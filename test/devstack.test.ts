import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { freePort } from '../scripts/devstack/ports';
import { startTemporalDevServer } from '../scripts/devstack/temporal';
import { scratchDir } from './support/stack';

const run = promisify(execFile);

// What another process (the Temporal dev server choosing its internal ports,
// the other lane's tests) gets from bind(0), many times over.
const otherProcessBinds = `
const net = require('node:net');
(async () => {
  const ports = [];
  for (let i = 0; i < 10000; i++) {
    ports.push(await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    }));
  }
  process.stdout.write(JSON.stringify(ports));
})();`;

test('a free port handed to a test is never given to another process by bind(0), and its owner can still listen on it', async () => {
  const handed = new Set<number>();
  for (let i = 0; i < 20; i++) handed.add(await freePort());
  assert.equal(handed.size, 20);
  const { stdout } = await run(process.execPath, ['-e', otherProcessBinds], { maxBuffer: 1 << 20 });
  const taken = (JSON.parse(stdout) as number[]).filter((p) => handed.has(p));
  assert.deepEqual(taken, [], 'bind(0) in another process returned a port already handed out');
  for (const port of handed) {
    await new Promise<void>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
    });
  }
});

test('a Temporal dev server that exits before it is ready says why in the one line', async () => {
  const dir = scratchDir('devstack');
  // A database file in a directory that does not exist: the server cannot open it.
  const dbFile = path.join(dir, 'missing', 'temporal.db');
  await assert.rejects(
    startTemporalDevServer({ port: await freePort(), dbFile, logFile: path.join(dir, 'temporal.log') }),
    (error: Error) => {
      assert.match(error.message, /^the Temporal dev server exited before it was ready: .+ \(log: .+temporal\.log\)$/);
      assert.doesNotMatch(error.message, /it printed nothing/);
      return true;
    },
  );
});
