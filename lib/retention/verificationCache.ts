import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { RabbitvaultConfig } from '../../config/schema';
import type { Verdict } from './policy';

// A verdict is trusted for a week: a same-size rewrite of an artifact after
// verification (the manifest unchanged) is caught at the latest then.
export const VERDICT_LIFETIME_MS = 7 * 86_400_000;
const MAX_ENTRIES = 100_000;

const Entry = z.object({ restorable: z.boolean(), problem: z.string().max(2000).optional(), verifiedAt: z.iso.datetime(), mac: z.string().regex(/^[0-9a-f]{64}$/) });
const CacheFile = z.object({ version: z.literal(1), entries: z.record(z.string().regex(/^[0-9a-f]{64}$/), Entry) });
type Entry = z.infer<typeof Entry>;

// The worker's own cache directory: RABBITVAULT_CACHE_DIR, else $XDG_CACHE_HOME/rabbitvault or ~/.cache/rabbitvault.
export function defaultCacheDir(): string {
  const base = process.env.RABBITVAULT_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'rabbitvault');
  return path.join(base, 'retention');
}

// The cache in `dir` (default: the worker's cache directory; null: memory only),
// unless it lies inside a local storage target (where whoever writes backups
// could write it too): then memory only.
export function openVerificationCache(config: RabbitvaultConfig, cacheDir: string | null | undefined): VerificationCache {
  const dir = cacheDir === undefined ? defaultCacheDir() : cacheDir;
  if (dir === null) return new VerificationCache(undefined);
  const inStorage = Object.values(config.storage.targets).some((t) => {
    if (t.type !== 'local') return false;
    const relative = path.relative(path.resolve(t.path), path.resolve(dir));
    return !relative.startsWith('..') && !path.isAbsolute(relative);
  });
  return new VerificationCache(inStorage ? undefined : dir);
}

// What makes a verdict valid: the manifest's exact bytes, in this folder of this storage target.
export function verdictKey(storage: string, location: string, manifestBytes: Buffer): string {
  return createHash('sha256').update(`${storage}\0${location}\0`).update(manifestBytes).digest('hex');
}

// Retention verdicts by manifest hash, so a daily prune does not re-read every
// artifact. It lives on the worker's disk, never in backup storage: whoever
// can write the bucket could forge "restorable" there. Each entry carries an
// HMAC under a key kept beside it (mode 0600), so an edited, copied or
// corrupted file only makes entries miss (the set is verified again); with no
// directory (dir undefined) it lives in this process's memory only.
export class VerificationCache {
  private readonly entries = new Map<string, Entry>();
  private readonly secret: Buffer;
  hits = 0;
  rejected = 0;

  constructor(private readonly dir: string | undefined) {
    this.secret = dir ? loadSecret(dir) : randomBytes(32);
    if (dir) this.load(path.join(dir, 'verified-sets.json'));
  }

  lookup(key: string, now: Date): Omit<Verdict, 'cached'> | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const age = now.getTime() - Date.parse(entry.verifiedAt);
    if (!this.authentic(key, entry) || age < 0 || age > VERDICT_LIFETIME_MS) {
      this.rejected += 1;
      this.entries.delete(key);
      return undefined;
    }
    this.hits += 1;
    return { restorable: entry.restorable, verifiedAt: entry.verifiedAt, ...(entry.problem !== undefined ? { problem: entry.problem } : {}) };
  }

  store(key: string, verdict: Omit<Verdict, 'cached'>): void {
    const entry = { restorable: verdict.restorable, problem: verdict.problem?.slice(0, 2000), verifiedAt: verdict.verifiedAt };
    this.entries.set(key, { ...entry, mac: this.mac(key, entry) });
  }

  // Written whole to a temporary name and renamed: a crash leaves the old file.
  save(now: Date): void {
    if (!this.dir) return;
    const fresh = [...this.entries].filter(([, e]) => now.getTime() - Date.parse(e.verifiedAt) <= VERDICT_LIFETIME_MS).slice(-MAX_ENTRIES);
    const file = path.join(this.dir, 'verified-sets.json');
    const partial = `${file}.partial-${randomBytes(4).toString('hex')}`;
    writeFileSync(partial, JSON.stringify({ version: 1, entries: Object.fromEntries(fresh) }), { mode: 0o600 });
    renameSync(partial, file);
  }

  private load(file: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return;
    }
    const parsed = CacheFile.safeParse(raw);
    if (parsed.success) for (const [key, entry] of Object.entries(parsed.data.entries)) this.entries.set(key, entry);
  }

  private mac(key: string, entry: Omit<Entry, 'mac'>): string {
    return createHmac('sha256', this.secret).update(JSON.stringify([key, entry.restorable, entry.problem ?? null, entry.verifiedAt])).digest('hex');
  }

  private authentic(key: string, entry: Entry): boolean {
    const expected = Buffer.from(this.mac(key, entry), 'hex');
    const given = Buffer.from(entry.mac, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

// The HMAC key: created once, readable by the worker's user alone.
function loadSecret(dir: string): Buffer {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'verified-sets.key');
  try {
    writeFileSync(file, randomBytes(32), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const secret = readFileSync(file);
  if (secret.length === 32) return secret;
  // A damaged key only costs the cached verdicts: every set is verified again.
  const fresh = randomBytes(32);
  writeFileSync(file, fresh, { mode: 0o600 });
  return fresh;
}
