import type { Queryable } from './db.ts';
import type { LessonStatus } from '../domain/lesson-state.ts';
import type { EntrySnapshot, TimetableChange } from '../domain/timetable-rules.ts';
import type { TimetableScope, TimetableVisibility } from '../domain/timetable-access.ts';
import { planDecisionSql } from './schedule.repo.ts';

/** A timetable with the names of its school (school scope) and district. */
export interface TimetableRow {
  id: string;
  scope: TimetableScope;
  school_id: string | null;
  district_id: string;
  week_start: string;
  title: string;
  status: 'draft' | 'published';
  version: number;
  created_at: Date;
  updated_at: Date;
  school_code: string | null;
  school_name: string | null;
  district_code: string;
  district_name: string;
}

/** An entry of a timetable's working copy with its lesson, school, teacher and live-plan decision. */
export interface EntryRow {
  id: string;
  lesson_id: string;
  audience: string;
  note: string;
  starts_at: Date | null;
  ends_at: Date | null;
  cancelled_at: Date | null;
  cancel_reason: string | null;
  published_state: 'scheduled' | 'cancelled' | null;
  kind: 'live' | 'recorded';
  title: string;
  status: LessonStatus;
  scheduled_start: Date | null;
  scheduled_end: Date | null;
  grade: string;
  subject: string;
  school_id: string;
  school_code: string;
  school_name: string;
  teacher_name: string;
  plan_decision: 'approve' | 'reject' | null;
}

/** A published version with its publisher's name. */
export interface VersionRow {
  version: number;
  published_at: Date;
  published_by_name: string;
  concerns_at: Date;
  lead_hours: number;
  late: boolean;
  late_reason: string | null;
  note: string | null;
  entries: EntrySnapshot[];
  changes: TimetableChange[];
}

const ttCols = `t.id, t.scope, t.school_id, t.district_id, to_char(t.week_start, 'YYYY-MM-DD') week_start, t.title, t.status, t.version, t.created_at, t.updated_at,
  s.code school_code, s.name school_name, d.code district_code, d.name district_name`;
const ttFrom = 'timetables t JOIN districts d ON d.id = t.district_id LEFT JOIN schools s ON s.id = t.school_id';
const versionSelect = `SELECT v.version, v.published_at, u.display_name published_by_name, v.concerns_at, v.lead_hours, v.late, v.late_reason, v.note, v.entries, v.changes
  FROM timetable_versions v JOIN users u ON u.id = v.published_by`;

/** The school a school timetable belongs to, by code or id. */
export async function timetableSchool(q: Queryable, by: { code: string } | { id: string }): Promise<{ id: string; name: string; district_id: string } | undefined> {
  const [col, v] = 'code' in by ? ['code', by.code] : ['id', by.id];
  return (await q.query<{ id: string; name: string; district_id: string }>(`SELECT id, name, district_id FROM schools WHERE ${col} = $1`, [v]))[0];
}

/** The district a district timetable belongs to, by code or id. */
export async function timetableDistrict(q: Queryable, by: { code: string } | { id: string }): Promise<{ id: string; name: string } | undefined> {
  const [col, v] = 'code' in by ? ['code', by.code] : ['id', by.id];
  return (await q.query<{ id: string; name: string }>(`SELECT id, name FROM districts WHERE ${col} = $1`, [v]))[0];
}

/** Whether the school (school scope) or district already has a timetable for the week. */
export async function timetableOfWeekExists(q: Queryable, scope: TimetableScope, ownerId: string, weekStart: string): Promise<boolean> {
  const owner = scope === 'school' ? 'school_id' : 'district_id';
  return (await q.query(`SELECT 1 FROM timetables WHERE scope = $1 AND ${owner} = $2 AND week_start = $3::date`, [scope, ownerId, weekStart])).length > 0;
}

export async function insertTimetable(q: Queryable, t: { id: string; scope: TimetableScope; schoolId: string | null; districtId: string; weekStart: string; title: string; createdBy: string }): Promise<void> {
  await q.query(
    "INSERT INTO timetables (id, scope, school_id, district_id, week_start, title, status, created_by) VALUES ($1, $2, $3, $4, $5::date, $6, 'draft', $7)",
    [t.id, t.scope, t.schoolId, t.districtId, t.weekStart, t.title, t.createdBy],
  );
}

function visibilityWhere(v: TimetableVisibility, params: unknown[]): string {
  switch (v.kind) {
    case 'all':
      return 'true';
    case 'district':
      params.push(v.districtId);
      return `t.district_id = $${params.length}`;
    case 'school':
      params.push(v.schoolId, v.districtId);
      return `((t.scope = 'school' AND t.school_id = $${params.length - 1}) OR (t.scope = 'district' AND t.district_id = $${params.length}))`;
    case 'none':
      return 'false';
  }
}

