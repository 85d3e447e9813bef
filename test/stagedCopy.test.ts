// The two-phase copy (lib/dataDirectory/stagedCopy.ts) on real temporary
// directories, no RabbitMQ: after phase 2 the staging tree must equal the source.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { isRacy, preCopy, removeStaging, stagingLayout, syncDelta } from '../lib/dataDirectory/stagedCopy';

const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

function workDir(): { source: string; staging: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'rabbitvault-staged-'));
  roots.push(root);
  return { source: path.join(root, 'rabbit@host'), staging: path.join(root, 'rabbit@host.rabbitvault-staging') };
}

const bytes = (n: number, seed: string) => {
  const out = Buffer.alloc(n);
  let block = createHash('sha256').update(seed).digest();
  for (let i = 0; i < n; i += block.length) {
    block.copy(out, i);
    block = createHash('sha256').update(block).digest();
  }
  return out;
};

// Every path under dir with its type, mode, content hash or link target, and mtime (whole seconds).
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(dir, r);
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[r] = `symlink -> ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        walk(r);
      } else out[r] = `file ${mode} ${createHash('sha256').update(readFileSync(p)).digest('hex')} mtime ${Math.floor(st.mtimeMs / 1000)} uid ${st.uid}`;
    }
  };
  walk('');
  out['.'] = `dir ${(lstatSync(dir).mode & 0o7777).toString(8)}`;
  return out;
}

// A small data directory: nested dirs, a multi-MiB segment, a read-only file, symlinks.
function makeSource(source: string, options: { old: boolean }): void {
  mkdirSync(path.join(source, 'msg_stores', 'vhosts', 'V1', 'msg_store_persistent'), { recursive: true });
  mkdirSync(path.join(source, 'quorum', 'Q1'), { recursive: true });
  mkdirSync(path.join(source, 'gone-dir', 'deeper'), { recursive: true });
  const files: Record<string, Buffer> = {
    'msg_stores/vhosts/V1/msg_store_persistent/0.rdq': bytes(3 * 1024 * 1024 + 17, 'segment'),
    'msg_stores/vhosts/V1/msg_store_persistent/1.rdq': bytes(40_000, 'appended'),
    'msg_stores/vhosts/V1/recovery.dets': bytes(5000, 'same-size'),
    'quorum/Q1/00000001.wal': bytes(70_000, 'racy'),
    'quorum/Q1/meta.dets': bytes(100, 'mode'),
    'cluster_nodes.config': Buffer.from("['rabbit@host'].\n"),
    'to-delete.txt': Buffer.from('bye'),
    'becomes-dir': Buffer.from('a file for now'),
    'gone-dir/deeper/x': Buffer.from('x'),
    'readonly.bin': bytes(1000, 'ro'),
  };
  for (const [rel, body] of Object.entries(files)) writeFileSync(path.join(source, rel), body);
  chmodSync(path.join(source, 'readonly.bin'), 0o444);
  chmodSync(path.join(source, 'quorum'), 0o750);
  symlinkSync('quorum/Q1', path.join(source, 'link'));
  symlinkSync('/nonexistent/target', path.join(source, 'dangling'));
  if (options.old) {
    const hourAgo = Date.now() / 1000 - 3600;
    const walk = (rel: string) => {
      for (const name of readdirSync(path.join(source, rel))) {
        const p = path.join(source, rel, name);
        if (lstatSync(p).isDirectory()) walk(path.join(rel, name));
        if (!lstatSync(p).isSymbolicLink()) utimesSync(p, hourAgo, hourAgo);
      }
    };
    walk('');
  }
}

describe('staged copy: pre-copy while live, then the delta', () => {
  test('after preCopy the staging tree equals the source, and the state file sits next to the tree', async () => {
    const { source, staging } = workDir();
    makeSource(source, { old: true });
    const pre = await preCopy(source, staging);
    const layout = stagingLayout(staging);
    assert.deepEqual(snapshot(layout.tree), snapshot(source));
    assert.deepEqual(readdirSync(staging).sort(), ['RABBITVAULT-STAGING', 'precopy-state.json', 'tree']);
    assert.equal(pre.files, 10);
    assert.equal(pre.symlinks, 2);
    assert.equal(pre.bytes, 3 * 1024 * 1024 + 17 + 40_000 + 5000 + 70_000 + 100 + 17 + 3 + 14 + 1 + 1000);
    const state = JSON.parse(readFileSync(layout.stateFile, 'utf8')) as { files: Record<string, { size: string; mtimeNs: string; ino: string; statedAtMs: number }> };
    const seg = state.files['msg_stores/vhosts/V1/msg_store_persistent/0.rdq']!;
    assert.equal(seg.size, String(3 * 1024 * 1024 + 17));
    assert.equal(seg.ino, String(lstatSync(path.join(source, 'msg_stores/vhosts/V1/msg_store_persistent/0.rdq'), { bigint: true }).ino));
  });

  test('every kind of change made after phase 1 is caught: staging equals the source after syncDelta', async () => {
    const { source, staging } = workDir();
    makeSource(source, { old: true });
    await preCopy(source, staging);
    const tree = stagingLayout(staging).tree;
    const s = (rel: string) => path.join(source, rel);

    appendFileSync(s('msg_stores/vhosts/V1/msg_store_persistent/1.rdq'), bytes(12_345, 'more'));
    // Same size, in place, right after phase 1 (well within the same second).
    const rewrite = bytes(5000, 'same-size-2');
    writeFileSync(s('msg_stores/vhosts/V1/recovery.dets'), rewrite);
    unlinkSync(s('to-delete.txt'));
    writeFileSync(s('new-file.bin'), bytes(2222, 'new'));
    mkdirSync(s('new-dir/inner'), { recursive: true });
    writeFileSync(s('new-dir/inner/file'), 'inside a new directory');
    unlinkSync(s('link'));
    symlinkSync('msg_stores', s('link'));
    chmodSync(s('quorum/Q1/meta.dets'), 0o600);
    unlinkSync(s('becomes-dir'));
    mkdirSync(s('becomes-dir'));
    writeFileSync(s('becomes-dir/child'), 'was a file');
    rmSync(s('gone-dir'), { recursive: true });
    chmodSync(s('quorum'), 0o700);
    // A segment replaced by rename (same size, new inode), as RabbitMQ's compaction does.
    writeFileSync(s('replacement.tmp'), bytes(3 * 1024 * 1024 + 17, 'compacted'));
    renameSync(s('replacement.tmp'), s('msg_stores/vhosts/V1/msg_store_persistent/0.rdq'));
    assert.notDeepEqual(snapshot(tree), snapshot(source), 'the changes are not in the staging tree yet');

    const delta = await syncDelta(source, staging);
    assert.deepEqual(snapshot(tree), snapshot(source));
    // gone-dir/deeper/x and to-delete.txt; becomes-dir (a file replaced by a directory) is not counted as removed.
    assert.equal(delta.filesRemoved, 2);
    assert.ok(delta.bytesCopied < 3 * 1024 * 1024 + 17 + 60_000 && delta.bytesCopied >= 3 * 1024 * 1024 + 17, `${delta.bytesCopied} bytes copied`);
  });

  test('a same-size rewrite that leaves size, mtime, ctime and inode as phase 1 saw them is caught by the racy rule alone', async () => {
    const { source, staging } = workDir();
    makeSource(source, { old: true });
    const wal = path.join(source, 'quorum/Q1/00000001.wal');
    writeFileSync(wal, bytes(70_000, 'racy')); // fresh mtime: written "now"
    await preCopy(source, staging);
    writeFileSync(wal, bytes(70_000, 'racy-rewritten'));
    // Make phase 1's record look exactly like the file now, as if the write had
    // landed in the same timestamp tick as phase 1's stat: only the racy rule can tell.
    const layout = stagingLayout(staging);
    const state = JSON.parse(readFileSync(layout.stateFile, 'utf8')) as { files: Record<string, { size: string; mtimeNs: string; ctimeNs: string; ino: string; statedAtMs: number }> };
    const now = lstatSync(wal, { bigint: true });
    const rec = state.files['quorum/Q1/00000001.wal']!;
    Object.assign(rec, { size: String(now.size), mtimeNs: String(now.mtimeNs), ctimeNs: String(now.ctimeNs), ino: String(now.ino) });
    assert.ok(isRacy(rec), 'mtime within 2 s of the phase-1 stat');
    writeFileSync(layout.stateFile, JSON.stringify(state));

    const delta = await syncDelta(source, staging);
    assert.equal(delta.filesCopied, 1, 'only the racy file');
    assert.equal(delta.bytesCopied, 70_000);
    assert.deepEqual(snapshot(layout.tree), snapshot(source));
  });

  test('unchanged old files are not copied again; a fresh unchanged file is (racy); one changed file costs its own size', async () => {
    const { source, staging } = workDir();
    makeSource(source, { old: true });
    await preCopy(source, staging);
    const idle = await syncDelta(source, staging);
    assert.deepEqual([idle.filesCopied, idle.bytesCopied, idle.filesRemoved], [0, 0, 0], 'nothing changed, nothing copied');
    assert.equal(idle.filesChecked, 10);

    // Written just before phase 1 and not touched since: re-copied, because a write in the same tick could hide.
    writeFileSync(path.join(source, 'fresh.bin'), bytes(4096, 'fresh'));
    await preCopy(source, staging);
    const fresh = await syncDelta(source, staging);
    assert.deepEqual([fresh.filesCopied, fresh.bytesCopied], [1, 4096]);

    const old = Date.now() / 1000 - 3600;
    utimesSync(path.join(source, 'fresh.bin'), old, old);
    await preCopy(source, staging);
    appendFileSync(path.join(source, 'cluster_nodes.config'), '%\n');
    const one = await syncDelta(source, staging);
    assert.deepEqual([one.filesCopied, one.bytesCopied], [1, 17 + 2]);
    assert.deepEqual(snapshot(stagingLayout(staging).tree), snapshot(source));
  });

  test('a file recorded as changed while it was copied is copied again', async () => {
    const { source, staging } = workDir();
    makeSource(source, { old: true });
    await preCopy(source, staging);
    const layout = stagingLayout(staging);
    const state = JSON.parse(readFileSync(layout.stateFile, 'utf8')) as { files: Record<string, { changedWhileCopied: boolean }> };
    state.files['readonly.bin']!.changedWhileCopied = true;
    writeFileSync(layout.stateFile, JSON.stringify(state));
    // Tear the staged copy the way a concurrent write would have.
    chmodSync(path.join(layout.tree, 'readonly.bin'), 0o644);
    writeFileSync(path.join(layout.tree, 'readonly.bin'), bytes(1000, 'torn'));
    const delta = await syncDelta(source, staging);
    assert.deepEqual([delta.filesCopied, delta.bytesCopied], [1, 1000]);
    assert.deepEqual(snapshot(layout.tree), snapshot(source));
  });

  test('without a state file (or without a tree) everything is copied; removeStaging removes ours and refuses anything else', async () => {
    const { source, staging } = workDir();
    makeSource(source, { old: true });
    await preCopy(source, staging);
    rmSync(stagingLayout(staging).stateFile);
    const all = await syncDelta(source, staging);
    assert.equal(all.filesCopied, 10);
    assert.deepEqual(snapshot(stagingLayout(staging).tree), snapshot(source));

    assert.equal(await removeStaging(staging), true);
    assert.throws(() => lstatSync(staging), /ENOENT/);
    assert.equal(await removeStaging(staging), false, 'nothing to remove');

    const foreign = path.join(path.dirname(staging), 'someone-elses');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'precious'), 'data');
    await assert.rejects(removeStaging(foreign), /not a rabbitvault staging directory/);
    await assert.rejects(preCopy(source, foreign), /not a rabbitvault staging directory/);
    assert.equal(readFileSync(path.join(foreign, 'precious'), 'utf8'), 'data');
  });

  test('a leftover staging directory is replaced, and an aborted copy stops', async () => {
    const { source, staging } = workDir();
    makeSource(source, { old: true });
    await preCopy(source, staging);
    writeFileSync(path.join(stagingLayout(staging).tree, 'stale-leftover'), 'from an earlier run');
    await preCopy(source, staging);
    assert.deepEqual(snapshot(stagingLayout(staging).tree), snapshot(source));

    const controller = new AbortController();
    controller.abort(new Error('cancelled by the workflow'));
    await assert.rejects(preCopy(source, staging, { signal: controller.signal }), /cancelled by the workflow/);
    await assert.rejects(syncDelta(source, staging, { signal: controller.signal }), /cancelled by the workflow/);
  });
});
