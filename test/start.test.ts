import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { RabbitvaultConfig } from '../config/schema';
import { freePort } from '../scripts/devstack/ports';
import { scratchDir } from './support/stack';
import { writeConfigFile } from './support/workerProcess';

const root = path.resolve(__dirname, '..');

function npmStart(configFile: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['start', '--', '--once', '--config', configFile], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('exit', (code) => resolve({ code: code ?? 1, output }));
  });
}

async function startConfig(dir: string, temporalPort: number): Promise<string> {
  // The machine's own RabbitMQ, read only: a definitions export never changes a broker.
  const config = RabbitvaultConfig.parse({
    temporal: { address: `127.0.0.1:${temporalPort}`, webUiUrl: `http://127.0.0.1:${await freePort()}` },
    storage: { default: 'local', targets: { local: { type: 'local', path: path.join(dir, 'backups') } } },
    clusters: { machine: { management: { url: 'http://127.0.0.1:15672', username: 'guest', password: 'value:guest' } } },
    // Not the default 9464: another run on this machine may serve there.
    metrics: { listen: `127.0.0.1:${await freePort()}` },
  });
  return writeConfigFile(config, path.join(dir, 'rabbitvault.yaml'));
}

describe('npm start (the embedded default, on other ports)', () => {
  test('starts Temporal with its Web UI, a worker, backs up the machine RabbitMQ and prints the set', async () => {
    const dir = scratchDir('start');
    const { code, output } = await npmStart(await startConfig(dir, await freePort()));
    assert.equal(code, 0, output);
    assert.match(output, /starting Temporal dev server on 127\.0\.0\.1:\d+ \(Web UI http:\/\/127\.0\.0\.1:\d+\)/);
    const location = /backup set: (.+)/.exec(output)?.[1];
    assert.ok(location, output);
    assert.ok(location.startsWith(path.join(dir, 'backups', 'machine', 'definitions')));
    assert.ok(existsSync(path.join(location, 'manifest.json')));
    assert.ok(existsSync(path.join(location, 'definitions.json')));
  });

  test('a port taken by something else fails with one clear line', async () => {
    const dir = scratchDir('start');
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const { code, output } = await npmStart(await startConfig(dir, port));
      assert.equal(code, 1);
      assert.match(output, new RegExp(`rabbitvault: port ${port} \\(Temporal frontend\\) is in use: stop what listens there or choose another port`));
    } finally {
      blocker.close();
    }
  });
});
