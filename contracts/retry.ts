import { z } from 'zod';

// Durations are inputs so an operator can tune them and tests can shorten them.
export const RetryInput = z
  .object({
    initialIntervalSeconds: z.number().positive().max(3600).default(2),
    maximumIntervalSeconds: z.number().positive().max(3600).default(60),
    maximumAttempts: z.number().int().min(1).max(1000).default(8),
    // How long one attempt of one step may take before it is retried elsewhere
    // (also how long a step waits for a worker that died mid-attempt).
    attemptTimeoutSeconds: z.number().positive().max(86400).default(600),
  })
  .strict();
export type RetryInput = z.infer<typeof RetryInput>;

// The retry field of every workflow input: absent, every default above.
export const retryField = RetryInput.default(RetryInput.parse({}));
