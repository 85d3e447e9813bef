import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

// AES-256-CFB on a thread of its own. CFB encryption is serial, and Node's
// OpenSSL runs it at about 230 MB/s here: on the thread that also hashes,
// compresses' pipes and writes, it halves a backup's throughput. Off it, the
// cipher runs beside the rest of the pipeline (bench/encryption.bench.ts).
// One thread per process serves every stream; it keeps the process alive only while a reply is awaited.

interface Pending {
  resolve: (data: Buffer) => void;
  reject: (error: Error) => void;
}

let thread: Worker | undefined;
let nextId = 1;
const pending = new Map<number, Pending[]>();
// Replies awaited: while there are any the thread keeps the process alive, and only then.
let waiting = 0;

function cfbThread(): Worker {
  if (thread) return thread;
  // Compiled (dist/) beside this file as .js; under tsx in tests and benches, the .ts (the loader is inherited).
  const js = path.join(__dirname, 'cfbWorkerThread.js');
  const worker = existsSync(js)
    ? new Worker(js)
    : // Sources under tsx (tests, benches): the thread registers tsx's CommonJS hook first.
      new Worker(`require('tsx/cjs'); require(${JSON.stringify(path.join(__dirname, 'cfbWorkerThread.ts'))});`, { eval: true });
  worker.on('message', (reply: { id: number; data?: Uint8Array; error?: string }) => {
    const queue = pending.get(reply.id);
    const next = queue?.shift();
    if (!next) return;
    if (queue!.length === 0) pending.delete(reply.id);
    waiting -= 1;
    if (waiting === 0) worker.unref();
    if (reply.error !== undefined) next.reject(new Error(`AES-256-CFB failed: ${reply.error}`));
    else next.resolve(Buffer.from(reply.data!.buffer, reply.data!.byteOffset, reply.data!.byteLength));
  });
  const failAll = (error: Error) => {
    thread = undefined;
    waiting = 0;
    for (const queue of pending.values()) for (const p of queue) p.reject(error);
    pending.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`the AES-256-CFB thread exited (${code})`)));
  // Listeners first: attaching one refs the thread again.
  worker.unref();
  thread = worker;
  return worker;
}

// One CFB stream (zero IV, as OpenPGP's integrity-protected packet wants): each
// update's result arrives in order; several may be in flight.
export class CfbStream {
  private readonly id = nextId++;
  private readonly worker = cfbThread();
  constructor(key: Buffer, decrypt: boolean) {
    this.worker.postMessage({ id: this.id, op: 'open', key: new Uint8Array(key), decrypt });
  }
  private expect(): Promise<Buffer> {
    if (waiting === 0) this.worker.ref();
    waiting += 1;
    return new Promise((resolve, reject) => {
      const queue = pending.get(this.id) ?? [];
      queue.push({ resolve, reject });
      pending.set(this.id, queue);
    });
  }
  update(data: Buffer): Promise<Buffer> {
    const reply = this.expect();
    this.worker.postMessage({ id: this.id, op: 'update', data });
    return reply;
  }
  final(): Promise<Buffer> {
    const reply = this.expect();
    this.worker.postMessage({ id: this.id, op: 'final' });
    return reply;
  }
}
