import type { Queryable } from './db.ts';
import type { LessonStatus } from '../domain/lesson-state.ts';
import type { ImageType } from '../media/question-image.ts';
import { afterCursorWhere, encodeCursor } from './cursor.ts';
import { searchBigrams, textSearchWhere } from './text-search.ts';
import { planDecisionSql } from './schedule.repo.ts';

/** A stored picture of a question (the bytes are in storage under questionImageKey). */
export interface StoredImage {
  type: ImageType;
  width: number;
  height: number;
  bytes: number;
}

/** A question with the title of its lesson while that lesson is public. */
export interface QuestionRow {
  id: string;
  stage: string;
  subject: string;
  lesson_id: string | null;
  lesson_title: string | null;
  text: string;
  display_name: string;
  images: StoredImage[];
  answer_count: number;
  answered_at: Date | null;
  hidden_at: Date | null;
  hidden_reason: string | null;
  created_at: Date;
}

/** An answer with its teacher's name and school. */
export interface AnswerRow {
  id: string;
  question_id: string;
  teacher_id: string;
  text: string;
  edits: number;
  hidden_at: Date | null;
  hidden_reason: string | null;
  created_at: Date;
  updated_at: Date;
  teacher_name: string;
  school_name: string | null;
}

/** The answer fields a change checks. */
export interface LockedAnswer {
  id: string;
  question_id: string;
  teacher_id: string;
  text: string;
  hidden_at: Date | null;
}

/** Which questions: `public` is answered and visible; the staff states narrow by answers and hiding. */
export interface QuestionQuery {
  visibility: 'public' | 'open' | 'answered' | 'hidden' | 'all';
  stage?: string;
  subject?: string;
  subjects?: string[];
  lesson?: string;
  q?: string;
}

const questionCols = `q.id, q.stage, q.subject, q.lesson_id, q.text, q.display_name, q.images, q.answer_count, q.answered_at, q.hidden_at, q.hidden_reason, q.created_at,
  CASE WHEN l.portal_published_at IS NOT NULL OR (l.kind = 'live' AND l.status IN ('approved_for_air', 'on_air')) THEN l.title END lesson_title`;
const questionFrom = 'questions q LEFT JOIN lessons l ON l.id = q.lesson_id';
const answerSelect = `SELECT a.id, a.question_id, a.teacher_id, a.text, a.edits, a.hidden_at, a.hidden_reason, a.created_at, a.updated_at, u.display_name teacher_name, s.name school_name
  FROM answers a JOIN users u ON u.id = a.teacher_id LEFT JOIN schools s ON s.id = u.school_id`;
const visibilityWhere: Record<QuestionQuery['visibility'], string[]> = {
  public: ['q.hidden_at IS NULL', 'q.answer_count > 0'],
  open: ['q.hidden_at IS NULL', 'q.answer_count = 0'],
  answered: ['q.hidden_at IS NULL', 'q.answer_count > 0'],
  hidden: ['q.hidden_at IS NOT NULL'],
  all: [],
};

/** A page of questions in creation order (`asc`: the longest waiting first), after the cursor. */
export async function pageQuestions(q: Queryable, f: QuestionQuery, cursor: string | undefined, limit: number, dir: 'asc' | 'desc'): Promise<{ rows: QuestionRow[]; nextCursor: string | null }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const eq = (col: string, v: unknown) => { params.push(v); where.push(`${col} = $${params.length}`); };
  where.push(...visibilityWhere[f.visibility]);
  if (f.stage) eq('q.stage', f.stage);
  if (f.subjects) { params.push(f.subjects); where.push(`q.subject = ANY($${params.length})`); }
  if (f.subject) eq('q.subject', f.subject);
  if (f.lesson) eq('q.lesson_id', f.lesson);
  textSearchWhere('q', f.q, where, params);
  if (!where.length) where.push('true');
  afterCursorWhere(cursor, { at: 'q.created_at', id: 'q.id' }, dir, where, params);
  params.push(limit + 1);
  const order = dir === 'desc' ? 'DESC' : 'ASC';
  const rows = await q.query<QuestionRow>(`SELECT ${questionCols} FROM ${questionFrom} WHERE ${where.join(' AND ')} ORDER BY q.created_at ${order}, q.id ${order} LIMIT $${params.length}`, params);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { rows: page, nextCursor: rows.length > limit && last ? encodeCursor(last.created_at, last.id) : null };
}

/** One question; `publicOnly`: only when answered and visible. */
export async function findQuestion(q: Queryable, id: string, publicOnly: boolean): Promise<QuestionRow | undefined> {
  return (await q.query<QuestionRow>(`SELECT ${questionCols} FROM ${questionFrom} WHERE q.id = $1 ${publicOnly ? 'AND q.hidden_at IS NULL AND q.answer_count > 0' : ''}`, [id]))[0];
}

/** The answers of these questions, oldest first, grouped by question; hidden ones only with `includeHidden`. */
export async function answersOf(q: Queryable, questionIds: string[], includeHidden: boolean): Promise<Map<string, AnswerRow[]>> {
  const out = new Map<string, AnswerRow[]>();
  if (!questionIds.length) return out;
  const rows = await q.query<AnswerRow>(`${answerSelect} WHERE a.question_id = ANY($1) ${includeHidden ? '' : 'AND a.hidden_at IS NULL'} ORDER BY a.created_at, a.id`, [questionIds]);
  for (const r of rows) out.set(r.question_id, [...(out.get(r.question_id) ?? []), r]);
  return out;
}

export async function findAnswer(q: Queryable, id: string): Promise<AnswerRow | undefined> {
  return (await q.query<AnswerRow>(`${answerSelect} WHERE a.id = $1`, [id]))[0];
}

