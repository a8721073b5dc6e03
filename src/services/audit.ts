import type { Queryable } from '../infra/db.ts';
import type { Principal } from '../domain/types.ts';

export interface AuditEntry {
  actor: Principal | 'system' | string;
  entity: 'lesson' | 'asset' | 'publication' | 'user' | 'school' | 'taxonomy' | 'token' | 'live_session' | 'question' | 'answer' | 'timetable' | 'cable_package';
  entityId: string;
  action: string;
  from?: string | null;
  to?: string | null;
  reason?: string | null;
  data?: Record<string, unknown>;
}

/** Writes one audit record inside the caller's transaction (who, when, from, to, why). */
export async function writeAudit(q: Queryable, e: AuditEntry): Promise<void> {
  const actorId = typeof e.actor === 'object' ? e.actor.userId : null;
  const actor = typeof e.actor === 'object' ? `${e.actor.role}:${e.actor.username}` : e.actor;
  await q.query(
    `INSERT INTO audit_log (actor_id, actor, entity, entity_id, action, from_state, to_state, reason, data)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [actorId, actor, e.entity, e.entityId, e.action, e.from ?? null, e.to ?? null, e.reason ?? null, e.data ? JSON.stringify(e.data) : null],
  );
}
