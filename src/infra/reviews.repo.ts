import type { Queryable } from './db.ts';
import type { LessonRow } from '../domain/types.ts';

/** A lesson waiting for a reviewer, with its teacher's name and its current version's number and length. */
export type WaitingLesson = LessonRow & { teacherName: string; version: number | null; durationS: number | null };

/** Lessons of a school in review (recordings) or scheduled (live plans), longest waiting first. */
export async function lessonsAwaitingReview(q: Queryable, schoolId: string): Promise<WaitingLesson[]> {
  const rows = await q.query<LessonRow & { teacher_name: string; version: number | null; duration_s: number | null }>(
    `SELECT l.*, u.display_name teacher_name, a.version, a.duration_s FROM lessons l
     JOIN users u ON u.id = l.teacher_id LEFT JOIN assets a ON a.id = l.current_asset_id
     WHERE l.school_id = $1 AND l.status IN ('in_review', 'scheduled') ORDER BY l.updated_at, l.id`,
    [schoolId],
  );
  return rows.map(({ teacher_name, duration_s, ...r }) => ({ ...r, teacherName: teacher_name, durationS: duration_s }));
}

/** Records a reviewer's decision on a version or a live plan. */
export async function insertReview(q: Queryable, r: { id: string; lessonId: string; assetId: string | null; target: 'asset' | 'live_plan'; decision: 'approve' | 'reject'; reason: string | null; reviewerId: string }): Promise<void> {
  await q.query('INSERT INTO reviews (id, lesson_id, asset_id, target, decision, reason, reviewer_id) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    r.id, r.lessonId, r.assetId, r.target, r.decision, r.reason, r.reviewerId,
  ]);
}
