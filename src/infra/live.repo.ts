import type { Queryable } from './db.ts';
import type { LiveSessionState } from '../jobs/live.job.ts';
import type { LessonRow } from '../domain/types.ts';

/** One on-air period of a live lesson; it survives publisher reconnects within the window. */
export interface LiveSession {
  id: string;
  lessonId: string;
  state: LiveSessionState;
  epoch: number;
  startedAt: Date;
  disconnectedAt: Date | null;
  endedAt: Date | null;
  assetId: string | null;
}

interface SessionRow {
  id: string;
  lesson_id: string;
  state: LiveSessionState;
  epoch: number;
  started_at: Date;
  disconnected_at: Date | null;
  ended_at: Date | null;
  asset_id: string | null;
}

const toSession = (r: SessionRow): LiveSession => ({
  id: r.id, lessonId: r.lesson_id, state: r.state, epoch: r.epoch, startedAt: r.started_at, disconnectedAt: r.disconnected_at, endedAt: r.ended_at, assetId: r.asset_id,
});

// ---- stream keys (the secret sealed, its SHA-256 for the ingest) ----------------------------

/** The sealed stream key of a lesson, or undefined before the first is made. */
export async function findSealedKey(q: Queryable, lessonId: string): Promise<string | undefined> {
  return (await q.query<{ key_cipher: string }>('SELECT key_cipher FROM live_keys WHERE lesson_id = $1', [lessonId]))[0]?.key_cipher;
}

/** Stores a lesson's first stream key; a key stored meanwhile by another request wins. */
export async function insertKeyIfAbsent(q: Queryable, lessonId: string, keyHash: string, sealed: string): Promise<void> {
  await q.query('INSERT INTO live_keys (lesson_id, key_hash, key_cipher) VALUES ($1, $2, $3) ON CONFLICT (lesson_id) DO NOTHING', [lessonId, keyHash, sealed]);
}

/** Replaces a lesson's stream key (or stores the first). */
export async function writeRotatedKey(q: Queryable, lessonId: string, keyHash: string, sealed: string): Promise<void> {
  await q.query(
    `INSERT INTO live_keys (lesson_id, key_hash, key_cipher) VALUES ($1, $2, $3)
     ON CONFLICT (lesson_id) DO UPDATE SET key_hash = EXCLUDED.key_hash, key_cipher = EXCLUDED.key_cipher, rotated_at = now()`,
    [lessonId, keyHash, sealed],
  );
}

/** Live lessons approved for air or on air that have a key (one lesson's, when given): what the ingest may accept. */
export async function publishableLessons(q: Queryable, lessonId?: string): Promise<(LessonRow & { keyHash: string })[]> {
  const rows = await q.query<LessonRow & { key_hash: string }>(
    `SELECT l.*, k.key_hash FROM lessons l JOIN live_keys k ON k.lesson_id = l.id
     WHERE l.kind = 'live' AND l.status IN ('approved_for_air', 'on_air')${lessonId ? ' AND l.id::text = $1' : ''}`,
    lessonId ? [lessonId] : [],
  );
  return rows.map(({ key_hash, ...l }) => ({ ...l, keyHash: key_hash }));
}

// ---- sessions -------------------------------------------------------------------------------

/** The lesson's session that has not ended (at most one), or undefined. */
export async function findOpenSession(q: Queryable, lessonId: string): Promise<LiveSession | undefined> {
  const r = (await q.query<SessionRow>("SELECT * FROM live_sessions WHERE lesson_id = $1 AND state <> 'ended'", [lessonId]))[0];
  return r && toSession(r);
}