/** What a question about a lesson needs of it: whether it is public and its stage and subject. */
export async function lessonForQuestion(q: Queryable, lessonId: string): Promise<{ kind: 'live' | 'recorded'; status: LessonStatus; stage: string; subject: string; portal_published_at: Date | null; plan_decision: 'approve' | 'reject' | null } | undefined> {
  return (await q.query<{ kind: 'live' | 'recorded'; status: LessonStatus; stage: string; subject: string; portal_published_at: Date | null; plan_decision: 'approve' | 'reject' | null }>(
    `SELECT l.kind, l.status, l.stage, l.subject, l.portal_published_at, ${planDecisionSql} plan_decision FROM lessons l WHERE l.id = $1`,
    [lessonId],
  ))[0];
}

/** Stores a new open question (searchable by its text); returns when it was created. */
export async function insertQuestion(q: Queryable, v: { id: string; stage: string; subject: string; lessonId: string | null; text: string; displayName: string; images: StoredImage[]; clientKey: string }): Promise<void> {
  await q.query(
    `INSERT INTO questions (id, stage, subject, lesson_id, text, display_name, images, client_key, search_text, search_bigrams)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [v.id, v.stage, v.subject, v.lessonId, v.text, v.displayName, JSON.stringify(v.images), v.clientKey, v.text.toLowerCase(), searchBigrams(v.text)],
  );
}

export async function questionCreatedAt(q: Queryable, id: string): Promise<Date> {
  return (await q.query<{ created_at: Date }>('SELECT created_at FROM questions WHERE id = $1', [id]))[0].created_at;
}

/** A question's pictures and whether it is public (answered and visible). */
export async function questionImages(q: Queryable, id: string): Promise<{ images: StoredImage[]; public: boolean } | undefined> {
  return (await q.query<{ images: StoredImage[]; public: boolean }>('SELECT images, (hidden_at IS NULL AND answer_count > 0) public FROM questions WHERE id = $1', [id]))[0];
}

/** The subjects of the lessons a teacher teaches, by code. */
export async function taughtSubjects(q: Queryable, teacherId: string): Promise<string[]> {
  return (await q.query<{ subject: string }>('SELECT DISTINCT subject FROM lessons WHERE teacher_id = $1 ORDER BY subject', [teacherId])).map((t) => t.subject);
}

/** The stage of a school; undefined when there is no such school. */
export async function schoolStage(q: Queryable, schoolId: string | null | undefined): Promise<string | undefined> {
  return (await q.query<{ stage: string }>('SELECT stage FROM schools WHERE id = $1', [schoolId]))[0]?.stage;
}

/** A question held until the transaction ends. */
export async function lockQuestion(q: Queryable, id: string): Promise<{ id: string; stage: string; hidden_at: Date | null } | undefined> {
  return (await q.query<{ id: string; stage: string; hidden_at: Date | null }>('SELECT id, stage, hidden_at FROM questions WHERE id = $1 FOR UPDATE', [id]))[0];
}

/** An answer held until the transaction ends, its question locked first (every writer takes them in this order). */
export async function lockAnswer(q: Queryable, id: string): Promise<LockedAnswer | undefined> {
  const cols = 'SELECT id, question_id, teacher_id, text, hidden_at FROM answers WHERE id = $1';
  const a = (await q.query<LockedAnswer>(cols, [id]))[0];
  if (!a) return undefined;
  await q.query('SELECT 1 FROM questions WHERE id = $1 FOR UPDATE', [a.question_id]);
  return (await q.query<LockedAnswer>(`${cols} FOR UPDATE`, [id]))[0];
}

export async function questionStage(q: Queryable, id: string): Promise<string> {
  return (await q.query<{ stage: string }>('SELECT stage FROM questions WHERE id = $1', [id]))[0].stage;
}

export async function insertAnswer(q: Queryable, a: { id: string; questionId: string; teacherId: string; text: string }): Promise<void> {
  await q.query('INSERT INTO answers (id, question_id, teacher_id, text) VALUES ($1, $2, $3, $4)', [a.id, a.questionId, a.teacherId, a.text]);
}

export async function updateAnswerText(q: Queryable, id: string, text: string): Promise<void> {
  await q.query('UPDATE answers SET text = $2, edits = edits + 1, updated_at = now() WHERE id = $1', [id, text]);
}

/** Hides (by whom, why) or shows again a question or an answer. */
export async function setHidden(q: Queryable, table: 'questions' | 'answers', id: string, hidden: { by: string; reason: string | null } | null): Promise<void> {
  await q.query(`UPDATE ${table} SET hidden_at = $2, hidden_by = $3, hidden_reason = $4, updated_at = now() WHERE id = $1`, [id, hidden ? new Date() : null, hidden?.by ?? null, hidden?.reason ?? null]);
}

/** Recomputes a question's visible-answer count, first-answer time and search text. */
export async function refreshQuestion(q: Queryable, questionId: string): Promise<void> {
  const question = (await q.query<{ text: string }>('SELECT text FROM questions WHERE id = $1', [questionId]))[0];
  const visible = await q.query<{ text: string; created_at: Date }>('SELECT text, created_at FROM answers WHERE question_id = $1 AND hidden_at IS NULL ORDER BY created_at, id', [questionId]);
  const search = [question.text, ...visible.map((a) => a.text)].join('\n').slice(0, 20_000).toLowerCase();
  await q.query(
    'UPDATE questions SET answer_count = $2, answered_at = $3, search_text = $4, search_bigrams = $5, updated_at = now() WHERE id = $1',
    [questionId, visible.length, visible[0]?.created_at ?? null, search, searchBigrams(search)],
  );
}
