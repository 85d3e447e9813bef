import { ActivityFailure, ApplicationFailure, proxyActivities, setHandler } from '@temporalio/workflow';
import type { z } from 'zod';
import type { Activities } from '../../activities';
import type { ResolvedSet } from '../../activities/backupSets/backupSets';
import type { Component } from '../../common/names';
import { FailureType, nonRetryableFailureTypes } from '../../common/failures';
import { PROGRESS_LOG_SIZE, progressLine, progressQuery, type Progress } from '../../common/progress';
import { describeIssues, type RetryInput } from '../../common/workflowInputs';

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

// heartbeatTimeoutSeconds: for long steps that heartbeat their checkpoint; a
// silent one is then retried from it instead of waiting out the attempt timeout.
export function activitiesWithRetry(retry: RetryInput, heartbeatTimeoutSeconds?: number) {
  return proxyActivities<Activities>({
    startToCloseTimeout: retry.attemptTimeoutSeconds * 1000,
    ...(heartbeatTimeoutSeconds ? { heartbeatTimeout: heartbeatTimeoutSeconds * 1000 } : {}),
    retry: {
      initialInterval: retry.initialIntervalSeconds * 1000,
      maximumInterval: retry.maximumIntervalSeconds * 1000,
      backoffCoefficient: 2,
      maximumAttempts: retry.maximumAttempts,
      nonRetryableErrorTypes: nonRetryableFailureTypes,
    },
  });
}

// Steps an operator can follow live (`--wait`, Web UI queries).
export function trackProgress(): (step: string, detail?: string) => void {
  const current: Progress = { step: 'starting', stepsDone: 0, log: [] };
  setHandler(progressQuery, () => current);
  return (step, detail) => {
    current.stepsDone += 1;
    current.step = step;
    current.detail = detail;
    current.log = [...(current.log ?? []), progressLine(step, detail)].slice(-PROGRESS_LOG_SIZE);
  };
}

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

// The first step of every restore: resolve the set and re-hash every artifact.
// Any mismatch stops the restore here, before it touches anything.
export async function verifiedSetOrRefuse(
  act: ReturnType<typeof activitiesWithRetry>,
  request: { storage?: string; cluster: string; component: Component; set: string },
  untouched = 'the target was not touched',
): Promise<ResolvedSet> {
  const { set, report } = await act.verifyBackupSet(request).catch((error: unknown) => {
    throw explainFailure('verifying the backup set', error, untouched);
  });
  if (!report.ok) {
    throw ApplicationFailure.create({
      message: `backup set ${report.setId} failed verification (${report.problems.map((p) => `${p.artifact}: ${p.problem}`).join('; ')}); ${untouched}`,
      type: FailureType.ManifestChecksumMismatch,
      nonRetryable: true,
      details: [report],
    });
  }
  return set;
}
