import { ApplicationFailure } from '@temporalio/common';
import { execFile } from 'node:child_process';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FailureType } from '../../common/failures';
import { processDuplex, processOutput, ProcessFailed } from '../archive/processStream';
import type { ResticRepository } from './repository';

export interface ResticBackupSummary {
  snapshotId: string;
  dataAdded: number;
  totalBytesProcessed: number;
}

// Debian's restic 0.14 CLI. Credentials travel only in the child's environment.
export class Restic {
  constructor(
    readonly repository: ResticRepository,
    readonly binary = 'restic',
  ) {}

  private get env(): NodeJS.ProcessEnv {
    return { ...process.env, ...this.repository.env, RESTIC_REPOSITORY: this.repository.location };
  }

  private run(args: string[], timeoutMs = 600_000): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.binary, args, { env: this.env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error) reject(this.failure(`restic ${args[0]} on ${this.repository.location} failed: ${(stderr || error.message).trim().split('\n').slice(-3).join(' | ')}`));
        else resolve(stdout);
      });
    });
  }

  // Creates the repository on first use.
  async ensureRepository(): Promise<void> {
    if (!(await this.exists())) await this.run(['init'], 120_000);
  }

  async backupStdin(input: Readable, options: { filename: string; host: string; tags: string[] }): Promise<ResticBackupSummary> {
    const args = ['backup', '--stdin', '--stdin-filename', options.filename, '--host', options.host, '--json', ...options.tags.flatMap((t) => ['--tag', t])];
    const child = processDuplex(this.binary, args, { env: this.env });
    let output = '';
    try {
      await pipeline(input, child, async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) output = (output + chunk.toString('utf8')).slice(-64 * 1024);
      });
    } catch (error) {
      if (error instanceof ProcessFailed) throw this.failure(`restic backup to ${this.repository.location} failed: ${error.message}`);
      throw error;
    }
    const summary = output
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((m) => m.message_type === 'summary');
    if (!summary || typeof summary.snapshot_id !== 'string') throw this.failure(`restic backup printed no summary with a snapshot id`);
    return { snapshotId: summary.snapshot_id, dataAdded: Number(summary.data_added ?? 0), totalBytesProcessed: Number(summary.total_bytes_processed ?? 0) };
  }

  // After "--": an id or path from storage is never taken for an option.
  dump(snapshotId: string, file: string): Readable {
    return processOutput(this.binary, ['dump', '--', snapshotId, file], { env: this.env });
  }

  async check(): Promise<void> {
    await this.run(['check'], 3_600_000);
  }

  // filter.tags: snapshots carrying every one of them.
  async snapshots(filter: { host?: string; tags?: string[] } = {}): Promise<Array<{ id: string; short_id: string; time: string; hostname: string; tags?: string[] }>> {
    const args = ['snapshots', '--json', ...(filter.host ? ['--host', filter.host] : []), ...(filter.tags ? ['--tag', filter.tags.join(',')] : [])];
    return JSON.parse(await this.run(args, 120_000)) as Array<{
      id: string;
      short_id: string;
      time: string;
      hostname: string;
      tags?: string[];
    }>;
  }

  // False when nothing was ever backed up to it (no config file yet).
  async exists(): Promise<boolean> {
    try {
      await this.run(['cat', 'config'], 120_000);
      return true;
    } catch (error) {
      if (/does not exist|unable to open config|Is there a repository/i.test((error as Error).message)) return false;
      throw error;
    }
  }

  async forget(snapshotIds: string[]): Promise<void> {
    if (snapshotIds.length) await this.run(['forget', '--', ...snapshotIds], 600_000);
  }

  // Removes the data no snapshot references any more; holds the repository's exclusive lock meanwhile.
  async prune(timeoutMs: number): Promise<void> {
    await this.run(['prune'], timeoutMs);
  }

  private failure(message: string): ApplicationFailure {
    return ApplicationFailure.create({ message, type: FailureType.ResticError });
  }
}
