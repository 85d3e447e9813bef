import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  paginateListObjectsV2,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3StorageTarget } from '../../config/schema';
import type { StorageBackend, StoredObject } from './backend';
import { checkStorageKey, StorageObjectNotFound } from './backend';

const MiB = 1024 * 1024;

// An S3 bucket (AWS or any S3-compatible store such as MinIO). Objects only
// become visible when their upload completes, so readers never see a torn one.
export class S3ObjectStorage implements StorageBackend {
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(
    readonly target: S3StorageTarget,
    readonly credentials: { accessKeyId: string; secretAccessKey: string } | undefined,
  ) {
    this.prefix = target.prefix && !target.prefix.endsWith('/') ? `${target.prefix}/` : target.prefix;
    this.client = new S3Client({
      region: target.region,
      endpoint: target.endpoint,
      forcePathStyle: target.forcePathStyle,
      credentials,
    });
  }

  locate(key: string): string {
    return `s3://${this.target.bucket}/${this.prefix}${key}`;
  }

  // Same key rules as the local backend, so one set of keys works (and is refused) on both.
  async put(key: string, body: Readable | Buffer, options?: { contentType?: string }): Promise<void> {
    this.refuseKeyOf(key, body);
    let sourceError: unknown;
    if (!Buffer.isBuffer(body)) body.once('error', (error) => (sourceError = error));
    try {
      await this.upload(key, body, options?.contentType).done();
    } catch (error) {
      // Like stream.pipeline, on every path: a failed upload must not leave the producer blocked on backpressure.
      if (!Buffer.isBuffer(body)) body.destroy();
      // The producer's own failure (e.g. tar died) is more useful to the caller than a wrapped one.
      if (error === sourceError) throw error;
      throw this.failure('PutObject', key, error);
    }
  }

  // A refused key leaves no producer blocked on a stream nobody reads.
  private refuseKeyOf(key: string, body: Readable | Buffer): void {
    try {
      checkStorageKey(key);
    } catch (error) {
      if (!Buffer.isBuffer(body)) body.destroy();
      throw error;
    }
  }

  // One PutObject for bodies under a part, otherwise a multipart upload that S3 only publishes on completion.
  private upload(key: string, body: Readable | Buffer, contentType: string | undefined): Upload {
    return new Upload({
      client: this.client,
      params: {
        Bucket: this.target.bucket,
        Key: this.prefix + key,
        Body: body,
        ContentType: contentType ?? 'application/octet-stream',
        ServerSideEncryption: this.target.serverSideEncryption,
        SSEKMSKeyId: this.target.kmsKeyId,
      },
      partSize: this.target.partSizeMiB * MiB,
      queueSize: 4,
      // Abandoned parts cost storage and are invisible to list(): always abort them.
      leavePartsOnError: false,
    });
  }

  async get(key: string): Promise<Readable> {
    checkStorageKey(key);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.target.bucket, Key: this.prefix + key }));
      if (!(response.Body instanceof Readable)) throw new Error('response body is not a Node stream');
      return response.Body;
    } catch (error) {
      if (isNotFound(error)) throw new StorageObjectNotFound(this.locate(key));
      throw this.failure('GetObject', key, error);
    }
  }

  async stat(key: string): Promise<StoredObject | null> {
    checkStorageKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.target.bucket, Key: this.prefix + key }));
      return { key, size: head.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw this.failure('HeadObject', key, error);
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    checkStorageKey(prefix, { prefix: true });
    const found: StoredObject[] = [];
    try {
      const pages = paginateListObjectsV2({ client: this.client }, { Bucket: this.target.bucket, Prefix: this.prefix + prefix });
      for await (const page of pages) {
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined) continue;
          found.push({ key: object.Key.slice(this.prefix.length), size: object.Size ?? 0 });
        }
      }
    } catch (error) {
      throw this.failure('ListObjectsV2', prefix, error);
    }
    // Same order as the local backend (JS string order), whatever order the store uses.
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    checkStorageKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.target.bucket, Key: this.prefix + key }));
    } catch (error) {
      throw this.failure('DeleteObject', key, error);
    }
  }

  async probe(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.target.bucket }));
    } catch (error) {
      throw await this.probeFailure(error);
    }
  }

  // HeadBucket answers without a body, so a 403 does not say why; a one-key
  // listing does (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied).
  private async probeFailure(error: unknown): Promise<Error> {
    const where = this.target.endpoint ?? `AWS S3 (${this.target.region})`;
    const bucket = this.target.bucket;
    if (isNotFound(error)) return new Error(`bucket "${bucket}" does not exist at ${where}`, { cause: error });
    if (httpStatus(error) !== 403) return this.failure('HeadBucket', '', error);
    let code = 'AccessDenied';
    try {
      await this.client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }));
    } catch (listError) {
      if (listError instanceof S3ServiceException) code = listError.name;
    }
    const keyId = this.credentials ? `access key id "${this.credentials.accessKeyId}"` : 'the credentials from the AWS default chain';
    const reason =
      code === 'InvalidAccessKeyId'
        ? `${keyId} is not known there`
        : code === 'SignatureDoesNotMatch'
          ? `the secret access key for ${keyId} is wrong`
          : `${keyId} may not list bucket "${bucket}" (it needs s3:ListBucket)`;
    return new Error(`S3 at ${where} refused HeadBucket on "${bucket}" (${code}): ${reason}`, { cause: error });
  }

  private failure(operation: string, key: string, error: unknown): Error {
    const detail = error instanceof S3ServiceException ? errorCode(error) : this.redact(String((error as Error)?.message ?? error));
    return new Error(`S3 ${operation} ${this.locate(key)} failed: ${detail}`, { cause: error });
  }

  // Network and SDK messages should never contain the secret; make sure of it.
  private redact(text: string): string {
    const secret = this.credentials?.secretAccessKey;
    return secret ? text.split(secret).join('<secret access key>') : text;
  }
}

function httpStatus(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

// Bodiless responses (HEAD) leave the SDK only a generic name, so the HTTP status is named too.
function errorCode(error: S3ServiceException): string {
  const status = error.$metadata.httpStatusCode;
  return status ? `${error.name} (HTTP ${status})` : error.name;
}

// A missing bucket is a configuration error, not a missing object; HEAD cannot
// tell them apart (both bodiless 404s), which is what probe() is for.
function isNotFound(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.name === 'NoSuchKey' || (error.name === 'NotFound' && httpStatus(error) === 404));
}
