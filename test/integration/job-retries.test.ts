import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';
import { startJobWorkers, type HandlerEntry } from '../../workers/worker.ts';
import { jobIds, queueNames, type JobResult } from '../../src/jobs/job-types.ts';

/**
 * The worker's retry path (workers/worker.ts) on real Redis and BullMQ: a transcode whose attempts keep
 * failing with an error worth retrying ends failed once TRANSCODE_ATTEMPTS are spent, and the catalog
 * records why for the teacher. The handler stands in for one whose storage or ffmpeg fails each time.
 */
let ts: TestSystem;
let workers: Worker[] = [];
/** Attempts seen per asset, and how many of them fail before one succeeds (Infinity: all fail). */
const attempts = new Map<string, number>();
const failuresBeforeSuccess = new Map<string, number>();

const flakyTranscode: HandlerEntry = {
  kind: 'transcode',
  subject: (d) => String(d.assetId),
  concurrency: 1,
  handler: async (job) => {
    const { assetId } = job.data as { assetId: string };
    const n = (attempts.get(assetId) ?? 0) + 1;
    attempts.set(assetId, n);
    if (n <= (failuresBeforeSuccess.get(assetId) ?? Infinity)) throw new Error(`storage unreachable: connect ECONNREFUSED (attempt ${n})`);
    return { kind: 'transcode', key: `transcode:${assetId}`, subjectId: assetId, ok: true, data: { durationS: 12 } } satisfies JobResult;
  },
};

beforeAll(async () => {
  ts = await startTestSystem({ api: true }, { TRANSCODE_ATTEMPTS: '3', TRANSCODE_RETRY_DELAY_MS: '20' });
  workers = startJobWorkers(ts.sys.queues, { config: ts.sys.config, storage: ts.sys.storage, log: ts.sys.log }, { transcode: flakyTranscode });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await ts?.stop();
});

/** A teacher's new recorded lesson with an upload queued; returns the lesson and asset ids. */
async function uploadedLesson(failures: number): Promise<{ lessonId: string; assetId: string }> {
  const teacher = ts.users.teacherA.token;
  const c = await ts.api('POST', '/api/v1/lessons', { token: teacher, body: lessonBody() });
  expect(c.status).toBe(201);
  const lessonId = c.body.id as string;
  const up = await ts.api('PUT', `/api/v1/lessons/${lessonId}/media?filename=lesson.mp4`, { token: teacher, raw: Buffer.from('bytes a worker never gets to read'), headers: { 'content-type': 'video/mp4' } });
  expect(up.status).toBe(202);
  failuresBeforeSuccess.set(up.body.assetId, failures);
  return { lessonId, assetId: up.body.assetId as string };
}

/** The lesson as its teacher sees it, once its processing has left queued/processing (bounded wait). */
async function settled(lessonId: string): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const r = await ts.api('GET', `/api/v1/lessons/${lessonId}`, { token: ts.users.teacherA.token });
    const state = r.body?.processing?.state;
    if (state && state !== 'queued' && state !== 'processing') return r.body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`lesson ${lessonId} still processing`);
}

describe('job retries (workers/worker.ts)', () => {
  it('when every attempt fails with a retryable error, then the job fails after TRANSCODE_ATTEMPTS and the teacher sees retries_exhausted with the last reason', async () => {
    const { lessonId, assetId } = await uploadedLesson(Infinity);
    const lesson = await settled(lessonId);
    expect(attempts.get(assetId)).toBe(3);
    expect(lesson.status).toBe('failed');
    expect(lesson.processing).toMatchObject({ state: 'failed', errorCode: 'retries_exhausted' });
    expect(lesson.processing.error).toBe('processing failed after 3 attempts: storage unreachable: connect ECONNREFUSED (attempt 3)');
    const job = await ts.sys.queues.queue(queueNames.transcode).getJob(jobIds.transcode(assetId));
    expect(await job?.getState()).toBe('failed');
    expect(job?.attemptsMade).toBe(3);
  });

  it('when attempts fail and a later one succeeds, then the version is ready for review and no failure is recorded', async () => {
    const { lessonId, assetId } = await uploadedLesson(2);
    const lesson = await settled(lessonId);
    expect(attempts.get(assetId)).toBe(3);
    expect(lesson.status).toBe('in_review');
    expect(lesson.processing).toMatchObject({ state: 'ready', error: null, errorCode: null });
  });
});
