import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../../common/failures';

// Lifts the activity's own message to the workflow failure, so the Web UI and
// the CLI show "authentication failed for ..." instead of "activity failed".
export function explainFailure(step: string, error: unknown, context = ''): ApplicationFailure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  const message = cause instanceof Error ? cause.message : String(cause);
  const type = cause instanceof ApplicationFailure && cause.type ? cause.type : FailureType.StepFailed;
  return ApplicationFailure.create({
    message: `${step} failed: ${message}${context ? `; ${context}` : ''}`,
    type,
    nonRetryable: true,
    details: cause instanceof ApplicationFailure ? (cause.details as unknown[] | undefined) : undefined,
  });
}

// The activity's own message, for a failure reported inside another one (a compensation's, a warning).
export function describe(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
