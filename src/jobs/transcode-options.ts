import type { JobsOptions } from 'bullmq';

/** Retries with backoff for transient errors (storage unreachable, ffmpeg killed); permanent ones fail at once. */
export const transcodeJobOptions: JobsOptions = {
  attempts: 4,
  backoff: { type: 'exponential', delay: 5_000 },
  removeOnComplete: { age: 7 * 86400, count: 5000 },
  removeOnFail: { age: 30 * 86400 },
};
