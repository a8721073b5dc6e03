import type { Db, Queryable } from '../infra/db.ts';
import type { Logger } from '../infra/logger.ts';
import { jobResultSchema, queueNames, type JobResult } from '../jobs/job-types.ts';
import type { QueueFactory } from '../infra/queue.ts';
import { claimJobResult, findAsset, markAssetFailed, markAssetReady } from '../infra/assets.repo.ts';
import { changeStatus } from './lesson-store.ts';
import { lessonOfSubject, lockLesson } from '../infra/lessons.repo.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import { failureCodeOf } from '../domain/processing-failures.ts';

/** Applies one kind of job result inside a transaction. */
export type ResultApplier = (q: Queryable, r: JobResult) => Promise<void>;

/**
 * The catalog side of the job pipeline: workers never touch the database; their results arrive here
 * and are applied once each (a result key applied twice changes nothing).
 */
export class JobResultsService {
  private readonly appliers = new Map<string, ResultApplier>();

  constructor(private readonly db: Db, private readonly log: Logger) {
    this.appliers.set('transcode', applyTranscode);
  }

  register(kind: string, applier: ResultApplier): void {
    this.appliers.set(kind, applier);
  }

  /**
   * Takes results off the results queue (any number of API processes; each result applied once) and
   * tells `onLessonChanged` about the lesson whose view an applied result changed.
   */
  listen(queues: QueueFactory, onLessonChanged: (lessonId: string) => Promise<void>): void {
    queues.worker(queueNames.results, async (job) => {
      const r = jobResultSchema.parse(job.data);
      if (!(await this.apply(r))) return;
      this.log.info({ kind: r.kind, subjectId: r.subjectId, ok: r.ok }, 'job result applied');
      const lessonId = await lessonOfSubject(this.db, r.subjectId);
      if (lessonId) await onLessonChanged(lessonId);
    }, { concurrency: 4 });
  }

  /** Applies a result; returns false when it was already applied or its kind is unknown. */
  async apply(r: JobResult): Promise<boolean> {
    const applier = this.appliers.get(r.kind);
    if (!applier) {
      this.log.warn({ kind: r.kind, key: r.key }, 'job result of unknown kind ignored');
      return false;
    }
    return this.db.tx(async (q) => {
      if (!(await claimJobResult(q, r.key))) return false;
      await applier(q, r);
      return true;
    });
  }
}

/** A finished (or permanently failed) transcode of an uploaded version. */
async function applyTranscode(q: Queryable, r: JobResult): Promise<void> {
  const asset = await findAsset(q, r.subjectId);
  if (!asset) return;
  const lesson = await lockLesson(q, asset.lesson_id);
  const current = lesson.current_asset_id === asset.id;
  if (r.ok) {
    const durationS = typeof r.data.durationS === 'number' ? r.data.durationS : null;
    await markAssetReady(q, asset.id, durationS, r.data);
    await writeAudit(q, { actor: 'worker', entity: 'asset', entityId: asset.id, action: 'processing_succeeded', from: asset.state, to: 'ready' });
    if (current && lesson.status === 'processing') await changeStatus(q, lesson, 'processing_succeeded', 'worker', null, { assetId: asset.id });
  } else {
    const error = r.error ?? 'processing failed';
    await markAssetFailed(q, asset.id, error, failureCodeOf(r));
    await writeAudit(q, { actor: 'worker', entity: 'asset', entityId: asset.id, action: 'processing_failed', from: asset.state, to: 'failed', reason: error });
    if (current && lesson.status === 'processing') await changeStatus(q, lesson, 'processing_failed', 'worker', error, { assetId: asset.id });
  }
}
