import type { Queryable } from './db.ts';

/** A proposed change of a lesson's approved text: the new values and the values they replace. */
export interface EditRecord {
  id: string;
  lessonId: string;
  state: string;
  changes: Record<string, string>;
  previous: Record<string, string>;
  proposedAt: Date;
  decidedAt: Date | null;
  reason: string | null;
}

interface EditRow {
  id: string;
  lesson_id: string;
  state: string;
  changes: Record<string, string>;
  previous: Record<string, string>;
  proposed_at: Date;
  decided_at: Date | null;
  reason: string | null;
}

const toRecord = (r: EditRow): EditRecord => ({
  id: r.id, lessonId: r.lesson_id, state: r.state, changes: r.changes, previous: r.previous, proposedAt: r.proposed_at, decidedAt: r.decided_at, reason: r.reason,
});

/** The lesson's pending edit, held until the transaction ends, or undefined. */
export async function lockPendingEdit(q: Queryable, lessonId: string): Promise<EditRecord | undefined> {
  const r = (await q.query<EditRow>("SELECT * FROM lesson_edits WHERE lesson_id = $1 AND state = 'pending' FOR UPDATE", [lessonId]))[0];
  return r && toRecord(r);
}

/** One edit by id (`lock`: held until the transaction ends), or undefined. */
export async function findEdit(q: Queryable, editId: string, lock = false): Promise<EditRecord | undefined> {
  const r = (await q.query<EditRow>(`SELECT * FROM lesson_edits WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [editId]))[0];
  return r && toRecord(r);
}

/** A newer edit of the same lesson replaces this one. */
export async function markEditSuperseded(q: Queryable, editId: string): Promise<void> {
  await q.query("UPDATE lesson_edits SET state = 'superseded', decided_at = now() WHERE id = $1", [editId]);
}

export async function insertPendingEdit(q: Queryable, e: { id: string; lessonId: string; changes: Record<string, unknown>; previous: Record<string, unknown>; proposedBy: string }): Promise<void> {
  await q.query('INSERT INTO lesson_edits (id, lesson_id, state, changes, previous, proposed_by) VALUES ($1, $2, $3, $4, $5, $6)', [
    e.id, e.lessonId, 'pending', JSON.stringify(e.changes), JSON.stringify(e.previous), e.proposedBy,
  ]);
}

/** A reviewer's decision on an edit. */
export async function writeEditDecision(q: Queryable, editId: string, state: 'approved' | 'rejected', reviewerId: string, reason: string | null): Promise<void> {
  await q.query('UPDATE lesson_edits SET state = $2, decided_by = $3, decided_at = now(), reason = $4 WHERE id = $1', [editId, state, reviewerId, reason]);
}

/** Pending edits of a school's lessons, oldest first, with the lesson's title and the teacher's name. */
export async function pendingEditsOfSchool(q: Queryable, schoolId: string): Promise<(EditRecord & { lessonTitle: string; teacherName: string })[]> {
  const rows = await q.query<EditRow & { title: string; teacher_name: string }>(
    `SELECT e.*, l.title, u.display_name teacher_name FROM lesson_edits e JOIN lessons l ON l.id = e.lesson_id JOIN users u ON u.id = e.proposed_by
     WHERE e.state = 'pending' AND l.school_id = $1 ORDER BY e.proposed_at, e.id`,
    [schoolId],
  );
  return rows.map((r) => ({ ...toRecord(r), lessonTitle: r.title, teacherName: r.teacher_name }));
}

/** The lesson's pending edit and its latest approved or rejected one (each may be missing). */
export async function pendingAndLastDecidedEdit(q: Queryable, lessonId: string): Promise<{ pending?: EditRecord; lastDecided?: EditRecord }> {
  const rows = await q.query<EditRow>(
    `(SELECT * FROM lesson_edits WHERE lesson_id = $1 AND state = 'pending')
     UNION ALL (SELECT * FROM lesson_edits WHERE lesson_id = $1 AND state IN ('approved', 'rejected') ORDER BY decided_at DESC LIMIT 1)`,
    [lessonId],
  );
  const p = rows.find((r) => r.state === 'pending');
  const d = rows.find((r) => r.state !== 'pending');
  return { pending: p && toRecord(p), lastDecided: d && toRecord(d) };
}
