import { defineQuery } from '@temporalio/workflow';

export interface Progress {
  step: string;
  detail?: string;
  stepsDone: number;
}

// Every workflow answers this query; `--wait` and the Web UI read it live.
export const progressQuery = defineQuery<Progress>('progress');
