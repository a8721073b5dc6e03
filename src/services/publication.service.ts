import type { Db } from '../infra/db.ts';
import { ConflictError, ForbiddenError } from '../domain/errors.ts';
import type { Channel, Principal, PublicationState } from '../domain/types.ts';
import { changeStatus } from './lesson-store.ts';
import { lockLesson, refreshPortalVisibility } from '../infra/lessons.repo.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import * as publications from '../infra/publications.repo.ts';

export interface PublicationChange {
  lessonId: string;
  channel: Channel;
  state: PublicationState;
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
      const cur = await publications.findPublication(q, l.id, channel);
      if (cur?.state === 'published' && cur.assetId === l.approved_asset_id) return { assetId: cur.assetId, changed: false };
      await publications.writePublished(q, l.id, channel, l.approved_asset_id, actor.userId);
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
      const cur = await publications.findPublication(q, l.id, channel);
      if (cur?.state !== 'published') throw new ConflictError('not_published', `lesson is not published on ${channel}`, { status: l.status });
      await publications.writeWithdrawn(q, l.id, channel, actor.userId);
      await writeAudit(q, { actor, entity: 'publication', entityId: `${l.id}:${channel}`, action: 'withdraw', from: 'published', to: 'withdrawn', reason: reason ?? null, data: { assetId: cur.assetId } });
      const others = await publications.activePublications(q, l.id);
      if (!others.length && l.status === 'published') await changeStatus(q, l, 'withdraw', actor, reason ?? null, { channel });
      await refreshPortalVisibility(q, l.id);
      return cur.assetId;
    });
    for (const li of this.listeners) await li({ lessonId, channel, state: 'withdrawn', assetId });
    return { channel, state: 'withdrawn', assetId };
  }

  async list(lessonId: string): Promise<publications.PublicationRecord[]> {
    return publications.listPublications(this.db, lessonId);
  }
}
