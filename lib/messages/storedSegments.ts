import { createReadStream, createWriteStream } from 'node:fs';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ApplicationFailure } from '@temporalio/common';
import { artifactKey, artifactNameOf, queueSegmentsFolder, SEGMENT_EXTENSION, segmentName } from '../../common/backupSetLayout';
import { FailureType } from '../../common/failures';
import { refuseUntrusted } from '../../common/untrusted';
import type { StorageBackend } from '../storage/backend';
import { HashingCounter } from '../storage/hashingCounter';
import { fingerprint, readRecords, SEGMENT_CONTENT_TYPE, SegmentFormatError, type MessageRecord, type SegmentLimits } from './segmentFormat';
import type { StoredSegment } from './segmentWriter';

// A segment in storage is not the one the index describes (its size or SHA-256 differ).
export class SegmentMismatchError extends Error {
  override name = 'SegmentMismatchError';
}

// Hashes and counts the compressed bytes; refuses the first byte beyond `maxBytes`.
function segmentTap(maxBytes?: number): HashingCounter {
  return new HashingCounter({ maxBytes, tooLarge: (max) => new SegmentMismatchError(`is larger than the ${max} bytes the index lists`) });
}

// Size and SHA-256 as the index lists them, or the reason they differ.
function checkAgainstIndex(tap: HashingCounter, segment: StoredSegment): void {
  if (tap.bytes !== segment.artifact.size) throw new SegmentMismatchError(`is ${tap.bytes} bytes, the index lists ${segment.artifact.size}`);
  const sha256 = tap.sha256();
  if (sha256 !== segment.artifact.sha256) throw new SegmentMismatchError(`has SHA-256 ${sha256}, the index lists ${segment.artifact.sha256} (changed in storage since the set was verified?)`);
}

// Records of compressed segment bytes, through the bounded parser; gzip's own
// errors are format errors too. Every stream is closed when the reading stops.
async function* recordsOf(source: Readable, tap: Transform | undefined, limits: SegmentLimits): AsyncGenerator<MessageRecord> {
  const gunzip = createGunzip();
  // Any stream's error destroys the others, so it surfaces in the iteration below.
  const flowing = pipeline(tap ? [source, tap, gunzip] : [source, gunzip]).catch(() => undefined);
  try {
    yield* readRecords(gunzip, limits);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw new SegmentFormatError(`not valid gzip (${(error as Error).message})`);
    throw error;
  } finally {
    gunzip.destroy();
    await flowing;
  }
}

// Re-reads a segment our own drain wrote (resume after a crash): its size and
// SHA-256 as stored, its message count and, for dedupe, each message's
// fingerprint. At most maxMessages records: a drain segment never holds more.
export async function scanSegment(backend: StorageBackend, prefix: string, name: string, withFingerprints: boolean, maxMessages: number): Promise<StoredSegment & { fingerprints: string[] }> {
  const tap = segmentTap();
  let messages = 0;
  let bodyBytes = 0;
  const fingerprints: string[] = [];
  for await (const record of recordsOf(await backend.get(artifactKey(prefix, name)), tap, {})) {
    messages += 1;
    if (messages > maxMessages) throw new SegmentFormatError(`holds more than the ${maxMessages} messages a drain segment is closed at`);
    bodyBytes += record.body.length;
    if (withFingerprints) fingerprints.push(fingerprint(record));
  }
  return { artifact: { name, size: tap.bytes, sha256: tap.sha256(), contentType: SEGMENT_CONTENT_TYPE }, messages, bodyBytes, fingerprints };
}

// Reads a segment from storage as the index describes it, through the bounded
// parser, without keeping anything: size, SHA-256 and every record checked.
export async function checkStoredSegment(backend: StorageBackend, prefix: string, segment: StoredSegment): Promise<void> {
  const tap = segmentTap(segment.artifact.size);
  const source = await backend.get(artifactKey(prefix, segment.artifact.name));
  for await (const _record of recordsOf(source, tap, { messages: segment.messages, bodyBytes: segment.bodyBytes })) {
    // Each record is checked as it is parsed; nothing is kept.
  }
  checkAgainstIndex(tap, segment);
}

// Copies a segment to a local file, checking size and SHA-256 against the index
// on the way: what is published afterwards comes from these verified bytes,
// whatever storage holds by then.
export async function spoolStoredSegment(backend: StorageBackend, prefix: string, segment: StoredSegment, file: string): Promise<void> {
  const tap = segmentTap(segment.artifact.size);
  await pipeline(await backend.get(artifactKey(prefix, segment.artifact.name)), tap, createWriteStream(file));
  checkAgainstIndex(tap, segment);
}

// The records of a spooled segment, through the bounded parser.
export function spooledRecords(file: string, segment: StoredSegment): AsyncGenerator<MessageRecord> {
  return recordsOf(createReadStream(file), undefined, { messages: segment.messages, bodyBytes: segment.bodyBytes });
}

export async function listQueueSegments(backend: StorageBackend, prefix: string, queueIndex: number): Promise<string[]> {
  return (await backend.list(queueSegmentsFolder(prefix, queueIndex))).map((o) => artifactNameOf(prefix, o.key)).filter((n) => n.endsWith(SEGMENT_EXTENSION));
}

// Removes a queue's segments from number `keep` on (left by an earlier attempt of a copy).
export async function removeSegmentsFrom(backend: StorageBackend, prefix: string, queueIndex: number, keep: number): Promise<void> {
  const keepNames = new Set(Array.from({ length: keep }, (_, i) => segmentName(queueIndex, i)));
  for (const name of await listQueueSegments(backend, prefix, queueIndex)) {
    if (!keepNames.has(name)) await backend.delete(artifactKey(prefix, name));
  }
}

// The non-retryable failure for a segment refused by the parser or by its index
// entry, naming the set and the segment; undefined for any other error.
// `outcome` says what had changed by then, when something had.
export function segmentRefusal(set: string, name: string, error: unknown, outcome?: string): ApplicationFailure | undefined {
  const type = error instanceof SegmentFormatError ? FailureType.SegmentMalformed : error instanceof SegmentMismatchError ? FailureType.SegmentCorrupt : undefined;
  if (!type) return undefined;
  const source = { set, artifact: `segment ${name}` };
  if (!outcome) return refuseUntrusted(source, (error as Error).message, type);
  return ApplicationFailure.create({ message: `backup set ${set}, segment ${name}: ${(error as Error).message}; ${outcome}`, type, nonRetryable: true });
}
