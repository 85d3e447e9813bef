import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, openSync } from 'node:fs';
import { ensureGoTool, MINIO } from './goTools';
import { assertPortFree, waitFor } from './ports';
import { SetupError, step } from './progress';
import { stopChild } from './temporal';

export interface RunningMinio {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

export const MINIO_ROOT_USER = 'minioadmin';
export const MINIO_ROOT_PASSWORD = 'minioadmin';
// MinIO's built-in single-key KMS, so SSE-S3 (AES256) and SSE-KMS work in the dev stack.
// Derived from a fixed string: it protects nothing and must stay stable across restarts.
export const MINIO_KMS_KEY_NAME = 'rabbitvault-dev';
const MINIO_KMS_SECRET_KEY = `${MINIO_KMS_KEY_NAME}:${createHash('sha256').update('rabbitvault dev MinIO KMS key').digest('base64')}`;

export async function startMinio(options: { port: number; dataDir: string; logFile: string }): Promise<RunningMinio> {
  const binary = await ensureGoTool(MINIO);
  await assertPortFree(options.port, 'MinIO', 'stop what listens there or choose another port');
  mkdirSync(options.dataDir, { recursive: true });
  const endpoint = `http://127.0.0.1:${options.port}`;
  step(`starting MinIO on ${endpoint}`);
  const log = openSync(options.logFile, 'a');
  const child = spawn(binary, ['server', options.dataDir, '--address', `127.0.0.1:${options.port}`, '--quiet'], {
    env: {
      ...process.env,
      MINIO_ROOT_USER,
      MINIO_ROOT_PASSWORD,
      MINIO_BROWSER: 'off',
      MINIO_UPDATE: 'off',
      MINIO_KMS_SECRET_KEY,
    },
    stdio: ['ignore', log, log],
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  await waitFor(
    `MinIO on ${endpoint} (log: ${options.logFile})`,
    async () => {
      if (exited) throw new SetupError(`MinIO exited before it was ready (log: ${options.logFile})`);
      return (await fetch(`${endpoint}/minio/health/live`)).ok;
    },
    60_000,
  );
  return { endpoint, accessKeyId: MINIO_ROOT_USER, secretAccessKey: MINIO_ROOT_PASSWORD, stop: () => stopChild(child) };
}

