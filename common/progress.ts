import { defineQuery } from '@temporalio/workflow';

export interface Progress {
  step: string;
  detail?: string;
  stepsDone: number;
  // The latest steps as printed lines (at most PROGRESS_LOG_SIZE), so a
  // follower that polls less often than steps change still shows every one.
  log?: string[];
}

export const PROGRESS_LOG_SIZE = 50;

export function progressLine(step: string, detail?: string): string {
  return `${step}${detail ? `: ${detail}` : ''}`;
}

// Every workflow answers this query; `--wait` and the Web UI read it live.
export const progressQuery = defineQuery<Progress>('progress');
