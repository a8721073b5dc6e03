import type { Queryable } from '../infra/db.ts';
import { NotFoundError } from '../domain/errors.ts';
import { transition, type LessonEvent, type LessonStatus } from '../domain/lesson-state.ts';
import type { LessonRow, Principal } from '../domain/types.ts';
import { writeAudit } from './audit.ts';

/** Reads a lesson row for update inside a transaction (serialises concurrent changes of one lesson). */
export async function lockLesson(q: Queryable, lessonId: string): Promise<LessonRow> {
  const rows = await q.query<LessonRow>('SELECT * FROM lessons WHERE id = $1 FOR UPDATE', [lessonId]);
  if (!rows[0]) throw new NotFoundError('lesson_not_found', 'lesson not found');
  return rows[0];
}

/**
 * The only writer of lessons.status: checks the transition with the state machine and records it in
 * the audit log in the caller's transaction.
 */
export async function changeStatus(
  q: Queryable,
  lesson: LessonRow,
  event: LessonEvent,
  actor: Principal | string,
  reason?: string | null,
  data?: Record<string, unknown>,
): Promise<LessonStatus> {
  const to = transition(lesson.kind, lesson.status, event, reason);
  await q.query('UPDATE lessons SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1', [lesson.id, to, reason ?? null]);
  await writeAudit(q, { actor, entity: 'lesson', entityId: lesson.id, action: event, from: lesson.status, to, reason, data });
  lesson.status = to;
  lesson.status_reason = reason ?? null;
  return to;
}

/**
 * Keeps the public catalog's denormalised columns true: a lesson is public exactly while its portal
 * publication is active and points at the approved version.
 */
export async function refreshPortalVisibility(q: Queryable, lessonId: string): Promise<boolean> {
  const rows = await q.query<{ asset_id: string | null; published_at: Date | null }>(
    `SELECT p.asset_id, p.published_at FROM publications p JOIN lessons l ON l.id = p.lesson_id
     WHERE p.lesson_id = $1 AND p.channel = 'portal' AND p.state = 'published' AND p.asset_id = l.approved_asset_id`,
    [lessonId],
  );
  const r = rows[0];
  await q.query('UPDATE lessons SET portal_published_at = $2, portal_asset_id = $3 WHERE id = $1', [lessonId, r?.published_at ?? null, r?.asset_id ?? null]);
  return Boolean(r);
}
