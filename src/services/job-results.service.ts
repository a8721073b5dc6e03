import type { Db, Queryable } from '../infra/db.ts';
import type { Logger } from '../infra/logger.ts';
import type { JobResult } from '../jobs/job-types.ts';
import type { AssetRow } from '../domain/types.ts';
import { changeStatus, lockLesson } from './lesson-store.ts';
import { writeAudit } from './audit.ts';
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

  /** Applies a result; returns false when it was already applied or its kind is unknown. */
  async apply(r: JobResult): Promise<boolean> {
    const applier = this.appliers.get(r.kind);
    if (!applier) {
      this.log.warn({ kind: r.kind, key: r.key }, 'job result of unknown kind ignored');
      return false;
    }
    return this.db.tx(async (q) => {
      const ins = await q.query('INSERT INTO applied_job_results (result_key) VALUES ($1) ON CONFLICT DO NOTHING RETURNING result_key', [r.key]);
      if (!ins.length) return false;
      await applier(q, r);
      return true;
    });
  }
}

/** A finished (or permanently failed) transcode of an uploaded version. */
async function applyTranscode(q: Queryable, r: JobResult): Promise<void> {
  const asset = (await q.query<AssetRow>('SELECT * FROM assets WHERE id = $1', [r.subjectId]))[0];
  if (!asset) return;
  const lesson = await lockLesson(q, asset.lesson_id);
  const current = lesson.current_asset_id === asset.id;
  if (r.ok) {
    const durationS = typeof r.data.durationS === 'number' ? r.data.durationS : null;
    await q.query("UPDATE assets SET state = 'ready', progress = 100, error = NULL, error_code = NULL, duration_s = $2, media = $3, updated_at = now() WHERE id = $1", [asset.id, durationS, JSON.stringify(r.data)]);
    await writeAudit(q, { actor: 'worker', entity: 'asset', entityId: asset.id, action: 'processing_succeeded', from: asset.state, to: 'ready' });
    if (current && lesson.status === 'processing') await changeStatus(q, lesson, 'processing_succeeded', 'worker', null, { assetId: asset.id });
  } else {
    const error = r.error ?? 'processing failed';
    await q.query("UPDATE assets SET state = 'failed', error = $2, error_code = $3, updated_at = now() WHERE id = $1", [asset.id, error, failureCodeOf(r)]);
    await writeAudit(q, { actor: 'worker', entity: 'asset', entityId: asset.id, action: 'processing_failed', from: asset.state, to: 'failed', reason: error });
    if (current && lesson.status === 'processing') await changeStatus(q, lesson, 'processing_failed', 'worker', error, { assetId: asset.id });
  }
}
