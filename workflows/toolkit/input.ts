import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { FailureType } from '../../common/failures';
import { describeIssues } from '../../common/describeIssues';

// Invalid input fails the workflow at once, naming every bad field; a plain
// Error here would only fail the task and retry forever.
export function parseWorkflowInput<S extends z.ZodType>(schema: S, raw: unknown, workflow: string): z.output<S> {
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw ApplicationFailure.create({
      message: `invalid ${workflow} input: ${describeIssues(parsed.error)}`,
      type: FailureType.InvalidInput,
      nonRetryable: true,
    });
  }
  return parsed.data;
}
