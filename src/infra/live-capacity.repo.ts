import type { Queryable } from './db.ts';

/** A live session on air (or waiting for its publisher to reconnect) with its lesson. */
export interface OpenSessionRow {
  session_id: string;
  lesson_id: string;
  state: 'on_air' | 'reconnecting';
  started_at: Date;
  title: string;
  school_name: string;
  teacher_name: string;
}

/** An approved live lesson with its planned time. */
export interface PlannedLiveRow {
  id: string;
  title: string;
  school_name: string;
  teacher_name: string;
  scheduled_start: Date;
  scheduled_end: Date;
}

/** Every open live session, oldest first. */
export async function openLiveSessions(q: Queryable): Promise<OpenSessionRow[]> {
  return q.query<OpenSessionRow>(
    `SELECT s.id session_id, s.lesson_id, s.state, s.started_at, l.title, sc.name school_name, u.display_name teacher_name
     FROM live_sessions s JOIN lessons l ON l.id = s.lesson_id JOIN schools sc ON sc.id = l.school_id JOIN users u ON u.id = l.teacher_id
     WHERE s.state <> 'ended' ORDER BY s.started_at, s.id`,
  );
}

/**
 * Live lessons approved for air (or on air, not stopped) whose planned time overlaps [from, to): the
 * demand the capacity report sets against the fleet's live slots.
 */
export async function plannedLiveLessons(q: Queryable, from: Date, to: Date): Promise<PlannedLiveRow[]> {
  return q.query<PlannedLiveRow>(
    `SELECT l.id, l.title, sc.name school_name, u.display_name teacher_name, l.scheduled_start, l.scheduled_end
     FROM lessons l JOIN schools sc ON sc.id = l.school_id JOIN users u ON u.id = l.teacher_id
     WHERE l.kind = 'live' AND l.status IN ('approved_for_air', 'on_air') AND l.live_stopped_at IS NULL
       AND l.scheduled_start < $2 AND l.scheduled_end > $1
     ORDER BY l.scheduled_start, l.id`,
    [from, to],
  );
}
