import { Readable } from 'node:stream';

// A stream whose first chunks were already read off an iterator (to peek at a
// header): those chunks, then the rest of the iterator, as one byte stream.
// Destroyed early (a refusal, a failed restore), it closes the source too.
export function resumedStream(alreadyRead: Buffer[], rest: AsyncIterator<Buffer>): Readable {
  return Readable.from(
    (async function* () {
      try {
        for (const chunk of alreadyRead) if (chunk.length) yield chunk;
        for (;;) {
          const next = await rest.next();
          if (next.done) return;
          yield next.value;
        }
      } finally {
        await rest.return?.();
      }
    })(),
    { objectMode: false },
  );
}
