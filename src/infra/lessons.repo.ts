import type { Queryable } from './db.ts';
import { NotFoundError } from '../domain/errors.ts';
import type { EditField, LessonStatus } from '../domain/lesson-state.ts';
import { searchBigrams } from './text-search.ts';
import type { LessonRow } from '../domain/types.ts';

/** Reads a lesson row for update inside a transaction (serialises concurrent changes of one lesson). */
export async function lockLesson(q: Queryable, lessonId: string): Promise<LessonRow> {
  const rows = await q.query<LessonRow>('SELECT * FROM lessons WHERE id = $1 FOR UPDATE', [lessonId]);
  if (!rows[0]) throw new NotFoundError('lesson_not_found', 'lesson not found');
  return rows[0];
}

/** Writes a lesson's status; only the state machine's caller (services/lesson-store.ts) uses it. */
export async function writeLessonStatus(q: Queryable, lessonId: string, status: LessonStatus, reason: string | null): Promise<void> {
  await q.query('UPDATE lessons SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1', [lessonId, status, reason]);
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

/** The lesson an asset or a live session belongs to. */
export async function lessonOfSubject(q: Queryable, subjectId: string): Promise<string | undefined> {
  const rows = await q.query<{ lesson_id: string }>('SELECT lesson_id FROM assets WHERE id::text = $1 UNION SELECT lesson_id FROM live_sessions WHERE id::text = $1', [subjectId]);
  return rows[0]?.lesson_id;
}

/** Marks a version as the lesson's approved one. */
export async function writeApprovedAsset(q: Queryable, lessonId: string, assetId: string): Promise<void> {
  await q.query('UPDATE lessons SET approved_asset_id = $2 WHERE id = $1', [lessonId, assetId]);
}

/** The lesson row's column of each field a teacher edits. */
export const editFieldColumns: Record<EditField, keyof LessonRow> = {
  title: 'title', description: 'description', stage: 'stage', grade: 'grade', subject: 'subject', type: 'type', edition: 'edition',
  scheduledStart: 'scheduled_start', scheduledEnd: 'scheduled_end',
};

/**
 * Writes edited fields of a lesson; with `searchText` (the new title and description, as lessons.service's
 * searchText makes it) also the search columns it is found by.
 */
export async function writeLessonFields(q: Queryable, lessonId: string, values: Partial<Record<EditField, unknown>>, searchText?: string): Promise<void> {
  const entries = Object.entries(values) as [EditField, unknown][];
  const sets = entries.map(([f], i) => `${editFieldColumns[f]} = $${i + 2}`);
  const params: unknown[] = [lessonId, ...entries.map(([, v]) => v)];
  if (searchText !== undefined) {
    params.push(searchText, searchBigrams(searchText));
    sets.push(`search_text = $${params.length - 1}`, `search_bigrams = $${params.length}`);
  }
  await q.query(`UPDATE lessons SET ${sets.join(', ')} WHERE id = $1`, params);
}

/** One lesson row, or undefined. */
export async function findLesson(q: Queryable, lessonId: string): Promise<LessonRow | undefined> {
  return (await q.query<LessonRow>('SELECT * FROM lessons WHERE id = $1', [lessonId]))[0];
}

/** Makes a version the lesson's current one. */
export async function writeCurrentAsset(q: Queryable, lessonId: string, assetId: string): Promise<void> {
  await q.query('UPDATE lessons SET current_asset_id = $2 WHERE id = $1', [lessonId, assetId]);
}

/** A live lesson was cut off by whom, now: it refuses publishers from then on. */
export async function markLiveStopped(q: Queryable, lessonId: string, userId: string): Promise<void> {
  await q.query('UPDATE lessons SET live_stopped_at = now(), live_stopped_by = $2 WHERE id = $1', [lessonId, userId]);
}

/** Moves a live lesson's schedule. */
export async function writeLessonSchedule(q: Queryable, lessonId: string, start: Date, end: Date): Promise<void> {
  await q.query('UPDATE lessons SET scheduled_start = $2, scheduled_end = $3, updated_at = now() WHERE id = $1', [lessonId, start, end]);
}

/** A new lesson; `searchText` is what it is found by (lessons.service's searchText of title and description). */
export async function insertLesson(q: Queryable, l: Pick<LessonRow, 'id' | 'title' | 'description' | 'kind' | 'school_id' | 'teacher_id' | 'stage' | 'grade' | 'subject' | 'type' | 'edition' | 'status' | 'scheduled_start' | 'scheduled_end'>, searchText: string): Promise<void> {
  await q.query(
    `INSERT INTO lessons (id, title, description, kind, school_id, teacher_id, stage, grade, subject, type, edition, status, scheduled_start, scheduled_end, search_text, search_bigrams)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
    [l.id, l.title, l.description, l.kind, l.school_id, l.teacher_id, l.stage, l.grade, l.subject, l.type, l.edition, l.status, l.scheduled_start, l.scheduled_end, searchText, searchBigrams(searchText)],
  );
}
