import type { Db } from '../infra/db.ts';
import { ConflictError, ForbiddenError } from '../domain/errors.ts';
import type { Channel, Principal } from '../domain/types.ts';
import { changeStatus } from './lesson-store.ts';
import { lockLesson, refreshPortalVisibility } from '../infra/lessons.repo.ts';
import { writeAudit } from '../infra/audit.repo.ts';

export interface PublicationChange {
  lessonId: string;
  channel: Channel;
  state: 'published' | 'withdrawn';
  assetId: string;
}

/** Called after a publication change is committed: cache invalidation, cable packaging. */
export type PublicationListener = (change: PublicationChange) => Promise<void> | void;

/** Publishing approved versions to the portal and the cable VOD channel, and withdrawing them. */
export class PublicationService {
  constructor(private readonly db: Db, private readonly listeners: PublicationListener[] = []) {}

  addListener(l: PublicationListener): void {
    this.listeners.push(l);
  }

  /** Publishes the lesson's approved version on a channel; 409 when there is none. */
  async publish(actor: Principal, lessonId: string, channel: Channel): Promise<{ channel: Channel; state: 'published'; assetId: string; changed: boolean }> {
    if (actor.role !== 'operator' && actor.role !== 'admin') throw new ForbiddenError('operator_only', 'only operators publish');
    const out = await this.db.tx(async (q) => {
      const l = await lockLesson(q, lessonId);
      if (!l.approved_asset_id) throw new ConflictError('no_approved_version', `lesson has no approved version to publish (status "${l.status}")`, { status: l.status });
      const cur = (await q.query<{ state: string; asset_id: string }>('SELECT state, asset_id FROM publications WHERE lesson_id = $1 AND channel = $2', [l.id, channel]))[0];
      if (cur?.state === 'published' && cur.asset_id === l.approved_asset_id) return { assetId: cur.asset_id, changed: false };
      await q.query(
        `INSERT INTO publications (lesson_id, channel, asset_id, state, published_by, published_at) VALUES ($1, $2, $3, 'published', $4, now())
         ON CONFLICT (lesson_id, channel) DO UPDATE SET asset_id = EXCLUDED.asset_id, state = 'published', published_by = EXCLUDED.published_by, published_at = now(), withdrawn_by = NULL, withdrawn_at = NULL`,
        [l.id, channel, l.approved_asset_id, actor.userId],
      );
      await writeAudit(q, { actor, entity: 'publication', entityId: `${l.id}:${channel}`, action: 'publish', from: cur?.state ?? null, to: 'published', data: { assetId: l.approved_asset_id } });
      if (l.status === 'approved' || l.status === 'withdrawn') await changeStatus(q, l, 'publish', actor, null, { channel });
      await refreshPortalVisibility(q, l.id);
      return { assetId: l.approved_asset_id, changed: true };
    });
    if (out.changed) for (const li of this.listeners) await li({ lessonId, channel, state: 'published', assetId: out.assetId });
    return { channel, state: 'published', ...out };
  }

  /** Withdraws a channel's publication; 409 when it is not published there. */
  async withdraw(actor: Principal, lessonId: string, channel: Channel, reason?: string): Promise<{ channel: Channel; state: 'withdrawn'; assetId: string }> {
    if (actor.role !== 'operator' && actor.role !== 'admin') throw new ForbiddenError('operator_only', 'only operators withdraw');
    const assetId = await this.db.tx(async (q) => {
      const l = await lockLesson(q, lessonId);
      const cur = (await q.query<{ state: string; asset_id: string }>('SELECT state, asset_id FROM publications WHERE lesson_id = $1 AND channel = $2', [l.id, channel]))[0];
      if (cur?.state !== 'published') throw new ConflictError('not_published', `lesson is not published on ${channel}`, { status: l.status });
      await q.query("UPDATE publications SET state = 'withdrawn', withdrawn_by = $3, withdrawn_at = now() WHERE lesson_id = $1 AND channel = $2", [l.id, channel, actor.userId]);
      await writeAudit(q, { actor, entity: 'publication', entityId: `${l.id}:${channel}`, action: 'withdraw', from: 'published', to: 'withdrawn', reason: reason ?? null, data: { assetId: cur.asset_id } });
      const others = await q.query("SELECT 1 FROM publications WHERE lesson_id = $1 AND state = 'published'", [l.id]);
      if (!others.length && l.status === 'published') await changeStatus(q, l, 'withdraw', actor, reason ?? null, { channel });
      await refreshPortalVisibility(q, l.id);
      return cur.asset_id;
    });
    for (const li of this.listeners) await li({ lessonId, channel, state: 'withdrawn', assetId });
    return { channel, state: 'withdrawn', assetId };
  }

  async list(lessonId: string): Promise<{ channel: string; state: string; assetId: string; publishedAt: string | null; withdrawnAt: string | null }[]> {
    const rows = await this.db.query<{ channel: string; state: string; asset_id: string; published_at: Date | null; withdrawn_at: Date | null }>(
      'SELECT channel, state, asset_id, published_at, withdrawn_at FROM publications WHERE lesson_id = $1 ORDER BY channel', [lessonId]);
    return rows.map((r) => ({ channel: r.channel, state: r.state, assetId: r.asset_id, publishedAt: r.published_at?.toISOString() ?? null, withdrawnAt: r.withdrawn_at?.toISOString() ?? null }));
  }
}
