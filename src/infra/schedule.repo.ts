import type { Queryable } from './db.ts';
import type { LessonStatus } from '../domain/lesson-state.ts';
import { afterCursorWhere } from './cursor.ts';

/**
 * SQL for the latest live-plan decision of lesson `l` (the rule is isApprovedLive in
 * services/schedule.service.ts; this is how queries read its input).
 */
export const planDecisionSql = `(SELECT r.decision FROM reviews r WHERE r.lesson_id = l.id AND r.target = 'live_plan' ORDER BY r.created_at DESC, r.id DESC LIMIT 1)`;
/** isApprovedLive as a condition on lesson `l`. */
const approvedLiveSql = `(l.kind = 'live' AND (l.status IN ('approved_for_air', 'on_air') OR (l.status NOT IN ('draft', 'scheduled') AND ${planDecisionSql} = 'approve')))`;

/** A scheduled lesson with its school, teacher, live-plan decision and the audiences published timetables name. */
export interface ScheduleRow {
  id: string;
  title: string;
  description: string;
  kind: 'live' | 'recorded';
  status: LessonStatus;
  stage: string;
  grade: string;
  subject: string;
  scheduled_start: Date;
  scheduled_end: Date;
  portal_published_at: Date | null;
  school_code: string;
  school_name: string;
  teacher_name: string;
  audience: string[] | null;
  plan_decision: 'approve' | 'reject' | null;
}

/** A schedule row with what the iCalendar feed last showed of it (all null: never shown). */
export interface ScheduleEventRow extends ScheduleRow {
  ev_sequence: number | null;
  ev_fingerprint: string | null;
  ev_status: 'confirmed' | 'cancelled' | null;
  ev_created_at: Date | null;
  ev_changed_at: Date | null;
}

/** Whose lessons: one school's, one grade's, or both. */
export interface ScheduleScope {
  schoolId?: string;
  grade?: string;
}

function selectSql(extraCols = '', extraJoin = ''): string {
  return `SELECT l.id, l.title, l.description, l.kind, l.status, l.stage, l.grade, l.subject, l.scheduled_start, l.scheduled_end, l.portal_published_at,
      s.code school_code, s.name school_name, u.display_name teacher_name, ${planDecisionSql} plan_decision,
      (SELECT array_agg(DISTINCT e.published_audience ORDER BY e.published_audience) FROM timetable_entries e JOIN timetables t ON t.id = e.timetable_id
        WHERE e.lesson_id = l.id AND e.published_state = 'scheduled' AND t.status = 'published' AND e.published_audience <> '') audience
      ${extraCols}
    FROM lessons l JOIN schools s ON s.id = l.school_id JOIN users u ON u.id = l.teacher_id ${extraJoin}`;
}

/** Scheduled lessons of the scope starting in [from, to). */
function scopeWhere(scope: ScheduleScope, from: Date, to: Date): { where: string[]; params: unknown[] } {
  const where: string[] = ['l.scheduled_start IS NOT NULL', 'l.scheduled_end IS NOT NULL'];
  const params: unknown[] = [];
  if (scope.schoolId) { params.push(scope.schoolId); where.push(`l.school_id = $${params.length}`); }
  if (scope.grade) { params.push(scope.grade); where.push(`l.grade = $${params.length}`); }
  params.push(from, to);
  where.push(`l.scheduled_start >= $${params.length - 1}`, `l.scheduled_start < $${params.length}`);
  return { where, params };
}

/** Approved live lessons of the scope starting in [from, to), after the cursor, in start order; at most `limit`. */
export async function listApprovedLive(q: Queryable, scope: ScheduleScope, from: Date, to: Date, cursor: string | undefined, limit: number): Promise<ScheduleRow[]> {
  const { where, params } = scopeWhere(scope, from, to);
  where.push(approvedLiveSql);
  afterCursorWhere(cursor, { at: 'l.scheduled_start', id: 'l.id' }, 'asc', where, params);
  params.push(limit);
  return q.query<ScheduleRow>(`${selectSql()} WHERE ${where.join(' AND ')} ORDER BY l.scheduled_start, l.id LIMIT $${params.length}`, params);
}

/** Every live lesson of the scope starting in [from, to), approved or not, with its feed state (at most 5,000). */
export async function liveLessonsWithFeedState(q: Queryable, scope: ScheduleScope, from: Date, to: Date): Promise<ScheduleEventRow[]> {
  const { where, params } = scopeWhere(scope, from, to);
  where.push("l.kind = 'live'");
  return q.query<ScheduleEventRow>(
    `${selectSql(', se.sequence ev_sequence, se.fingerprint ev_fingerprint, se.status ev_status, se.created_at ev_created_at, se.changed_at ev_changed_at', 'LEFT JOIN schedule_events se ON se.lesson_id = l.id')}
     WHERE ${where.join(' AND ')} ORDER BY l.scheduled_start, l.id LIMIT 5000`,
    params,
  );
}

/** Stores what the feed now shows; bumps SEQUENCE only if the stored state still differs (races: once). */
export async function recordScheduleEvent(q: Queryable, lessonId: string, fingerprint: string, status: 'confirmed' | 'cancelled'): Promise<{ sequence: number; created: Date; changed: Date }> {
  const rows = await q.query<{ sequence: number; created_at: Date; changed_at: Date }>(
    `INSERT INTO schedule_events (lesson_id, sequence, fingerprint, status) VALUES ($1, 0, $2, $3)
     ON CONFLICT (lesson_id) DO UPDATE SET
       sequence = CASE WHEN schedule_events.fingerprint <> EXCLUDED.fingerprint OR schedule_events.status <> EXCLUDED.status THEN schedule_events.sequence + 1 ELSE schedule_events.sequence END,
       changed_at = CASE WHEN schedule_events.fingerprint <> EXCLUDED.fingerprint OR schedule_events.status <> EXCLUDED.status THEN now() ELSE schedule_events.changed_at END,
       fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status
     RETURNING sequence, created_at, changed_at`,
    [lessonId, fingerprint, status],
  );
  return { sequence: Number(rows[0].sequence), created: rows[0].created_at, changed: rows[0].changed_at };
}