/** Timetables visible to someone, newest week first, with their latest version's publication. */
export async function listTimetables(q: Queryable, visibility: TimetableVisibility, f: { school?: string; district?: string; week?: string; status?: 'draft' | 'published'; limit: number }): Promise<(TimetableRow & { published_at: Date | null; late: boolean | null })[]> {
  const params: unknown[] = [];
  const where = [visibilityWhere(visibility, params)];
  const eq = (col: string, v: unknown) => { params.push(v); where.push(`${col} = $${params.length}`); };
  if (f.school) eq('s.code', f.school);
  if (f.district) eq('d.code', f.district);
  if (f.week) { params.push(f.week); where.push(`t.week_start = $${params.length}::date`); }
  if (f.status) eq('t.status', f.status);
  params.push(f.limit);
  return q.query<TimetableRow & { published_at: Date | null; late: boolean | null }>(
    `SELECT ${ttCols}, v.published_at, v.late FROM ${ttFrom}
     LEFT JOIN timetable_versions v ON v.timetable_id = t.id AND v.version = t.version
     WHERE ${where.join(' AND ')} ORDER BY t.week_start DESC, t.created_at DESC, t.id LIMIT $${params.length}`,
    params,
  );
}

/** One timetable; `forUpdate` holds it until the transaction ends. */
export async function findTimetable(q: Queryable, id: string, forUpdate: boolean): Promise<TimetableRow | undefined> {
  if (forUpdate) await q.query('SELECT 1 FROM timetables WHERE id = $1 FOR UPDATE', [id]);
  return (await q.query<TimetableRow>(`SELECT ${ttCols} FROM ${ttFrom} WHERE t.id = $1`, [id]))[0];
}

/** Marks a timetable changed now. */
export async function touchTimetable(q: Queryable, id: string): Promise<void> {
  await q.query('UPDATE timetables SET updated_at = now() WHERE id = $1', [id]);
}

/** A timetable's entries (or one of them), in the order they take place. */
export async function timetableEntries(q: Queryable, timetableId: string, entryId?: string): Promise<EntryRow[]> {
  const rows = await q.query<EntryRow>(
    `SELECT e.id, e.lesson_id, e.audience, e.note, e.starts_at, e.ends_at, e.cancelled_at, e.cancel_reason, e.published_state,
            l.kind, l.title, l.status, l.scheduled_start, l.scheduled_end, l.grade, l.subject, l.school_id,
            s.code school_code, s.name school_name, u.display_name teacher_name, ${planDecisionSql} plan_decision
     FROM timetable_entries e JOIN lessons l ON l.id = e.lesson_id JOIN schools s ON s.id = l.school_id JOIN users u ON u.id = l.teacher_id
     WHERE e.timetable_id = $1 ${entryId ? 'AND e.id = $2' : ''}`,
    entryId ? [timetableId, entryId] : [timetableId],
  );
  const start = (e: EntryRow): number => (e.kind === 'live' ? e.scheduled_start : e.starts_at)?.getTime() ?? 0;
  return rows.sort((a, b) => start(a) - start(b) || a.school_code.localeCompare(b.school_code) || a.id.localeCompare(b.id));
}

/** One entry of a timetable held until the transaction ends. */
export async function lockTimetableEntry(q: Queryable, timetableId: string, entryId: string): Promise<EntryRow | undefined> {
  await q.query('SELECT 1 FROM timetable_entries WHERE id = $1 AND timetable_id = $2 FOR UPDATE', [entryId, timetableId]);
  return (await timetableEntries(q, timetableId, entryId))[0];
}

/** What an entry needs of a lesson: kind, state, school and district, schedule. */
export async function lessonForEntry(q: Queryable, lessonId: string): Promise<{ id: string; kind: 'live' | 'recorded'; status: LessonStatus; school_id: string; district_id: string; scheduled_start: Date | null; scheduled_end: Date | null } | undefined> {
  return (await q.query<{ id: string; kind: 'live' | 'recorded'; status: LessonStatus; school_id: string; district_id: string; scheduled_start: Date | null; scheduled_end: Date | null }>(
    'SELECT l.id, l.kind, l.status, l.school_id, s.district_id, l.scheduled_start, l.scheduled_end FROM lessons l JOIN schools s ON s.id = l.school_id WHERE l.id = $1',
    [lessonId],
  ))[0];
}

export async function lessonOnTimetable(q: Queryable, timetableId: string, lessonId: string): Promise<boolean> {
  return (await q.query('SELECT 1 FROM timetable_entries WHERE timetable_id = $1 AND lesson_id = $2', [timetableId, lessonId])).length > 0;
}

