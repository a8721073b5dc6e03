import type { Queryable } from './db.ts';
import { likeEscape } from './text-search.ts';
import type { Principal } from '../domain/types.ts';
import type { AuditAction, AuditEntity, SystemActor } from '../domain/audit-codes.ts';

export interface AuditEntry {
  actor: Principal | SystemActor;
  entity: AuditEntity;
  entityId: string;
  action: AuditAction;
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

export interface AuditFilter {
  entity?: string;
  entityId?: string;
  actor?: string;
  action?: string;
  from?: string;
  to?: string;
  before?: number;
  /** only this person's entries, and only these actions */
  actorId?: string;
  actions?: string[];
  limit: number;
}

export interface AuditRecord {
  id: number;
  at: string;
  actor: string;
  entity: string;
  entityId: string;
  action: string;
  from: string | null;
  to: string | null;
  reason: string | null;
  data: unknown;
  /** the lesson's title when the record is about a lesson or one of its publications */
  lessonTitle: string | null;
}

/** The audit log, newest first, filtered by what, which entity, who, and when; paged by id. */
export async function readAudit(q: Queryable, f: AuditFilter): Promise<{ items: AuditRecord[]; nextBefore: number | null }> {
  const where: string[] = ['true'];
  const params: unknown[] = [];
  const add = (sql: string, v: unknown) => { params.push(v); where.push(sql.replace('?', `$${params.length}`)); };
  if (f.entity) add('entity = ?', f.entity);
  // a lesson's id also finds its publications (`lessonId:channel`)
  if (f.entityId) {
    params.push(f.entityId, `${likeEscape(f.entityId)}:%`);
    where.push(`(entity_id = $${params.length - 1} OR entity_id LIKE $${params.length})`);
  }
  if (f.actor) add('actor ILIKE ?', `%${likeEscape(f.actor)}%`);
  if (f.action) add('action = ?', f.action);
  if (f.from) add('at >= ?', new Date(f.from));
  if (f.to) add('at < ?', new Date(f.to));
  if (f.before) add('id < ?', f.before);
  if (f.actorId) add('actor_id = ?', f.actorId);
  if (f.actions) add('action = ANY(?::text[])', f.actions);
  params.push(f.limit + 1);
  const rows = await q.query<{ id: number; at: Date; actor: string; entity: string; entity_id: string; action: string; from_state: string | null; to_state: string | null; reason: string | null; data: unknown; lesson_title: string | null }>(
    `SELECT a.*, l.title lesson_title
     FROM (SELECT * FROM audit_log WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}) a
     LEFT JOIN lessons l ON l.id = CASE WHEN a.entity IN ('lesson', 'publication') THEN split_part(a.entity_id, ':', 1)::uuid END
     ORDER BY a.id DESC`, params);
  const page = rows.slice(0, f.limit);
  return {
    items: page.map((x) => ({ id: Number(x.id), at: x.at.toISOString(), actor: x.actor, entity: x.entity, entityId: x.entity_id, action: x.action, from: x.from_state, to: x.to_state, reason: x.reason, data: x.data, lessonTitle: x.lesson_title })),
    nextBefore: rows.length > f.limit ? Number(page[page.length - 1].id) : null,
  };
}
