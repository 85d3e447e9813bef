import { ApplicationFailure } from '@temporalio/common';
import path from 'node:path';
import { z } from 'zod';
import { RESTIC_REPOSITORY_FOLDER } from '../../common/backupSetLayout';
import { FailureType } from '../../common/failures';
import type { RabbitvaultConfig } from '../../config/schema';
import { storageTarget } from '../storage/openStorage';
import { resolveSecret } from '../secrets/resolveSecret';

// A data-directory set taken with restic holds one pointer object per node
// (<node>.restic.json, common/backupSetLayout.ts). The pointer as read back from storage: its id and path become restic
// arguments, so only the forms our backups write pass. restic 0.14's backup
// summary gives the 8-hex short id; the full 64-hex id is accepted too.
export const ResticPointer = z.looseObject({
  repository: z.string().max(4096),
  snapshotId: z.string().regex(/^(?:[0-9a-f]{64}|[0-9a-f]{8})$/, 'must be a restic snapshot id (8 or 64 lowercase hex digits)'),
  file: z
    .string()
    .regex(/^\/[A-Za-z0-9._@-]{1,255}$/, 'must be "/" and a file name of letters, digits, ".", "_", "@" or "-"')
    .refine((f) => f !== '/.' && f !== '/..', 'must not be "." or ".."'),
});
export type ResticPointer = z.infer<typeof ResticPointer>;
export const RESTIC_POINTER_MAX_BYTES = 64 * 1024;

export interface ResticRepository {
  // Where the repository lives, without any secret: safe for manifests and messages.
  location: string;
  env: NodeJS.ProcessEnv;
}

// One restic repository per storage target, beside the backup sets:
// <path>/restic (local) or s3:<endpoint>/<bucket>/<prefix>restic.
export function resticRepository(config: RabbitvaultConfig, storage: string | undefined): ResticRepository {
  const { name, target } = storageTarget(config, storage);
  const field = `storage.targets.${name}`;
  if (!target.resticPassword) {
    throw ApplicationFailure.create({
      message: `${field}.resticPassword is not set: the restic method needs a repository password (a secret reference)`,
      type: FailureType.InvalidInput,
      nonRetryable: true,
    });
  }
  const env: NodeJS.ProcessEnv = { RESTIC_PASSWORD: resolveSecret(target.resticPassword, `${field}.resticPassword`) };
  if (target.type === 'local') return { location: path.join(target.path, RESTIC_REPOSITORY_FOLDER), env };
  const endpoint = (target.endpoint ?? `https://s3.${target.region}.amazonaws.com`).replace(/\/+$/, '');
  const prefix = target.prefix && !target.prefix.endsWith('/') ? `${target.prefix}/` : target.prefix;
  if (target.accessKeyId && target.secretAccessKey) {
    env.AWS_ACCESS_KEY_ID = resolveSecret(target.accessKeyId, `${field}.accessKeyId`);
    env.AWS_SECRET_ACCESS_KEY = resolveSecret(target.secretAccessKey, `${field}.secretAccessKey`);
  }
  env.AWS_DEFAULT_REGION = target.region;
  return { location: `s3:${endpoint}/${target.bucket}/${prefix}${RESTIC_REPOSITORY_FOLDER}`, env };
}
