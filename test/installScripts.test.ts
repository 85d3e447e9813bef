// A newcomer's first screen: npm 11 blocks dependency install scripts and
// warns about each one package.json has not decided on. Every such package is
// decided in package.json's allowScripts, and each one we deny is shown to
// work without its script (each script is only a fallback for a platform
// binary that npm already installed as an optional dependency).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';

const root = path.resolve(__dirname, '..');
const allowScripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> }).allowScripts ?? {};

void describe('dependency install scripts (npm ci prints no warnings of ours)', () => {
  void it('npm finds no package whose install script package.json has not decided on', () => {
    const ls = spawnSync('npm', ['install-scripts', 'ls'], { cwd: root, encoding: 'utf8' });
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, /No packages with unreviewed install scripts/, ls.stdout);
  });

  void it('esbuild (tsx) runs its platform binary without its postinstall', async () => {
    assert.equal(allowScripts.esbuild, false);
    const esbuild = (await import('esbuild')) as typeof import('esbuild');
    assert.match(esbuild.transformSync('const n: number = 1;', { loader: 'ts' }).code, /const n = 1;/);
  });

  void it('@swc/core (the workflow bundler) loads its native binding without its postinstall', async () => {
    assert.equal(allowScripts['@swc/core'], false);
    const swc = (await import('@swc/core')) as typeof import('@swc/core');
    assert.match(swc.transformSync('const n: number = 1;', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }).code, /const n = 1;/);
  });

  void it('protobufjs (Temporal\'s wire format) works without its postinstall, which it does not even ship', () => {
    assert.equal(allowScripts.protobufjs, false);
    const Ping = new protobuf.Type('Ping').add(new protobuf.Field('id', 1, 'uint32'));
    new protobuf.Root().define('t').add(Ping);
    assert.deepEqual(Ping.toObject(Ping.decode(Ping.encode(Ping.create({ id: 7 })).finish())), { id: 7 });
  });
});