export async function insertTimetableEntry(q: Queryable, e: { id: string; timetableId: string; lessonId: string; audience: string; note: string; startsAt: Date | null; endsAt: Date | null }): Promise<void> {
  await q.query(
    'INSERT INTO timetable_entries (id, timetable_id, lesson_id, audience, note, starts_at, ends_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [e.id, e.timetableId, e.lessonId, e.audience, e.note, e.startsAt, e.endsAt],
  );
}

/** The release time of a recorded lesson's entry. */
export async function setEntryTimes(q: Queryable, entryId: string, start: Date, end: Date | null): Promise<void> {
  await q.query('UPDATE timetable_entries SET starts_at = $2, ends_at = $3 WHERE id = $1', [entryId, start, end]);
}

export async function setEntryText(q: Queryable, entryId: string, audience: string, note: string): Promise<void> {
  await q.query('UPDATE timetable_entries SET audience = $2, note = $3, updated_at = now() WHERE id = $1', [entryId, audience, note]);
}

export async function cancelTimetableEntry(q: Queryable, entryId: string, reason: string): Promise<void> {
  await q.query('UPDATE timetable_entries SET cancelled_at = now(), cancel_reason = $2, updated_at = now() WHERE id = $1', [entryId, reason]);
}

export async function deleteTimetableEntry(q: Queryable, entryId: string): Promise<void> {
  await q.query('DELETE FROM timetable_entries WHERE id = $1', [entryId]);
}

/** The latest published version's entries and publication, if any. */
export async function latestTimetableVersion(q: Queryable, timetableId: string): Promise<{ version: number; published_at: Date; late: boolean; entries: EntrySnapshot[] } | undefined> {
  return (await q.query<{ version: number; published_at: Date; late: boolean; entries: EntrySnapshot[] }>(
    'SELECT version, published_at, late, entries FROM timetable_versions WHERE timetable_id = $1 ORDER BY version DESC LIMIT 1',
    [timetableId],
  ))[0];
}

/**
 * Stores a published version: its snapshot and changes, the timetable's new version number, and how
 * each entry is now published.
 */
export async function insertTimetableVersion(q: Queryable, v: { timetableId: string; version: number; publishedAt: Date; publishedBy: string; concernsAt: Date; leadHours: number; late: boolean; lateReason: string | null; note: string | null; entries: EntrySnapshot[]; changes: TimetableChange[] }): Promise<void> {
  await q.query(
    `INSERT INTO timetable_versions (timetable_id, version, published_at, published_by, concerns_at, lead_hours, late, late_reason, note, entries, changes)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [v.timetableId, v.version, v.publishedAt, v.publishedBy, v.concernsAt, v.leadHours, v.late, v.lateReason, v.note, JSON.stringify(v.entries), JSON.stringify(v.changes)],
  );
  await q.query("UPDATE timetables SET status = 'published', version = $2, updated_at = now() WHERE id = $1", [v.timetableId, v.version]);
  for (const s of v.entries) {
    await q.query('UPDATE timetable_entries SET published_state = $2, published_audience = $3 WHERE id = $1', [s.entryId, s.state, s.audience]);
  }
}

/** Every published version of a timetable, newest first. */
export async function timetableVersions(q: Queryable, timetableId: string): Promise<VersionRow[]> {
  return q.query<VersionRow>(`${versionSelect} WHERE v.timetable_id = $1 ORDER BY v.version DESC`, [timetableId]);
}

export async function findTimetableVersion(q: Queryable, timetableId: string, version: number): Promise<VersionRow | undefined> {
  return (await q.query<VersionRow>(`${versionSelect} WHERE v.timetable_id = $1 AND v.version = $2`, [timetableId, version]))[0];
}

/** Versions published late (of one district when `district` is given, else of all), newest first. */
export async function lateTimetableVersions(q: Queryable, f: { district?: { id: string | null }; from?: Date; to?: Date; limit: number }): Promise<(TimetableRow & VersionRow)[]> {
  const where = ['v.late'];
  const params: unknown[] = [];
  if (f.district) { params.push(f.district.id); where.push(`t.district_id = $${params.length}`); }
  if (f.from) { params.push(f.from); where.push(`v.published_at >= $${params.length}`); }
  if (f.to) { params.push(f.to); where.push(`v.published_at < $${params.length}`); }
  params.push(f.limit);
  return q.query<TimetableRow & VersionRow>(
    `SELECT ${ttCols}, v.version, v.published_at, u.display_name published_by_name, v.concerns_at, v.lead_hours, v.late_reason
     FROM timetable_versions v JOIN ${ttFrom} ON t.id = v.timetable_id JOIN users u ON u.id = v.published_by
     WHERE ${where.join(' AND ')} ORDER BY v.published_at DESC, t.id, v.version DESC LIMIT $${params.length}`,
    params,
  );
}
