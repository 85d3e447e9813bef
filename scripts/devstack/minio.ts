import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { ensureGoTool, MINIO } from './goTools';
import { assertPortFree, waitFor } from './ports';
import { step } from './progress';
import { stopChild } from './temporal';

export interface RunningMinio {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

export const MINIO_ROOT_USER = 'minioadmin';
export const MINIO_ROOT_PASSWORD = 'minioadmin';

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
      if (exited) throw new Error('exited');
      return (await fetch(`${endpoint}/minio/health/live`)).ok;
    },
    60_000,
  );
  return { endpoint, accessKeyId: MINIO_ROOT_USER, secretAccessKey: MINIO_ROOT_PASSWORD, stop: () => stopChild(child) };
}

