import type { Queryable } from '../infra/db.ts';
import { transition, type LessonEvent, type LessonStatus } from '../domain/lesson-state.ts';
import type { LessonRow, Principal } from '../domain/types.ts';
import type { SystemActor } from '../domain/audit-codes.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import { writeLessonStatus } from '../infra/lessons.repo.ts';

/**
 * The only writer of lessons.status: checks the transition with the state machine and records it in
 * the audit log in the caller's transaction.
 */
export async function changeStatus(
  q: Queryable,
  lesson: LessonRow,
  event: LessonEvent,
  actor: Principal | SystemActor,
  reason?: string | null,
  data?: Record<string, unknown>,
): Promise<LessonStatus> {
  const to = transition(lesson.kind, lesson.status, event, reason);
  await writeLessonStatus(q, lesson.id, to, reason ?? null);
  await writeAudit(q, { actor, entity: 'lesson', entityId: lesson.id, action: event, from: lesson.status, to, reason, data });
  lesson.status = to;
  lesson.status_reason = reason ?? null;
  return to;
}
