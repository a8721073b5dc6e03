import { randomUUID } from 'node:crypto';
import type { Db } from '../infra/db.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../domain/errors.ts';
import type { AssetRow, LessonRow, Principal } from '../domain/types.ts';
import { changeStatus } from './lesson-store.ts';
import { lockLesson, refreshPortalVisibility } from '../infra/lessons.repo.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import type { PublicationListener } from './publication.service.ts';

export interface ReviewQueueItem {
  id: string;
  title: string;
  kind: 'recorded' | 'live';
  status: string;
  teacher: string;
  subject: string;
  grade: string;
  scheduledStart: string | null;
  scheduledEnd: string | null;
  assetId: string | null;
  version: number | null;
  durationS: number | null;
  waitingSince: string;
}

/** The approval gate: a reviewer decides on their own school's recordings and live plans. */
export class ReviewService {
  constructor(
    private readonly db: Db,
    private readonly listeners: PublicationListener[] = [],
    /** A live plan was approved or rejected: resolves once the ingests know (a publish right after is decided on it). */
    private readonly onLivePlanDecided: (lessonId: string) => Promise<void> = async () => undefined,
  ) {}

  /** Lessons of the reviewer's school waiting for a decision, oldest first. */
  async queue(actor: Principal): Promise<ReviewQueueItem[]> {
    if (actor.role !== 'reviewer' || !actor.schoolId) throw new ForbiddenError('reviewer_only', 'only a school reviewer has a review queue');
    const rows = await this.db.query<LessonRow & { teacher_name: string; version: number | null; duration_s: number | null }>(
      `SELECT l.*, u.display_name teacher_name, a.version, a.duration_s FROM lessons l
       JOIN users u ON u.id = l.teacher_id LEFT JOIN assets a ON a.id = l.current_asset_id
       WHERE l.school_id = $1 AND l.status IN ('in_review', 'scheduled') ORDER BY l.updated_at, l.id`,
      [actor.schoolId],
    );
    return rows.map((r) => ({
      id: r.id, title: r.title, kind: r.kind, status: r.status, teacher: r.teacher_name, subject: r.subject, grade: r.grade,
      scheduledStart: r.scheduled_start?.toISOString() ?? null, scheduledEnd: r.scheduled_end?.toISOString() ?? null,
      assetId: r.status === 'in_review' ? r.current_asset_id : null, version: r.status === 'in_review' ? r.version : null,
      durationS: r.status === 'in_review' ? r.duration_s : null, waitingSince: r.updated_at.toISOString(),
    }));
  }

  /**
   * Approves or rejects the current version of a recording, or a live plan. Approving a new version of
   * a published lesson moves its active publications to that version.
   */
  async decide(actor: Principal, lessonId: string, decision: 'approve' | 'reject', reason: string | undefined): Promise<{ status: string; assetId: string | null }> {
    if (actor.role !== 'reviewer' || !actor.schoolId) throw new ForbiddenError('reviewer_only', 'only a reviewer of the lesson\'s school decides on it');
    const moved: { channel: string; assetId: string }[] = [];
    const result = await this.db.tx(async (q) => {
      const l = await lockLesson(q, lessonId);
      if (l.school_id !== actor.schoolId) throw new NotFoundError('lesson_not_found', 'lesson not found');
      const livePlan = l.kind === 'live' && (l.status === 'scheduled' || l.status === 'approved_for_air');
      let asset: AssetRow | undefined;
      if (!livePlan && l.status === 'in_review') {
        asset = (await q.query<AssetRow>('SELECT * FROM assets WHERE id = $1', [l.current_asset_id]))[0];
        if (!asset || asset.state !== 'ready') throw new ConflictError('version_not_ready', 'the current version is not ready for review');
      }
      await changeStatus(q, l, decision, actor, reason ?? null, { assetId: asset?.id ?? null, target: livePlan ? 'live_plan' : 'asset' });
      await q.query('INSERT INTO reviews (id, lesson_id, asset_id, target, decision, reason, reviewer_id) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        randomUUID(), l.id, asset?.id ?? null, livePlan ? 'live_plan' : 'asset', decision, reason ?? null, actor.userId,
      ]);
      if (decision === 'approve' && asset) {
        await q.query('UPDATE lessons SET approved_asset_id = $2 WHERE id = $1', [l.id, asset.id]);
        const active = await q.query<{ channel: string; asset_id: string }>("SELECT channel, asset_id FROM publications WHERE lesson_id = $1 AND state = 'published'", [l.id]);
        for (const p of active) {
          await q.query('UPDATE publications SET asset_id = $3, published_at = now() WHERE lesson_id = $1 AND channel = $2', [l.id, p.channel, asset.id]);
          await writeAudit(q, { actor, entity: 'publication', entityId: `${l.id}:${p.channel}`, action: 'new_version', data: { from: p.asset_id, to: asset.id } });
          moved.push({ channel: p.channel, assetId: asset.id });
        }
        if (active.length) await changeStatus(q, l, 'publish', actor, null, { reason: 'approved version replaces the published one' });
        await refreshPortalVisibility(q, l.id);
      }
      return { status: l.status, assetId: asset?.id ?? null, livePlan };
    });
    if (result.livePlan) await this.onLivePlanDecided(lessonId);
    for (const m of moved) for (const li of this.listeners) await li({ lessonId, channel: m.channel as 'portal' | 'cable', state: 'published', assetId: m.assetId });
    return { status: result.status, assetId: result.assetId };
  }
}
