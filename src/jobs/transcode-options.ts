import type { JobsOptions } from 'bullmq';
import type { Config } from '../../config/config.schema.ts';

/**
 * Retries with backoff for transient errors (storage unreachable, ffmpeg killed), TRANSCODE_ATTEMPTS
 * attempts with TRANSCODE_RETRY_DELAY_MS doubling; permanent ones fail at once.
 */
export function transcodeJobOptions(config: Pick<Config, 'TRANSCODE_ATTEMPTS' | 'TRANSCODE_RETRY_DELAY_MS'>): JobsOptions {
  return {
    attempts: config.TRANSCODE_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.TRANSCODE_RETRY_DELAY_MS },
    removeOnComplete: { age: 7 * 86400, count: 5000 },
    removeOnFail: { age: 30 * 86400 },
  };
}
