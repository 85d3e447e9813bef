// The worker thread behind lib/encryption/cfbThread.ts: AES-256-CFB streams,
// one per id, each answered in the order its chunks came.
import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

type Request = { id: number; op: 'open'; key: Uint8Array; decrypt: boolean } | { id: number; op: 'update'; data: Uint8Array } | { id: number; op: 'final' };

const streams = new Map<number, Cipher | Decipher>();

parentPort?.on('message', (request: Request) => {
  try {
    if (request.op === 'open') {
      const key = Buffer.from(request.key);
      streams.set(request.id, request.decrypt ? createDecipheriv('aes-256-cfb', key, Buffer.alloc(16)) : createCipheriv('aes-256-cfb', key, Buffer.alloc(16)));
      key.fill(0);
      return;
    }
    const stream = streams.get(request.id);
    if (!stream) throw new Error(`no CFB stream ${request.id}`);
    if (request.op === 'update') {
      const out = stream.update(request.data);
      parentPort!.postMessage({ id: request.id, data: out });
      return;
    }
    const out = stream.final();
    streams.delete(request.id);
    parentPort!.postMessage({ id: request.id, data: out, final: true });
  } catch (error) {
    streams.delete(request.id);
    parentPort!.postMessage({ id: request.id, error: (error as Error).message });
  }
});
