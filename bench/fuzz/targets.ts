// What the fuzz loop feeds: each target parses one kind of untrusted input the
// way a restore does, and says whether it was accepted, refused by name, or crashed.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure } from '@temporalio/common';
import { TarGuard, UnsafeArchiveError } from '../../lib/archive/tarGuard';
import { QueueIndex } from '../../lib/messages/queueIndex';
import { encodeRecordHeader, readRecords, SEGMENT_MAGIC, SegmentFormatError, type MessageRecord } from '../../lib/messages/segmentFormat';
import { segmentName } from '../../common/backupSetLayout';
import { DataDirectoryDetails } from '../../common/dataDirectoryDetails';
import { Manifest } from '../../common/manifest';
import { parseUntrusted, parseUntrustedJson } from '../../common/untrusted';
import type { Rng } from './mutate';

export type Outcome = { kind: 'accepted' } | { kind: 'refused'; reason: string } | { kind: 'crashed'; error: string } | { kind: 'unsafe on disk'; problem: string };

export interface FuzzTarget {
  name: string;
  seeds: Buffer[];
  // Re-applied after a byte mutation (e.g. tar header checksums), so mutations reach past the first check.
  repair?: (bytes: Buffer, rng: Rng) => Buffer;
  run(bytes: Buffer, rng: Rng): Promise<Outcome>;
}

function classify(error: unknown, known: Array<new (...args: never[]) => Error>): Outcome {
  if (known.some((k) => error instanceof k)) return { kind: 'refused', reason: (error as Error).message.slice(0, 120) };
  if (error instanceof ApplicationFailure && error.nonRetryable) return { kind: 'refused', reason: error.message.slice(0, 120) };
  return { kind: 'crashed', error: String((error as Error)?.stack ?? error).slice(0, 600) };
}

// Random split points: parsers must not depend on how the stream is chunked.
function chunked(bytes: Buffer, rng: Rng): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = 1 + rng.below(rng.below(2) ? 700 : 70_000);
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

