import { UnrecoverableError, type Job, type Worker } from 'bullmq';
import type { QueueFactory } from '../src/infra/queue.ts';
import { jobIds, queueNames, type JobResult, type QueueName } from '../src/jobs/job-types.ts';
import { PermanentJobError } from '../src/jobs/permanent-error.ts';
import { isProcessingFailureCode, type ProcessingFailure } from '../src/domain/processing-failures.ts';
import type { JobHandler, WorkerDeps } from './handler-types.ts';

/** One queue's handler and how to name the subject of a failed job's result. */
export interface HandlerEntry {
  handler: JobHandler<never>;
  /** Result kind the catalog applies (`transcode`, `live`, `cable`). */
  kind: string;
  /** The subject id a job's result is about (asset, session, package). */
  subject: (data: Record<string, unknown>) => string;
  concurrency: number;
  /** BullMQ lock duration: a worker that stops renewing it for this long is considered dead. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Times a job may stall (its worker died) and be picked up again before it fails; default 3. */
  maxStalledCount?: number;
  /** Abort running jobs when the worker closes (long jobs hand over instead of holding a shutdown). */
  abortOnClose?: boolean;
}

export type HandlerMap = Partial<Record<Exclude<QueueName, 'results'>, HandlerEntry>>;

/** Sends a result to the catalog (queue `results`); the catalog applies each result key once. */
export async function postResult(queues: QueueFactory, r: JobResult, tag: string): Promise<void> {
  await queues.add(queueNames.results, r.kind, r, {
    jobId: jobIds.result(r.kind, r.subjectId, tag),
    attempts: 20,
    backoff: { type: 'exponential', delay: 500 },
    removeOnComplete: { age: 3600, count: 1000 },
    removeOnFail: { age: 7 * 86400 },
  });
}

/**
 * Starts a BullMQ worker per handler. A handler's return value is posted as a result; a
 * PermanentJobError fails the job at once; the last failed attempt posts a failed result carrying the
 * message for the teacher.
 */
export function startJobWorkers(queues: QueueFactory, deps: WorkerDeps, handlers: HandlerMap): Worker[] {
  const workers: Worker[] = [];
  for (const [queue, entry] of Object.entries(handlers) as [Exclude<QueueName, 'results'>, HandlerEntry][]) {
    const aborts = new Map<string, AbortController>();
    const w = queues.worker<Record<string, unknown>, JobResult>(
      queue,
      async (job: Job<Record<string, unknown>>) => {
        const ac = new AbortController();
        aborts.set(String(job.id), ac);
        const log = deps.log.child({ queue, jobId: job.id, subject: safeSubject(entry, job.data) });
        try {
          log.info({ attempt: job.attemptsMade + 1 }, 'job started');
          const result = await entry.handler(job as unknown as Job<never>, { ...deps, log }, ac.signal);
          await postResult(queues, result, `ok-${job.id}`);
          log.info({ ok: result.ok }, 'job finished');
          return result;
        } catch (err) {
          if (err instanceof PermanentJobError) {
            log.warn({ code: err.code, reason: err.message }, 'job failed permanently');
            // BullMQ fails an UnrecoverableError at once; the code rides along to the 'failed' event.
            throw Object.assign(new UnrecoverableError(err.message), { failureCode: err.code });
          }
          log.warn({ err, attempt: job.attemptsMade + 1 }, 'job attempt failed');
          throw err;
        } finally {
          aborts.delete(String(job.id));
        }
      },
      {
        concurrency: entry.concurrency,
        lockDuration: entry.lockDurationMs ?? deps.config.JOB_LOCK_S * 1000,
        stalledInterval: entry.stalledIntervalMs ?? deps.config.JOB_LOCK_S * 1000,
        maxStalledCount: entry.maxStalledCount ?? 3,
      },
    );
    if (entry.abortOnClose) w.on('closing', () => {
      for (const ac of aborts.values()) ac.abort();
    });
    w.on('failed', (job, err) => {
      if (!job) return;
      const attempts = job.opts.attempts ?? 1;
      const final = err instanceof UnrecoverableError || err.name === 'UnrecoverableError' || job.attemptsMade >= attempts;
      if (!final) return;
      const subjectId = safeSubject(entry, job.data);
      const failure = finalFailure(err, job.attemptsMade);
      void postResult(queues, { kind: entry.kind, key: `${entry.kind}:${subjectId}`, subjectId, ok: false, error: failure.message, errorCode: failure.code, data: {} }, `fail-${job.id}`).catch((e) =>
        deps.log.error({ err: e, jobId: job.id }, 'could not post the failure result'),
      );
    });
    workers.push(w);
  }
  return workers;
}

/** The code and message of a job's final failure: the handler's own, or "retries exhausted". */
function finalFailure(err: Error, attemptsMade: number): ProcessingFailure {
  const code = (err as { failureCode?: unknown }).failureCode;
  if (isProcessingFailureCode(code)) return { code, message: err.message };
  if (err.name === 'UnrecoverableError' || err instanceof UnrecoverableError) return { code: 'processing_failed', message: err.message };
  return { code: 'retries_exhausted', message: `processing failed after ${attemptsMade} attempts: ${err.message}` };
}

function safeSubject(entry: HandlerEntry, data: Record<string, unknown>): string {
  try {
    return entry.subject(data);
  } catch {
    return 'unknown';
  }
}
