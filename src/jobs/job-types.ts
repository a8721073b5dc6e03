import { z } from 'zod';

/**
 * Queues and their job payloads and results. Workers are stateless media functions: their input is
 * the payload plus object storage, their output object storage plus the result. The catalog applies
 * results (queue `results`) idempotently.
 */
export const queueNames = {
  transcode: 'transcode',
  live: 'live',
  cable: 'cable',
  results: 'results',
} as const;
export type QueueName = (typeof queueNames)[keyof typeof queueNames];

/** Job ids derive from the subject so that a re-queue of the same work is a no-op. BullMQ ids cannot hold ':'. */
export const jobIds = {
  transcode: (assetId: string) => `transcode-${assetId}`,
  live: (sessionId: string) => `live-${sessionId}`,
  cable: (packageId: string, version: number) => `cable-${packageId}-v${version}`,
  result: (kind: string, subjectId: string, attempt: string) => `result-${kind}-${subjectId}-${attempt}`,
};

/** A result sent back to the catalog: `kind` picks the applier, `key` makes applying idempotent. */
export const jobResultSchema = z.object({
  kind: z.string(),
  key: z.string(),
  subjectId: z.string(),
  ok: z.boolean(),
  /** Failed: the message for people (English; clients show `errorCode` translated). */
  error: z.string().optional(),
  /** Failed: the machine code (src/domain/processing-failures.ts). */
  errorCode: z.string().optional(),
  data: z.record(z.string(), z.unknown()).default({}),
});
export type JobResult = z.infer<typeof jobResultSchema>;