/** One session by id (`lock`: held until the transaction ends), or undefined. */
export async function findSession(q: Queryable, sessionId: string, lock = false): Promise<LiveSession | undefined> {
  const r = (await q.query<SessionRow>(`SELECT * FROM live_sessions WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [sessionId]))[0];
  return r && toSession(r);
}

/** Every session that has not ended, with its lesson's scheduled end. */
export async function openSessionsWithScheduledEnd(q: Queryable): Promise<(LiveSession & { scheduledEnd: Date | null })[]> {
  const rows = await q.query<SessionRow & { scheduled_end: Date | null }>(
    `SELECT s.*, l.scheduled_end FROM live_sessions s JOIN lessons l ON l.id = s.lesson_id WHERE s.state <> 'ended'`,
  );
  return rows.map((r) => ({ ...toSession(r), scheduledEnd: r.scheduled_end }));
}

/** A new session on air. */
export async function insertSession(q: Queryable, sessionId: string, lessonId: string, publisherAddr: string | null): Promise<void> {
  await q.query("INSERT INTO live_sessions (id, lesson_id, state, publisher_addr) VALUES ($1, $2, 'on_air', $3)", [sessionId, lessonId, publisherAddr]);
}

/** A publisher came back: the session is on air again under the next epoch. */
export async function markSessionResumed(q: Queryable, sessionId: string, publisherAddr: string | null): Promise<void> {
  await q.query("UPDATE live_sessions SET state = 'on_air', epoch = epoch + 1, disconnected_at = NULL, publisher_addr = $2, updated_at = now() WHERE id = $1", [sessionId, publisherAddr]);
}

/** The publisher dropped: a session on air waits for a reconnect; false when it was not on air (any more). */
export async function markSessionReconnecting(q: Queryable, sessionId: string): Promise<boolean> {
  return (await q.query("UPDATE live_sessions SET state = 'reconnecting', disconnected_at = now(), updated_at = now() WHERE id = $1 AND state = 'on_air' RETURNING id", [sessionId])).length > 0;
}

/** The session ended, why, and the version its recording becomes. */
export async function markSessionEnded(q: Queryable, sessionId: string, reason: string, assetId: string): Promise<void> {
  await q.query("UPDATE live_sessions SET state = 'ended', ended_at = now(), end_reason = $2, asset_id = $3, updated_at = now() WHERE id = $1", [sessionId, reason, assetId]);
}

export interface OnAirLesson { id: string; title: string; schoolName: string; teacherName: string; stage: string; grade: string; subject: string; startedAt: Date; state: LiveSessionState }

/** Live lessons on air and not stopped with their open session, latest started first. */
export async function lessonsOnAir(q: Queryable): Promise<OnAirLesson[]> {
  const rows = await q.query<{ id: string; title: string; school_name: string; teacher_name: string; stage: string; grade: string; subject: string; started_at: Date; state: LiveSessionState }>(
    `SELECT l.id, l.title, sc.name school_name, u.display_name teacher_name, l.stage, l.grade, l.subject, s.started_at, s.state
     FROM live_sessions s JOIN lessons l ON l.id = s.lesson_id JOIN schools sc ON sc.id = l.school_id JOIN users u ON u.id = l.teacher_id
     WHERE s.state <> 'ended' AND l.status = 'on_air' AND l.live_stopped_at IS NULL ORDER BY s.started_at DESC`,
  );
  return rows.map((r) => ({ id: r.id, title: r.title, schoolName: r.school_name, teacherName: r.teacher_name, stage: r.stage, grade: r.grade, subject: r.subject, startedAt: r.started_at, state: r.state }));
}

/**
 * The session of a lesson students may watch live now: open while the lesson is on air, or ended by
 * itself (not stopped) within the last `graceS` seconds; none once the lesson was stopped.
 */
export async function watchableSessionId(q: Queryable, lessonId: string, graceS: number): Promise<string | undefined> {
  const rows = await q.query<{ id: string }>(
    `SELECT s.id FROM live_sessions s JOIN lessons l ON l.id = s.lesson_id
     WHERE s.lesson_id = $1 AND l.live_stopped_at IS NULL AND (
       (s.state <> 'ended' AND l.status = 'on_air')
       OR (s.state = 'ended' AND s.ended_at > now() - make_interval(secs => $2) AND s.end_reason <> 'stopped'))
     ORDER BY s.started_at DESC LIMIT 1`,
    [lessonId, graceS],
  );
  return rows[0]?.id;
}