// A small data directory tarred by GNU tar itself, in its default (GNU) and in PAX format.
function tarSeeds(): Buffer[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rv-fuzz-seed-'));
  try {
    const tree = path.join(dir, 'tree');
    mkdirSync(path.join(tree, 'msg_stores', 'vhosts', 'x'.repeat(120)), { recursive: true });
    writeFileSync(path.join(tree, 'cluster_nodes.config'), '{[rabbit@host],[rabbit@host]}.\n');
    writeFileSync(path.join(tree, 'msg_stores', 'vhosts', 'x'.repeat(120), '0.rdq'), Buffer.alloc(3000, 7));
    writeFileSync(path.join(tree, 'n'.repeat(150)), 'long name');
    symlinkSync('cluster_nodes.config', path.join(tree, 'link'));
    execFileSync('ln', [path.join(tree, 'cluster_nodes.config'), path.join(tree, 'hard')]);
    return ['gnu', 'pax'].map((format) => execFileSync('tar', ['-C', tree, `--format=${format}`, '-cf', '-', '.'], { maxBuffer: 64 * 1024 * 1024 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Header checksums recomputed where a block still looks like a ustar header.
function repairTar(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let at = 0; at + 512 <= out.length; at += 512) {
    if (out.toString('latin1', at + 257, at + 262) !== 'ustar') continue;
    out.fill(0x20, at + 148, at + 156);
    let sum = 0;
    for (let i = 0; i < 512; i += 1) sum += out[at + i]!;
    out.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 8, 'latin1');
  }
  return out;
}

// What tar left on disk must be what the guard promises: regular files,
// directories, symlinks that stay inside, no special bits, nothing outside.
// Paths stay bytes: names need not be valid UTF-8.
function unsafeOnDisk(root: string): string | undefined {
  const rootBytes = Buffer.from(root);
  const walk = (dir: Buffer): string | undefined => {
    for (const name of readdirSync(dir, { encoding: 'buffer' })) {
      const p = Buffer.concat([dir, Buffer.from('/'), name]);
      const st = lstatSync(p);
      const shown = p.toString('latin1');
      if (st.mode & 0o7000) return `${shown} has mode ${(st.mode & 0o7777).toString(8)}`;
      if (st.isSymbolicLink()) {
        // latin1 maps bytes 1:1, so path arithmetic on it is arithmetic on the bytes.
        const target = readlinkSync(p, { encoding: 'buffer' }).toString('latin1');
        const resolved = path.posix.resolve(path.posix.dirname(shown), target);
        if (path.posix.isAbsolute(target) || path.posix.relative(rootBytes.toString('latin1'), resolved).startsWith('..')) return `${shown} -> ${target} leaves the root`;
      } else if (st.isDirectory()) {
        const found = walk(p);
        if (found) return found;
      } else if (!st.isFile()) return `${shown} is not a regular file, directory or symlink`;
    }
    return undefined;
  };
  return walk(rootBytes);
}

export function tarTarget(workDir: string): FuzzTarget & { extractions: number; tarRefusedGuardOutput: number; tarRefusal: string | undefined } {
  const target = {
    name: 'tar archive (guard, then GNU tar -x as the restore runs it)',
    seeds: tarSeeds(),
    extractions: 0,
    tarRefusedGuardOutput: 0,
    // What GNU tar said about the first output it refused (not unsafe: a restore then fails and rolls back).
    tarRefusal: undefined as string | undefined,
    repair: (bytes: Buffer, rng: Rng) => (rng.below(5) ? repairTar(bytes) : bytes),
    async run(bytes: Buffer, rng: Rng): Promise<Outcome> {
      const guard = new TarGuard({ tarBytes: bytes.length });
      const out: Buffer[] = [];
      try {
        await pipeline(Readable.from(chunked(bytes, rng)), guard, async (source: AsyncIterable<Buffer>) => {
          for await (const chunk of source) out.push(chunk);
        });
      } catch (error) {
        return classify(error, [UnsafeArchiveError]);
      }
      // Accepted: extract exactly as the restore does and look at what landed.
      const jail = mkdtempSync(path.join(workDir, 'x-'));
      const root = path.join(jail, 'root');
      mkdirSync(root);
      try {
        target.extractions += 1;
        const tar = spawnSync('tar', ['-C', root, '-xf', '-', '--no-same-owner', '--no-overwrite-dir'], { input: Buffer.concat(out) });
        if (tar.status !== 0) {
          target.tarRefusedGuardOutput += 1;
          target.tarRefusal ??= tar.stderr.toString('utf8').trim().split('\n').slice(0, 3).join(' | ');
        }
        const outside = readdirSync(jail).filter((n) => n !== 'root');
        if (outside.length) return { kind: 'unsafe on disk', problem: `created outside the root: ${outside.join(', ')}` };
        const problem = unsafeOnDisk(root);
        return problem ? { kind: 'unsafe on disk', problem } : { kind: 'accepted' };
      } finally {
        rmSync(jail, { recursive: true, force: true });
      }
    },
  };
  return target;
}

function record(i: number, size: number): MessageRecord {
  const body = Buffer.alloc(size, i & 0xff);
  // Properties as on the wire: flags (content-type present), then a short string.
  const properties = Buffer.concat([Buffer.from([0x80, 0x00, 16]), Buffer.from('application/json')]);
  return { redelivered: i % 3 === 0, exchange: i % 2 ? 'amq.direct' : '', routingKey: `key-${i}`, properties, body };
}

export function segmentTarget(): FuzzTarget {
  const records = Array.from({ length: 40 }, (_, i) => record(i, [0, 1, 100, 5000][i % 4]!));
  const seed = Buffer.concat([SEGMENT_MAGIC, ...records.flatMap((r) => [encodeRecordHeader(r), r.body])]);
  const bodyBytes = records.reduce((n, r) => n + r.body.length, 0);
  return {
    name: 'message segment records (decompressed)',
    seeds: [seed],
    async run(bytes, rng) {
      try {
        let n = 0;
        for await (const r of readRecords(Readable.from(chunked(bytes, rng)), { messages: records.length, bodyBytes })) {
          n += 1;
          if (r.body.length > 5000) return { kind: 'crashed', error: `record ${n} has a ${r.body.length}-byte body, beyond what the index allows` };
        }
        return { kind: 'accepted' };
      } catch (error) {
        return classify(error, [SegmentFormatError]);
      }
    },
  };
}

function manifestSeed(): unknown {
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const node = (n: number) => ({
    node: `rabbit-${n}@host`,
    artifact: { name: `rabbit-${n}@host.tar.zst`, size: 10, sha256: sha(`a${n}`) },
    tarBytes: 20,
    tarSha256: sha(`t${n}`),
    facts: { nodeName: `rabbit-${n}@host`, dataDirectory: `/var/lib/rabbitmq/mnesia/rabbit-${n}@host`, rabbitmqVersion: '3.10.8', featureFlags: ['quorum_queue'], queues: [{ vhost: '/', name: 'q', type: 'classic', messages: 3 }] },
    verified: { entries: 3, files: 2, directories: 1, links: 0, fileBytes: 5 },
  });
  return {
    schemaVersion: 1,
    cluster: 'prod',
    component: 'data-directory',
    setId: '20261202T120000Z-0123abcd',
    rabbitmqVersion: '3.10.8',
    artifacts: [node(1).artifact, node(2).artifact],
    workflow: { workflowId: 'w', runId: 'r' },
    startedAt: '2026-12-02T12:00:00.000Z',
    finishedAt: '2026-12-02T12:01:00.000Z',
    toolVersion: '0.1.0',
    details: { method: 'archive', mode: 'one-at-a-time', nodes: [node(1), node(2)] },
  };
}

// A JSON document through its schema: half the runs mutate the text, half the structure.
function jsonTarget(name: string, seed: unknown, mutateJson: (v: unknown, rng: Rng) => unknown, parse: (text: Buffer) => void): FuzzTarget {
  return {
    name,
    seeds: [Buffer.from(JSON.stringify(seed))],
    async run(bytes, rng) {
      try {
        parse(rng.below(2) ? bytes : Buffer.from(JSON.stringify(mutateJson(seed, rng))));
        return { kind: 'accepted' };
      } catch (error) {
        return classify(error, []);
      }
    },
  };
}

export function manifestTarget(mutateJson: (v: unknown, rng: Rng) => unknown): FuzzTarget {
  const source = { set: 'fuzz', artifact: 'manifest.json' };
  return jsonTarget('manifest.json and data-directory details (schema)', manifestSeed(), mutateJson, (text) => {
    const manifest = parseUntrustedJson(Manifest, text, 16 * 1024 * 1024, source);
    parseUntrusted(DataDirectoryDetails, manifest.details, source);
  });
}

export function queueIndexTarget(mutateJson: (v: unknown, rng: Rng) => unknown): FuzzTarget {
  const segment = (q: number, s: number) => ({ artifact: { name: segmentName(q, s), size: 10, sha256: '0'.repeat(64) }, messages: 2, bodyBytes: 8 });
  const queue = (q: number) => ({
    queue: { vhost: '/', name: `q${q}`, type: 'classic', durable: true, autoDelete: false, exclusive: false, arguments: { 'x-max-length': 10 }, policy: null, effectivePolicy: {} },
    mode: 'copy',
    depthAtStart: 4,
    messages: 4,
    bodyBytes: 16,
    segments: [segment(q, 0), segment(q, 1)],
    endedBy: 'depth reached',
  });
  const seed = { formatVersion: 1, queues: [queue(0), queue(1)] };
  return jsonTarget('queues.json (schema)', seed, mutateJson, (text) => {
    parseUntrustedJson(QueueIndex, text, 64 * 1024 * 1024, { set: 'fuzz', artifact: 'queues.json' });
  });
}
