import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config/config.schema.ts';
import type { Logger } from '../src/infra/logger.ts';
import type { ObjectStorage } from '../src/infra/storage.ts';
import type { JobResult } from '../src/jobs/job-types.ts';
import type { LiveSlots } from './live-slots.ts';

/** What a worker handler may touch: storage, Redis (through the job), its config. Never the database. */
export interface WorkerDeps {
  config: Config;
  storage: ObjectStorage;
  log: Logger;
  /** Redis (live jobs read their control keys; never the database). */
  redis?: Redis;
  /** The ingest URL a live job pulls a lesson's stream from (carries the worker token: log it scrubbed). */
  livePullUrl?: (lessonId: string) => string;
  /** The worker's live slots and heartbeat (live jobs take one while they run). */
  liveSlots?: LiveSlots;
}

/**
 * A job handler: reads job.data (validated with the job's zod schema), does its media work, and
 * returns the result the catalog applies. Throw `PermanentJobError` for input that will never work
 * (the job fails at once, no retries); any other error is retried with backoff.
 */
export type JobHandler<P = unknown> = (job: Job<P>, deps: WorkerDeps, signal: AbortSignal) => Promise<JobResult>;
