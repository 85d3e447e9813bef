// Random mutations of a valid input, seeded so a failing case can be replayed
// (`npm run fuzz:hostile -- --seed N`).

// xorshift32: tiny, deterministic, good enough to pick bytes and offsets.
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
}

// Values that break parsers: extremes of lengths, separators, number syntax tar and JS disagree on.
const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x20, 0x09, 0x0a, 0x2e, 0x2f, 0x30, 0x37, 0x38, 0x3d];
const INTERESTING_TEXT = ['..', '/', '../../', ' 1e9', '0x10', '-1', '99999999999', '\u00ff\u00fe', '%', 'g', 'x', 'L', 'K', '3', '4', '6', 'S'];
const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

export type Mutation = (input: Buffer, rng: Rng) => Buffer;

const flipBit: Mutation = (b, rng) => {
  const out = Buffer.from(b);
  if (out.length) out[rng.below(out.length)]! ^= 1 << rng.below(8);
  return out;
};

const setByte: Mutation = (b, rng) => {
  const out = Buffer.from(b);
  if (out.length) out[rng.below(out.length)] = rng.pick(INTERESTING_BYTES);
  return out;
};

const writeU32: Mutation = (b, rng) => {
  const out = Buffer.from(b);
  if (out.length >= 4) out.writeUInt32BE(rng.pick(INTERESTING_U32), rng.below(out.length - 3));
  return out;
};

const overwriteText: Mutation = (b, rng) => {
  const out = Buffer.from(b);
  const text = Buffer.from(rng.pick(INTERESTING_TEXT), 'latin1');
  if (out.length > text.length) text.copy(out, rng.below(out.length - text.length));
  return out;
};

const truncate: Mutation = (b, rng) => b.subarray(0, rng.below(b.length));

// Copies one region over another: moves headers into bodies and back.
const splice: Mutation = (b, rng) => {
  if (b.length < 2) return b;
  const out = Buffer.from(b);
  const from = rng.below(b.length);
  const to = rng.below(b.length);
  const len = Math.min(rng.below(1024) + 1, b.length - from, b.length - to);
  b.copy(out, to, from, from + len);
  return out;
};

const insertRandom: Mutation = (b, rng) => {
  const at = rng.below(b.length + 1);
  const extra = Buffer.alloc(rng.below(600) + 1);
  for (let i = 0; i < extra.length; i += 1) extra[i] = rng.next() & 0xff;
  return Buffer.concat([b.subarray(0, at), extra, b.subarray(at)]);
};

export const MUTATIONS: Array<[string, Mutation]> = [
  ['flip a bit', flipBit],
  ['set a byte', setByte],
  ['write a u32', writeU32],
  ['overwrite text', overwriteText],
  ['truncate', truncate],
  ['splice', splice],
  ['insert random bytes', insertRandom],
];

// One to four stacked mutations.
export function mutate(input: Buffer, rng: Rng): { bytes: Buffer; applied: string[] } {
  let bytes = input;
  const applied: string[] = [];
  for (let i = rng.below(4); i >= 0; i -= 1) {
    const [name, fn] = rng.pick(MUTATIONS);
    bytes = fn(bytes, rng);
    applied.push(name);
  }
  return { bytes, applied };
}

const HOSTILE_VALUES: unknown[] = [null, -1, 1.5, 1e300, '', '../../etc/passwd', '/etc/cron.d/x', '--password-command=id', 'a'.repeat(300), [], {}, true, '\u0000'];

// Structural mutations of a JSON document: a value replaced, a key deleted, a list emptied.
export function mutateJson(value: unknown, rng: Rng): unknown {
  const copy = JSON.parse(JSON.stringify(value)) as unknown;
  const paths: Array<Array<string | number>> = [];
  const walk = (v: unknown, at: Array<string | number>) => {
    paths.push(at);
    if (Array.isArray(v)) v.forEach((item, i) => walk(item, [...at, i]));
    else if (v && typeof v === 'object') for (const [k, item] of Object.entries(v)) walk(item, [...at, k]);
  };
  walk(copy, []);
  const target = rng.pick(paths.slice(1).length ? paths.slice(1) : paths);
  if (target.length === 0) return rng.pick(HOSTILE_VALUES);
  const parent = target.slice(0, -1).reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], copy) as Record<string | number, unknown>;
  const key = target.at(-1)!;
  const action = rng.below(3);
  if (action === 0 && !Array.isArray(parent)) delete parent[key];
  else if (action === 1 && Array.isArray(parent[key])) (parent[key] as unknown[]).length = 0;
  else parent[key] = rng.pick(HOSTILE_VALUES);
  return copy;
}
