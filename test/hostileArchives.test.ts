// Issue 10, classes 1 (tar archives) and 3 (restic pointer): what a writer of
// the backup storage can put in a data-directory set is refused before it
// reaches disk, runs a command, or exhausts memory.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { TarGuard, type TarLimits, type TarSummary } from '../lib/archive/tarGuard';
import { readManifest } from '../lib/backupSets/catalog';
import type { ActivityDeps } from '../activities/deps';
import { openNodeTar } from '../lib/dataDirectory/artifactReader';
import { LocalNodeHost } from '../lib/nodeAccess/localHost';
import { Restic } from '../lib/restic/restic';
import { LocalDirectoryStorage } from '../lib/storage/local';
import type { Manifest } from '../common/manifest';
import type { BackupDataDirectoryResult } from '../contracts/dataDirectory';
import { appRunning, dataConfig, fillQueues, startDataHarness, waitForCounts } from './dataDirectory.support';
import * as hostile from './fixtures/hostile/tarArchives';
import { fileClimbs, fileIsOption, notJson, snapshotIdIsOption, type PointerFields } from './fixtures/hostile/resticPointers';
import { failureOf, workflowId } from './support/harness';
import { scratchDir, testNode } from './support/stack';

const a = testNode(0);
const quick = { heartbeatTimeoutSeconds: 5, retry: { initialIntervalSeconds: 0.2, maximumIntervalSeconds: 1, maximumAttempts: 2 } };
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

// The real extraction path: the worker's local host feeding `tar -x` as rabbitNode.tarIn does, as root.
const host = new LocalNodeHost('hostile-test', { type: 'local', taskQueue: 'unused', rabbitmqctl: '/usr/lib/rabbitmq/bin/rabbitmqctl', rabbitmqServer: '/usr/lib/rabbitmq/bin/rabbitmq-server', env: {} } as never);
const tarIn = (dir: string, tar: Readable) => host.streamIn(['tar', '-C', dir, '-xf', '-', '--no-same-owner', '--no-overwrite-dir'], tar);

interface Sandbox {
  root: string;
  outside: string;
}

// root: where tar extracts; outside: a neighbour with one file, which must stay as it is.
function sandbox(label: string): Sandbox {
  const base = scratchDir(label);
  const sb = { root: path.join(base, 'root'), outside: path.join(base, 'outside') };
  mkdirSync(sb.root);
  mkdirSync(sb.outside);
  writeFileSync(path.join(sb.outside, 'keep'), 'untouched');
  return sb;
}

async function extractGuarded(bytes: Buffer, sb: Sandbox, limits: TarLimits = {}): Promise<{ refusal?: string; summary: TarSummary }> {
  const guard = new TarGuard(limits);
  const refusal = await tarIn(sb.root, Readable.from([bytes]).pipe(guard)).then(
    () => undefined,
    (error: Error) => error.message,
  );
  return { refusal, summary: guard.summary };
}

// Everything in the tree a restore must never leave behind, by path.
function hazards(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: Buffer) => {
    for (const name of readdirSync(dir, { encoding: 'buffer' })) {
      const full = Buffer.concat([dir, Buffer.from('/'), name]);
      const shown = full.toString('latin1');
      const st = lstatSync(full);
      if (st.isFIFO()) found.push(`${shown}: FIFO`);
      if (st.isBlockDevice() || st.isCharacterDevice()) found.push(`${shown}: device`);
      if (st.isSocket()) found.push(`${shown}: socket`);
      if (st.mode & 0o7000) found.push(`${shown}: mode ${(st.mode & 0o7777).toString(8)}`);
      if (st.isSymbolicLink()) {
        const target = readlinkSync(full, { encoding: 'buffer' }).toString('latin1');
        const resolved = path.resolve(path.dirname(shown), target);
        if (path.isAbsolute(target) || (resolved !== root && !resolved.startsWith(`${root}/`))) found.push(`${shown}: symlink to ${target}`);
      } else if (st.isDirectory()) walk(full);
    }
  };
  walk(Buffer.from(root));
  return found;
}

