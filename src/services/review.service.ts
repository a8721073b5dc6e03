import { randomUUID } from 'node:crypto';
import type { Db } from '../infra/db.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../domain/errors.ts';
import type { AssetRow, Channel, Principal } from '../domain/types.ts';
import { changeStatus } from './lesson-store.ts';
import { lockLesson, refreshPortalVisibility, writeApprovedAsset } from '../infra/lessons.repo.ts';
import { readAudit, writeAudit, type AuditRecord } from '../infra/audit.repo.ts';
import { findAsset } from '../infra/assets.repo.ts';
import { activePublications, movePublication } from '../infra/publications.repo.ts';
import { insertReview, lessonsAwaitingReview } from '../infra/reviews.repo.ts';
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
    const rows = await lessonsAwaitingReview(this.db, actor.schoolId);
    return rows.map((r) => ({
      id: r.id, title: r.title, kind: r.kind, status: r.status, teacher: r.teacherName, subject: r.subject, grade: r.grade,
      scheduledStart: r.scheduled_start?.toISOString() ?? null, scheduledEnd: r.scheduled_end?.toISOString() ?? null,
      assetId: r.status === 'in_review' ? r.current_asset_id : null, version: r.status === 'in_review' ? r.version : null,
      durationS: r.status === 'in_review' ? r.durationS : null, waitingSince: r.updated_at.toISOString(),
    }));
  }

  /** A reviewer's own past decisions (recordings, live plans, edits, stops), newest first, paged by audit id. */
  async pastDecisions(actor: Principal, page: { before?: number; limit: number }): Promise<{ items: AuditRecord[]; nextBefore: number | null }> {
    if (actor.role !== 'reviewer') throw new ForbiddenError('reviewer_only', 'only reviewers have past decisions');
    return readAudit(this.db, { actorId: actor.userId, actions: ['approve', 'reject', 'edit_approved', 'edit_rejected', 'live_stopped'], before: page.before, limit: page.limit });
  }

  /**
   * Approves or rejects the current version of a recording, or a live plan. Approving a new version of
   * a published lesson moves its active publications to that version.
   */
  async decide(actor: Principal, lessonId: string, decision: 'approve' | 'reject', reason: string | undefined): Promise<{ status: string; assetId: string | null }> {
    if (actor.role !== 'reviewer' || !actor.schoolId) throw new ForbiddenError('reviewer_only', 'only a reviewer of the lesson\'s school decides on it');
    const moved: { channel: Channel; assetId: string }[] = [];
    const result = await this.db.tx(async (q) => {
      const l = await lockLesson(q, lessonId);
      if (l.school_id !== actor.schoolId) throw new NotFoundError('lesson_not_found', 'lesson not found');
      const livePlan = l.kind === 'live' && (l.status === 'scheduled' || l.status === 'approved_for_air');
      let asset: AssetRow | undefined;
      if (!livePlan && l.status === 'in_review') {
        asset = l.current_asset_id ? await findAsset(q, l.current_asset_id) : undefined;
        if (!asset || asset.state !== 'ready') throw new ConflictError('version_not_ready', 'the current version is not ready for review');
      }
      await changeStatus(q, l, decision, actor, reason ?? null, { assetId: asset?.id ?? null, target: livePlan ? 'live_plan' : 'asset' });
      await insertReview(q, { id: randomUUID(), lessonId: l.id, assetId: asset?.id ?? null, target: livePlan ? 'live_plan' : 'asset', decision, reason: reason ?? null, reviewerId: actor.userId });
      if (decision === 'approve' && asset) {
        await writeApprovedAsset(q, l.id, asset.id);
        const active = await activePublications(q, l.id);
        for (const p of active) {
          await movePublication(q, l.id, p.channel, asset.id);
          await writeAudit(q, { actor, entity: 'publication', entityId: `${l.id}:${p.channel}`, action: 'new_version', data: { from: p.assetId, to: asset.id } });
          moved.push({ channel: p.channel, assetId: asset.id });
        }
        if (active.length) await changeStatus(q, l, 'publish', actor, null, { reason: 'approved version replaces the published one' });
        await refreshPortalVisibility(q, l.id);
      }
      return { status: l.status, assetId: asset?.id ?? null, livePlan };
    });
    if (result.livePlan) await this.onLivePlanDecided(lessonId);
    for (const m of moved) for (const li of this.listeners) await li({ lessonId, channel: m.channel, state: 'published', assetId: m.assetId });
    return { status: result.status, assetId: result.assetId };
  }
}