function assertOutsideUntouched(sb: Sandbox, label: string): void {
  assert.deepEqual(readdirSync(sb.outside), ['keep'], `${label}: nothing written beside the data directory`);
  assert.equal(readFileSync(path.join(sb.outside, 'keep'), 'utf8'), 'untouched', label);
  assert.deepEqual(readdirSync(path.dirname(sb.root)).sort(), ['outside', 'root'], `${label}: nothing written next to it`);
}

describe('hostile tar archives, guard in front of GNU tar -x as root', () => {
  const refused: Array<[string, (sb: Sandbox) => Buffer, RegExp]> = [
    ['global PAX header hiding a FIFO', () => hostile.globalPaxHidesEntry(), /global PAX header \(type g\)/],
    ['PAX record with a tab after its length', () => hostile.paxTabSeparator(), /PAX record at byte 0: the length is not decimal digits followed by one space/],
    ['PAX path with invalid UTF-8 shifting the next record', () => hostile.paxInvalidUtf8(), /archive entry "hidden-fifo" is a FIFO/],
    ['PAX size "0x0" (Number() says 0)', () => hostile.paxSizeHex(), /archive entry "cover": PAX size "0x0" is not a size/],
    ['size field with trailing garbage (parseInt reads 1024)', () => hostile.sizeFieldTrailingGarbage(), /size field is not an octal number \("00000002000x"\)/],
    ['base-256 size past MAX_SAFE_INTEGER', () => hostile.sizeBase256Huge(), /size field is larger than 9007199254740991/],
    ['FIFO', () => hostile.fifo(), /archive entry "\.\/fifo" is a FIFO/],
    ['world-writable block device', () => hostile.blockDevice(), /archive entry "\.\/disk" is a block device/],
    ['character device', () => hostile.charDevice(), /archive entry "\.\/mem" is a character device/],
    ['sparse file', () => hostile.sparseFile(), /archive entry "\.\/sparse" is a sparse file \(type S\)/],
    ['absolute symlink', (sb) => hostile.absoluteSymlink(sb.outside), /symlink "\.\/escape" -> ".*outside" points to an absolute path/],
    ['symlink climbing out with ".."', () => hostile.symlinkClimbing(), /symlink "\.\/a\/up" -> "\.\.\/\.\.\/outside" escapes the data directory/],
    ['entry written through a symlink to "."', () => hostile.symlinkThroughSymlink(), /archive entry "\.\/here\/up" lies under the symlink "here"/],
    ['symlink with ".." after a name', () => hostile.symlinkInnerDotDot(), /symlink "\.\/t" -> "s\/\.\.\/\.\.\/outside" has "\.\." after a directory name/],
    ['file written through a symlink', () => hostile.fileThroughSymlink(), /archive entry "\.\/d\/file" lies under the symlink "d"/],
    ['hard link to an absolute path', (sb) => hostile.hardLinkOutside(path.join(sb.outside, 'keep')), /hard link "\.\/h" -> ".*outside\/keep" is an absolute path/],
    ['hard link climbing out', () => hostile.hardLinkOutside('../outside/keep'), /hard link "\.\/h" -> "\.\.\/outside\/keep" contains "\.\."/],
    ['hard link to a path the archive never wrote', () => hostile.hardLinkToUnknown(), /hard link "\.\/h" -> "etc\/shadow": the target is not a regular file earlier in the archive/],
    ['".." path', () => hostile.dotDotPath(), /archive entry "\.\.\/outside\/pwned" contains "\.\."/],
    ['absolute path', (sb) => hostile.absolutePath(path.join(sb.outside, 'abs')), /archive entry ".*outside\/abs" is an absolute path/],
    ['1 GiB PAX header', () => hostile.hugePaxHeader(), /a 1073741824-byte metadata entry \(type x, limit 65536\)/],
    ['file over a directory written before', () => hostile.fileOverDirectory(), /archive entry "\.\/msg_stores" would replace the directory written before it/],
    ['entry below a regular file', () => hostile.entryUnderFile(), /archive entry "\.\/f\/inner" lies under the regular file "f"/],
  ];
  for (const [label, build, expected] of refused) {
    test(`refused: ${label}`, async () => {
      const sb = sandbox('hostile-tar');
      const { refusal } = await extractGuarded(build(sb), sb);
      assert.match(refusal ?? 'extracted without a refusal', expected, label);
      assert.deepEqual(hazards(sb.root), [], `${label}: nothing hazardous on disk`);
      assertOutsideUntouched(sb, label);
    });
  }

  test('neutralised: setuid/setgid file and sticky directory land without those bits', async () => {
    const sb = sandbox('hostile-setuid');
    const { refusal, summary } = await extractGuarded(hostile.setuidFile(), sb);
    assert.equal(refusal, undefined);
    assert.equal(lstatSync(path.join(sb.root, 'suid')).mode & 0o7777, 0o755);
    assert.equal(lstatSync(path.join(sb.root, 'sticky')).mode & 0o7777, 0o777);
    assert.deepEqual(hazards(sb.root), []);
    assert.deepEqual(summary, { entries: 3, files: 1, directories: 2, links: 0, fileBytes: 13 });
    assertOutsideUntouched(sb, 'setuid');
  });

  test('a real GNU tar (long and non-ASCII names, PAX, hard link, relative symlink) extracts identically, summary counted', async () => {
    const src = scratchDir('guard-source');
    const long = 'd'.repeat(120);
    mkdirSync(path.join(src, 'a', 'b'), { recursive: true });
    mkdirSync(path.join(src, long));
    writeFileSync(path.join(src, 'a', 'f1'), Buffer.alloc(100_000, 7));
    writeFileSync(path.join(src, 'a', 'b', 'x'), 'hi');
    writeFileSync(path.join(src, long, 'n'.repeat(150)), 'long');
    writeFileSync(path.join(src, 'a', 'é名'), 'x');
    execFileSync('ln', ['-s', '../f1', path.join(src, 'a', 'b', 'l')]);
    execFileSync('ln', [path.join(src, 'a', 'f1'), path.join(src, 'a', 'hard')]);
    for (const format of ['gnu', 'posix']) {
      const sb = sandbox(`guard-${format}`);
      const bytes = execFileSync('tar', ['-C', src, '--sort=name', `--format=${format}`, '-cf', '-', '.']);
      const { refusal, summary } = await extractGuarded(bytes, sb, { tarBytes: bytes.length });
      assert.equal(refusal, undefined, format);
      execFileSync('diff', ['-r', '--no-dereference', src, sb.root]);
      assert.equal(lstatSync(path.join(sb.root, 'a', 'hard')).ino, lstatSync(path.join(sb.root, 'a', 'f1')).ino, `${format}: hard link kept`);
      assert.deepEqual(summary, { entries: 10, files: 4, directories: 4, links: 2, fileBytes: 100_007 }, format);
    }
  });

  test('oversize: a zstd bomb (33 KiB inflating to a 1 GiB tar) is cut at the tar size the manifest records, memory stays flat', async (t) => {
    const bomb = await hostile.zstdBomb(1024 ** 3);
    const storage = new LocalDirectoryStorage(scratchDir('bomb-storage'));
    await storage.put('c/data-directory/bomb/rabbit@bomb.tar.zst', bomb);
    // The archive method reads only storage.
    const deps = { openStorage: () => ({ name: 'local', backend: storage }) } as unknown as ActivityDeps;
    const artifact = { name: 'rabbit@bomb.tar.zst', size: bomb.length, sha256: sha256(bomb) };
    const sb = sandbox('hostile-bomb');
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      const opened = await openNodeTar(deps, { prefix: 'c/data-directory/bomb', artifact, tarSha256: '0'.repeat(64), method: 'archive', tarBytes: 1024 * 1024 });
      const failure = await tarIn(sb.root, opened.tar).then(
        () => 'extracted',
        (error: Error) => error.message,
      );
      assert.match(failure, /the tar is larger than the 1048576 bytes the manifest records/);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    t.diagnostic(`bomb of ${bomb.length} bytes: RSS grew ${((peak - baseline) / 1024 / 1024).toFixed(1)} MiB`);
    assert.ok(peak - baseline < 64 * 1024 * 1024, `RSS grew ${((peak - baseline) / 1024 / 1024).toFixed(1)} MiB`);
    const written = execFileSync('du', ['-sb', sb.root], { encoding: 'utf8' }).split('\t')[0];
    assert.ok(Number(written) <= 2 * 1024 * 1024, `${written} bytes on disk`);

    // The stored bytes are cut too: more than the manifest's artifact size.
    const short = { ...artifact, size: bomb.length - 100 };
    const opened = await openNodeTar(deps, { prefix: 'c/data-directory/bomb', artifact: short, tarSha256: '0'.repeat(64), method: 'archive' });
    const cut = await tarIn(sandbox('hostile-stored').root, opened.tar).then(
      () => 'extracted',
      (error: Error) => error.message,
    );
    assert.match(cut, new RegExp(`rabbit@bomb\\.tar\\.zst is larger than the ${short.size} bytes the manifest records`));
  });

  test('restic dump passes the id after "--": an id that is an option runs nothing', async () => {
    const dir = scratchDir('restic-dash');
    const restic = new Restic({ location: path.join(dir, 'repo'), env: { RESTIC_PASSWORD: 'x' } });
    await restic.ensureRepository();
    const marker = path.join(dir, 'pwned');
    const failure = await (async () => {
      for await (const _chunk of restic.dump(`--password-command=touch ${marker}`, '/data.tar')) {
        // nothing expected
      }
      return 'dumped';
    })().catch((error: Error) => error.message);
    assert.match(failure, /no matching ID found for prefix "--password-command=touch/);
    assert.equal(existsSync(marker), false, 'the command never ran');
  });
});

describe('hostile data-directory sets restored end to end', () => {
  const config = dataConfig([a]);
  const root = (config.storage.targets.local as { path: string }).path;
  const local = new LocalDirectoryStorage(root);
  let h: Awaited<ReturnType<typeof startDataHarness>>;
  const expected = { 'dd-classic': 20, 'dd-quorum': 5 };

  before(async () => {
    await a.reset();
    await fillQueues(a, { classic: 20, quorum: 5, size: 1000 });
    h = await startDataHarness(config);
  });
  after(async () => {
    await h.stop();
    if (!(await appRunning(a))) await a.ctl(['start_app']);
    await a.reset();
  });

  const backup = async (method: 'archive' | 'restic') =>
    (await h.client.workflow.execute('backupDataDirectory', {
      taskQueue: config.temporal.taskQueue,
      workflowId: workflowId(`hostile-${method}`),
      args: [{ cluster: 'c', method, copy: 'while-stopped', ...quick }],
    })) as BackupDataDirectoryResult;

  // A copy of a real set whose one artifact is replaced, manifest checksums matching the forgery.
  async function forge(good: Manifest, label: string, artifact: Buffer, tar?: Buffer): Promise<string> {
    const setId = `${good.setId.slice(0, 16)}-${sha256(Buffer.from(label)).slice(0, 8)}`;
    const prefix = `c/data-directory/${setId}`;
    const name = good.artifacts[0]!.name;
    mkdirSync(local.locate(prefix), { recursive: true });
    writeFileSync(local.locate(`${prefix}/${name}`), artifact);
    const forged = structuredClone(good);
    forged.setId = setId;
    forged.artifacts[0] = { ...forged.artifacts[0]!, size: artifact.length, sha256: sha256(artifact) };
    const record = (forged.details as { nodes: Array<Record<string, unknown>> }).nodes[0]!;
    record.artifact = forged.artifacts[0];
    if (tar) Object.assign(record, { tarBytes: tar.length, tarSha256: sha256(tar) });
    writeFileSync(local.locate(`${prefix}/manifest.json`), JSON.stringify(forged));
    return setId;
  }

  async function restoreRefused(setId: string, label: string) {
    const dataDirectory = path.join(a.dir, 'mnesia', a.nodeName);
    // Directories only: the running node may add a log file at the top at any time.
    const listing = () => readdirSync(dataDirectory, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    const before = listing();
    const handle = await h.client.workflow.start('restoreDataDirectory', { taskQueue: config.temporal.taskQueue, workflowId: workflowId(`hostile-${label}`), args: [{ cluster: 'c', from: setId, ...quick }] });
    const failure = await failureOf(handle.result());
    const history = JSON.stringify(await handle.fetchHistory());
    assert.ok(!history.includes('"stopNodeApp"'), `${label}: the node was never stopped`);
    assert.ok(await appRunning(a), `${label}: RabbitMQ runs`);
    assert.deepEqual(listing(), before, `${label}: the data directory holds what it held`);
    assert.equal(execFileSync('find', [dataDirectory, '-name', '*fifo*', '-o', '-name', 'cover'], { encoding: 'utf8' }), '', `${label}: no entry of the forged archive`);
    assert.ok(!readdirSync(path.dirname(dataDirectory)).some((n) => n.includes('before-restore')), `${label}: nothing was moved aside`);
    assert.deepEqual(await waitForCounts(a, expected), expected);
    return failure;
  }

  test('archive hiding a FIFO behind a global PAX header, checksums forged: UnsafeArchive naming the header, node never stopped', async () => {
    const good = await backup('archive');
    const manifest = await readManifest(local, `c/data-directory/${good.setId}`);
    const tar = hostile.globalPaxHidesEntry();
    const setId = await forge(manifest, 'global-pax', await hostile.zstd(tar), tar);
    const failure = await restoreRefused(setId, 'global-pax');
    assert.equal(failure.type, 'UnsafeArchive', failure.message);
    assert.match(failure.message, new RegExp(`\\(${manifest.artifacts[0]!.name.replace(/[.@]/g, '\\$&')}\\) is refused: archive is refused: header at byte 0 is a global PAX header`));
    assert.match(failure.message, /nothing was changed, the node was not stopped/);

    const fifoTar = hostile.fifo();
    const fifoSet = await forge(manifest, 'fifo', await hostile.zstd(fifoTar), fifoTar);
    const fifoFailure = await restoreRefused(fifoSet, 'fifo');
    assert.equal(fifoFailure.type, 'UnsafeArchive');
    assert.match(fifoFailure.message, /archive entry "\.\/fifo" is a FIFO/);

    // The workflow hands the recorded tar size to the guard: a bomb stops there, before the node is stopped.
    const recordedTar = Buffer.alloc(1024 * 1024);
    const bombSet = await forge(manifest, 'bomb', await hostile.zstdBomb(512 * 1024 * 1024), recordedTar);
    const bombFailure = await restoreRefused(bombSet, 'bomb');
    assert.equal(bombFailure.type, 'UnsafeArchive', bombFailure.message);
    assert.match(bombFailure.message, /the tar is larger than the 1048576 bytes the manifest records/);
  });

  test('restic pointer whose snapshotId or file is an option: ManifestInvalid before the node is stopped, the command never ran', async () => {
    const good = await backup('restic');
    const manifest = await readManifest(local, `c/data-directory/${good.setId}`);
    const pointer = JSON.parse(readFileSync(local.locate(`c/data-directory/${good.setId}/${manifest.artifacts[0]!.name}`), 'utf8')) as PointerFields;
    assert.match(pointer.snapshotId, /^[0-9a-f]{8}$/, 'restic 0.14 reports the short id: the schema must accept it');
    const marker = path.join(scratchDir('restic-pwned'), 'pwned');
    const cases: Array<[string, Buffer, RegExp]> = [
      ['snapshot-id-option', snapshotIdIsOption(pointer, marker), /snapshotId: must be a restic snapshot id/],
      ['file-option', fileIsOption(pointer, marker), /file: must be "\/" and a file name/],
      ['file-climbs', fileClimbs(pointer), /file: must be "\/" and a file name/],
      ['not-json', notJson(), /not valid JSON/],
    ];
    for (const [label, bytes, reason] of cases) {
      const setId = await forge(manifest, label, bytes);
      const failure = await restoreRefused(setId, label);
      assert.equal(failure.type, 'ManifestInvalid', `${label}: ${failure.message}`);
      assert.match(failure.message, new RegExp(`backup set c/data-directory/${setId}, ${manifest.artifacts[0]!.name.replace(/[.@]/g, '\\$&')}: `), label);
      assert.match(failure.message, reason, label);
      assert.equal(existsSync(marker), false, `${label}: the command never ran`);
    }
  });
});
