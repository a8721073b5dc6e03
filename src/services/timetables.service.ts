import { isUuid } from '../domain/ids.ts';
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../infra/db.ts';
import { ConflictError, ForbiddenError, InvalidError, NotFoundError } from '../domain/errors.ts';
import type { LessonStatus } from '../domain/lesson-state.ts';
import type { Principal } from '../domain/types.ts';
import { addDays, shanghaiDate, toShanghaiIso } from '../domain/shanghai-time.ts';
import {
  assessLead, diffEntries, earliestAffected, firstLesson, minLeadHours, weekBounds,
  type EntrySnapshot, type TimetableChange,
} from '../domain/timetable-rules.ts';
import type { TimetableDocument } from '../formats/timetable-export.ts';
import { changeStatus } from './lesson-store.ts';
import { lockLesson } from '../infra/lessons.repo.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import { isApprovedLive, planDecisionSql } from './schedule.service.ts';
import type { Taxonomy, TaxonomyService } from './taxonomy.service.ts';

export type TimetableScope = 'school' | 'district';

interface TimetableRow {
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

interface EntryRow {
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

interface VersionRow {
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

export interface EntryView extends EntrySnapshot {
  lessonStatus: LessonStatus;
  /** Live lessons: whether the live plan is approved (only approved lessons reach the public schedule). */
  approvedForAir: boolean | null;
  /** How the latest published version shows the entry; null when not yet published. */
  publishedState: 'scheduled' | 'cancelled' | null;
}

export interface TimetableSummary {
  id: string;
  scope: TimetableScope;
  school: { code: string; name: string } | null;
  district: { code: string; name: string };
  weekStart: string;
  weekEnd: string;
  title: string;
  status: 'draft' | 'published';
  version: number;
  publishedAt: string | null;
  late: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface TimetableView extends TimetableSummary {
  entries: EntryView[];
  /** What publishing now would change (every entry while never published). */
  unpublishedChanges: TimetableChange[];
}

export interface VersionView {
  version: number;
  publishedAt: string;
  publishedBy: string;
  concernsAt: string;
  leadHours: number;
  late: boolean;
  lateReason: string | null;
  note: string | null;
  changes: TimetableChange[];
  entryCount: number;
}

export interface LateReportItem {
  timetableId: string;
  scope: TimetableScope;
  school: { code: string; name: string } | null;
  district: { code: string; name: string };
  weekStart: string;
  version: number;
  publishedAt: string;
  publishedBy: string;
  concernsAt: string;
  leadHours: number;
  lateReason: string;
}

export interface TimetableOptions {
  minLeadHours: number;
  now?: () => Date;
  /** Told after a live lesson's schedule or state changed here (the ingest's key cache listens). */
  onLessonChanged?: (lessonId: string) => Promise<void>;
}

const ttCols = `t.id, t.scope, t.school_id, t.district_id, to_char(t.week_start, 'YYYY-MM-DD') week_start, t.title, t.status, t.version, t.created_at, t.updated_at,
  s.code school_code, s.name school_name, d.code district_code, d.name district_name`;
const ttFrom = 'timetables t JOIN districts d ON d.id = t.district_id LEFT JOIN schools s ON s.id = t.school_id';

/** A timetable is a week of one school or one district; live lessons may only be rescheduled before air. */
const reschedulable: LessonStatus[] = ['scheduled', 'approved_for_air', 'rejected'];
const cancellable: LessonStatus[] = ['scheduled', 'approved_for_air', 'rejected'];

/**
 * Timetables (issue 6): a school's or a district's week of live lessons (and recorded lessons released
 * at a time), drafted, then published in versions. Publishing less than three days before the first
 * lesson concerned needs a reason and is reported as late.
 *
 * Who: school timetables are edited by the school's reviewers, the district admin of its district and
 * admins; district timetables by the district's admin and admins. Teachers and reviewers read their
 * school's timetables and their district's; operators read all.
 */
export class TimetablesService {
  private readonly opts: TimetableOptions;
  constructor(private readonly db: Db, private readonly taxonomy: TaxonomyService, opts: Partial<TimetableOptions> = {}) {
    this.opts = { minLeadHours, ...opts };
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  /** Starts the draft timetable of a school's or district's week (one per owner and week). */
  async create(actor: Principal, input: { scope: TimetableScope; school?: string; district?: string; weekStart: string; title?: string }): Promise<TimetableView> {
    let schoolId: string | null = null;
    let districtId: string;
    let ownerName: string;
    if (input.scope === 'school') {
      if (input.district) throw new InvalidError('timetable_scope_mismatch', 'a school timetable names a school, not a district', [{ field: 'district', message: 'not allowed for scope school' }]);
      const code = input.school;
      const s = code
        ? (await this.db.query<{ id: string; name: string; district_id: string }>('SELECT id, name, district_id FROM schools WHERE code = $1', [code]))[0]
        : actor.schoolId ? (await this.db.query<{ id: string; name: string; district_id: string }>('SELECT id, name, district_id FROM schools WHERE id = $1', [actor.schoolId]))[0] : undefined;
      if (!code && !s) throw new InvalidError('school_required', 'name the school', [{ field: 'school', message: 'required' }]);
      if (!s) throw new InvalidError('school_not_found', `school ${code} not found`, [{ field: 'school', message: 'unknown school' }]);
      schoolId = s.id;
      districtId = s.district_id;
      ownerName = s.name;
    } else {
      if (input.school) throw new InvalidError('timetable_scope_mismatch', 'a district timetable names a district, not a school', [{ field: 'school', message: 'not allowed for scope district' }]);
      const d = input.district
        ? (await this.db.query<{ id: string; name: string }>('SELECT id, name FROM districts WHERE code = $1', [input.district]))[0]
        : actor.districtId ? (await this.db.query<{ id: string; name: string }>('SELECT id, name FROM districts WHERE id = $1', [actor.districtId]))[0] : undefined;
      if (!input.district && !d) throw new InvalidError('district_required', 'name the district', [{ field: 'district', message: 'required' }]);
      if (!d) throw new InvalidError('district_not_found', `district ${input.district} not found`, [{ field: 'district', message: 'unknown district' }]);
      districtId = d.id;
      ownerName = d.name;
    }
    if (!canEdit(actor, { scope: input.scope, school_id: schoolId, district_id: districtId })) {
      throw new ForbiddenError('timetable_forbidden', input.scope === 'school' ? 'you may draft timetables of your own school (district admins: of their district\'s schools)' : 'only the district\'s admin drafts its timetables');
    }
    weekBounds(input.weekStart); // the schema checked it is a Monday
    const id = randomUUID();
    const title = input.title?.trim() || `${ownerName} ${input.weekStart} 周课表`;
    await this.db.tx(async (q) => {
      const dup = await q.query(
        input.scope === 'school'
          ? "SELECT 1 FROM timetables WHERE scope = 'school' AND school_id = $1 AND week_start = $2::date"
          : "SELECT 1 FROM timetables WHERE scope = 'district' AND district_id = $1 AND week_start = $2::date",
        [input.scope === 'school' ? schoolId : districtId, input.weekStart],
      );
      if (dup.length) throw new ConflictError('timetable_exists', `a timetable for the week of ${input.weekStart} already exists`);
      await q.query(
        "INSERT INTO timetables (id, scope, school_id, district_id, week_start, title, status, created_by) VALUES ($1, $2, $3, $4, $5::date, $6, 'draft', $7)",
        [id, input.scope, schoolId, districtId, input.weekStart, title, actor.userId],
      );
      await writeAudit(q, { actor, entity: 'timetable', entityId: id, action: 'create', to: 'draft', data: { scope: input.scope, weekStart: input.weekStart } });
    }).catch((err: unknown) => {
      // two drafts of the same week at once: the unique index decides, the loser gets the same 409
      if ((err as { code?: string }).code === '23505') throw new ConflictError('timetable_exists', `a timetable for the week of ${input.weekStart} already exists`);
      throw err;
    });
    return this.get(actor, id);
  }

  /** Timetables this staff member may read, newest week first. */
  async list(actor: Principal, f: { school?: string; district?: string; week?: string; status?: 'draft' | 'published'; limit: number }): Promise<TimetableSummary[]> {
    const { where, params } = visibilitySql(actor);
    if (f.school) { params.push(f.school); where.push(`s.code = $${params.length}`); }
    if (f.district) { params.push(f.district); where.push(`d.code = $${params.length}`); }
    if (f.week) { params.push(f.week); where.push(`t.week_start = $${params.length}::date`); }
    if (f.status) { params.push(f.status); where.push(`t.status = $${params.length}`); }
    params.push(f.limit);
    const rows = await this.db.query<TimetableRow & { published_at: Date | null; late: boolean | null }>(
      `SELECT ${ttCols}, v.published_at, v.late FROM ${ttFrom}
       LEFT JOIN timetable_versions v ON v.timetable_id = t.id AND v.version = t.version
       WHERE ${where.join(' AND ')} ORDER BY t.week_start DESC, t.created_at DESC, t.id LIMIT $${params.length}`,
      params,
    );
    return rows.map((r) => summary(r, r.published_at, Boolean(r.late)));
  }

  /** The timetable with its working copy of entries and what publishing would change. */
  async get(actor: Principal, id: string): Promise<TimetableView> {
    const t = await this.readable(this.db, actor, id);
    const entries = await this.entries(this.db, t.id);
    const latest = await this.latestVersion(this.db, t.id);
    const tax = await this.taxonomy.get();
    const snaps = entries.map((e) => snapshot(e, tax));
    return {
      ...summary(t, latest?.published_at ?? null, latest?.late ?? false),
      entries: entries.map((e, i) => ({ ...snaps[i], lessonStatus: e.status, approvedForAir: e.kind === 'live' ? isApprovedLive(e.kind, e.status, e.plan_decision) : null, publishedState: e.published_state })),
      unpublishedChanges: diffEntries(latest?.entries ?? [], snaps),
    };
  }

  /** Adds a lesson of the timetable's school (or district) that takes place in its week. */
  async addEntry(actor: Principal, id: string, input: { lessonId: string; audience?: string; note?: string; startsAt?: string; endsAt?: string }): Promise<EntryView> {
    const entryId = randomUUID();
    await this.db.tx(async (q) => {
      const t = await this.editable(q, actor, id);
      const week = weekBounds(t.week_start);
      const l = (await q.query<{ id: string; kind: 'live' | 'recorded'; status: LessonStatus; school_id: string; district_id: string; scheduled_start: Date | null; scheduled_end: Date | null }>(
        'SELECT l.id, l.kind, l.status, l.school_id, s.district_id, l.scheduled_start, l.scheduled_end FROM lessons l JOIN schools s ON s.id = l.school_id WHERE l.id = $1',
        [input.lessonId],
      ))[0];
      if (!l || (t.scope === 'school' ? l.school_id !== t.school_id : l.district_id !== t.district_id)) {
        throw new InvalidError('timetable_lesson_unknown', `lessonId: no lesson with that id belongs to ${t.scope === 'school' ? 'this school' : 'this district'}`, [{ field: 'lessonId', message: 'unknown lesson' }]);
      }
      let startsAt: Date | null = null;
      let endsAt: Date | null = null;
      let when: Date;
      if (l.kind === 'live') {
        if (input.startsAt || input.endsAt) throw new InvalidError('live_lesson_time_fixed', `${input.startsAt ? 'startsAt' : 'endsAt'}: a live lesson takes place at its own schedule; change it with PATCH on the entry`, [{ field: input.startsAt ? 'startsAt' : 'endsAt', message: 'not allowed for a live lesson' }]);
        if (l.status === 'draft') throw new ConflictError('live_lesson_cancelled', 'the live lesson was cancelled', { status: l.status });
        when = l.scheduled_start!;
      } else {
        if (!input.startsAt) throw new InvalidError('release_time_required', 'startsAt: a recorded lesson needs its release time', [{ field: 'startsAt', message: 'required for a recorded lesson' }]);
        startsAt = new Date(input.startsAt);
        endsAt = input.endsAt ? new Date(input.endsAt) : null;
        if (endsAt && endsAt <= startsAt) throw new InvalidError('end_before_start', 'endsAt must be after startsAt', [{ field: 'endsAt', message: 'must be after startsAt' }]);
        when = startsAt;
      }
      if (when < week.start || when >= week.end) {
        throw new InvalidError('outside_timetable_week', `the lesson is at ${toShanghaiIso(when)}, outside the week of ${t.week_start}`, [{ field: l.kind === 'live' ? 'lessonId' : 'startsAt', message: 'outside the timetable\'s week' }]);
      }
      if ((await q.query('SELECT 1 FROM timetable_entries WHERE timetable_id = $1 AND lesson_id = $2', [t.id, l.id])).length) throw new ConflictError('lesson_already_in_timetable', 'the lesson is already on this timetable');
      await q.query(
        'INSERT INTO timetable_entries (id, timetable_id, lesson_id, audience, note, starts_at, ends_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [entryId, t.id, l.id, input.audience ?? '', input.note ?? '', startsAt, endsAt],
      );
      await this.touch(q, t.id);
      await writeAudit(q, { actor, entity: 'timetable', entityId: t.id, action: 'add_entry', data: { entryId, lessonId: l.id } });
    });
    return this.entryView(actor, id, entryId);
  }

  /**
   * Changes an entry: audience and note; the release time of a recorded lesson; the schedule of a live
   * lesson that has not gone on air (the lesson itself moves: the ingest window and the public
   * schedule follow).
   */
  async updateEntry(actor: Principal, id: string, entryId: string, input: { audience?: string; note?: string; startsAt?: string; endsAt?: string }): Promise<EntryView> {
    let moved: string | undefined;
    await this.db.tx(async (q) => {
      const t = await this.editable(q, actor, id);
      const e = await this.lockEntry(q, t.id, entryId);
      if (e.cancelled_at) throw new ConflictError('entry_cancelled', 'the entry was cancelled');
      const week = weekBounds(t.week_start);
      const changed: Record<string, unknown> = {};
      if (input.audience !== undefined && input.audience !== e.audience) changed.audience = { from: e.audience, to: input.audience };
      if (input.note !== undefined && input.note !== e.note) changed.note = { from: e.note, to: input.note };
      if (input.startsAt !== undefined || input.endsAt !== undefined) {
        if (e.kind === 'live') {
          const l = await lockLesson(q, e.lesson_id);
          if (l.status === 'draft') throw new ConflictError('live_lesson_cancelled', 'the live lesson was cancelled', { status: l.status });
          if (!reschedulable.includes(l.status)) throw new ConflictError('not_reschedulable', `a live lesson in state "${l.status}" can no longer be rescheduled`, { status: l.status });
          const oldStart = l.scheduled_start!;
          const oldEnd = l.scheduled_end!;
          const start = input.startsAt ? new Date(input.startsAt) : oldStart;
          // moving only the start keeps the length
          const end = input.endsAt ? new Date(input.endsAt) : input.startsAt ? new Date(start.getTime() + (oldEnd.getTime() - oldStart.getTime())) : oldEnd;
          checkSpan(start, end, week, t.week_start, 12);
          if (start.getTime() !== oldStart.getTime() || end.getTime() !== oldEnd.getTime()) {
            await q.query('UPDATE lessons SET scheduled_start = $2, scheduled_end = $3, updated_at = now() WHERE id = $1', [l.id, start, end]);
            await writeAudit(q, { actor, entity: 'lesson', entityId: l.id, action: 'reschedule', data: { from: { start: toShanghaiIso(oldStart), end: toShanghaiIso(oldEnd) }, to: { start: toShanghaiIso(start), end: toShanghaiIso(end) }, timetableId: t.id } });
            changed.start = { from: toShanghaiIso(oldStart), to: toShanghaiIso(start) };
            changed.end = { from: toShanghaiIso(oldEnd), to: toShanghaiIso(end) };
            moved = l.id;
          }
        } else {
          const start = input.startsAt ? new Date(input.startsAt) : e.starts_at!;
          const end = input.endsAt ? new Date(input.endsAt) : e.ends_at;
          checkSpan(start, end, week, t.week_start);
          await q.query('UPDATE timetable_entries SET starts_at = $2, ends_at = $3 WHERE id = $1', [e.id, start, end]);
          changed.start = { from: e.starts_at ? toShanghaiIso(e.starts_at) : null, to: toShanghaiIso(start) };
        }
      }
      await q.query('UPDATE timetable_entries SET audience = $2, note = $3, updated_at = now() WHERE id = $1', [e.id, input.audience ?? e.audience, input.note ?? e.note]);
      await this.touch(q, t.id);
      await writeAudit(q, { actor, entity: 'timetable', entityId: t.id, action: 'update_entry', data: { entryId: e.id, lessonId: e.lesson_id, changed } });
    });
    if (moved) await this.opts.onLessonChanged?.(moved);
    return this.entryView(actor, id, entryId);
  }

  /** Cancels an entry; a live lesson not yet on air is cancelled with it (state machine `cancel`). */
  async cancelEntry(actor: Principal, id: string, entryId: string, reason: string): Promise<EntryView> {
    let cancelledLesson: string | undefined;
    await this.db.tx(async (q) => {
      const t = await this.editable(q, actor, id);
      const e = await this.lockEntry(q, t.id, entryId);
      if (e.cancelled_at) throw new ConflictError('entry_cancelled', 'the entry is already cancelled');
      if (e.kind === 'live') {
        const l = await lockLesson(q, e.lesson_id);
        if (cancellable.includes(l.status)) {
          await changeStatus(q, l, 'cancel', actor, reason, { timetableId: t.id, entryId: e.id });
          cancelledLesson = l.id;
        } else if (l.status !== 'draft') {
          throw new ConflictError('not_cancellable', `the live lesson is "${l.status}": it can no longer be cancelled`, { status: l.status });
        }
      }
      await q.query('UPDATE timetable_entries SET cancelled_at = now(), cancel_reason = $2, updated_at = now() WHERE id = $1', [e.id, reason]);
      await this.touch(q, t.id);
      await writeAudit(q, { actor, entity: 'timetable', entityId: t.id, action: 'cancel_entry', reason, data: { entryId: e.id, lessonId: e.lesson_id } });
    });
    if (cancelledLesson) await this.opts.onLessonChanged?.(cancelledLesson);
    return this.entryView(actor, id, entryId);
  }

  /** Removes an entry that was never published (a published one is cancelled instead, visibly). */
  async removeEntry(actor: Principal, id: string, entryId: string): Promise<void> {
    await this.db.tx(async (q) => {
      const t = await this.editable(q, actor, id);
      const e = await this.lockEntry(q, t.id, entryId);
      if (e.published_state) throw new ConflictError('entry_published', 'the entry has been published: cancel it instead, so schools see the change');
      await q.query('DELETE FROM timetable_entries WHERE id = $1', [e.id]);
      await this.touch(q, t.id);
      await writeAudit(q, { actor, entity: 'timetable', entityId: t.id, action: 'remove_entry', data: { entryId: e.id, lessonId: e.lesson_id } });
    });
  }

  /**
   * Publishes the working copy as the next version. Late (less than `minLeadHours` before the first
   * lesson, or for a later version before the earliest lesson its changes touch) needs `lateReason`
   * and is flagged. Every live lesson still on it must have an approved live plan.
   */
  async publish(actor: Principal, id: string, input: { lateReason?: string; note?: string }): Promise<VersionView> {
    const now = this.now();
    const tax = await this.taxonomy.get();
    const out = await this.db.tx(async (q) => {
      const t = await this.editable(q, actor, id);
      const entries = await this.entries(q, t.id);
      const snaps = entries.map((e) => snapshot(e, tax));
      const latest = await this.latestVersion(q, t.id);
      const changes = diffEntries(latest?.entries ?? [], snaps);
      let concerns: Date | undefined;
      if (!latest) {
        concerns = firstLesson(snaps);
        if (!concerns) throw new ConflictError('timetable_empty', 'a timetable needs at least one lesson before it is published');
      } else {
        if (!changes.length) throw new ConflictError('timetable_unchanged', `nothing changed since version ${latest.version}`);
        concerns = earliestAffected(changes)!;
      }
      const unapproved = entries.filter((e, i) => e.kind === 'live' && snaps[i].state === 'scheduled' && !isApprovedLive(e.kind, e.status, e.plan_decision));
      if (unapproved.length) {
        throw new ConflictError('live_plan_unapproved', `live lessons without an approved plan cannot be announced: ${unapproved.map((e) => `《${e.title}》(${e.status})`).join(', ')}; get them approved or cancel them`);
      }
      const { leadHours, late } = assessLead(concerns, now, this.opts.minLeadHours);
      const reason = input.lateReason?.trim() ? input.lateReason : undefined;
      if (late && !reason) {
        throw new InvalidError('late_reason_required',
          `the ${latest ? 'earliest lesson this change touches' : 'first lesson'} starts ${leadHours < 0 ? `${-leadHours} hours ago` : `in ${leadHours} hours`}, less than ${this.opts.minLeadHours / 24} days away: publishing late needs a lateReason`,
          [{ field: 'lateReason', message: 'required when publishing less than 3 days before the lesson' }],
        );
      }
      const version = t.version + 1;
      await q.query(
        `INSERT INTO timetable_versions (timetable_id, version, published_at, published_by, concerns_at, lead_hours, late, late_reason, note, entries, changes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [t.id, version, now, actor.userId, concerns, leadHours, late, late ? reason : null, input.note ?? null, JSON.stringify(snaps), JSON.stringify(changes)],
      );
      await q.query("UPDATE timetables SET status = 'published', version = $2, updated_at = now() WHERE id = $1", [t.id, version]);
      for (const s of snaps) {
        await q.query('UPDATE timetable_entries SET published_state = $2, published_audience = $3 WHERE id = $1', [s.entryId, s.state, s.audience]);
      }
      await writeAudit(q, {
        actor, entity: 'timetable', entityId: t.id, action: 'publish', from: latest ? `v${latest.version}` : 'draft', to: `v${version}`,
        reason: late ? reason : null, data: { late, leadHours, concernsAt: toShanghaiIso(concerns), changes: changes.length },
      });
      return version;
    });
    return (await this.versions(actor, id)).find((v) => v.version === out)!;
  }

  /** Every published version with its changes, newest first. */
  async versions(actor: Principal, id: string): Promise<VersionView[]> {
    const t = await this.readable(this.db, actor, id);
    const rows = await this.db.query<VersionRow>(
      `SELECT v.version, v.published_at, u.display_name published_by_name, v.concerns_at, v.lead_hours, v.late, v.late_reason, v.note, v.entries, v.changes
       FROM timetable_versions v JOIN users u ON u.id = v.published_by WHERE v.timetable_id = $1 ORDER BY v.version DESC`,
      [t.id],
    );
    return rows.map(versionView);
  }

  /** The weekly filing document: a published version (latest by default) or, never published, the draft. */
  async document(actor: Principal, id: string, version?: number): Promise<TimetableDocument> {
    const t = await this.readable(this.db, actor, id);
    const { start } = weekBounds(t.week_start);
    const base = {
      scope: t.scope,
      owner: t.scope === 'school' ? { code: t.school_code!, name: t.school_name! } : { code: t.district_code, name: t.district_name },
      district: { code: t.district_code, name: t.district_name },
      weekStart: t.week_start,
      weekEnd: shanghaiDate(addDays(start, 6)),
      title: t.title,
      generatedAt: this.now(),
    };
    const wanted = version ?? (t.version || undefined);
    if (wanted === undefined) {
      const tax = await this.taxonomy.get();
      const entries = (await this.entries(this.db, t.id)).map((e) => snapshot(e, tax));
      return { ...base, version: null, publishedAt: null, publishedBy: null, late: false, lateReason: null, leadHours: null, entries, changes: [] };
    }
    const v = (await this.db.query<VersionRow>(
      `SELECT v.version, v.published_at, u.display_name published_by_name, v.concerns_at, v.lead_hours, v.late, v.late_reason, v.note, v.entries, v.changes
       FROM timetable_versions v JOIN users u ON u.id = v.published_by WHERE v.timetable_id = $1 AND v.version = $2`,
      [t.id, wanted],
    ))[0];
    if (!v) throw new NotFoundError('timetable_version_not_found', `version ${wanted} of this timetable does not exist`);
    return { ...base, version: v.version, publishedAt: v.published_at, publishedBy: v.published_by_name, late: v.late, lateReason: v.late_reason, leadHours: Number(v.lead_hours), entries: v.entries, changes: v.changes };
  }

  /** Versions published late, newest first: operators see all, a district admin their district's. */
  async lateReport(actor: Principal, f: { from?: Date; to?: Date; limit: number }): Promise<LateReportItem[]> {
    const where = ['v.late'];
    const params: unknown[] = [];
    if (actor.role === 'district_admin') { params.push(actor.districtId); where.push(`t.district_id = $${params.length}`); }
    else if (actor.role !== 'operator' && actor.role !== 'admin') throw new ForbiddenError('late_report_forbidden', 'the late report is for operators and district admins');
    if (f.from) { params.push(f.from); where.push(`v.published_at >= $${params.length}`); }
    if (f.to) { params.push(f.to); where.push(`v.published_at < $${params.length}`); }
    params.push(f.limit);
    const rows = await this.db.query<TimetableRow & VersionRow>(
      `SELECT ${ttCols}, v.version, v.published_at, u.display_name published_by_name, v.concerns_at, v.lead_hours, v.late_reason
       FROM timetable_versions v JOIN ${ttFrom} ON t.id = v.timetable_id JOIN users u ON u.id = v.published_by
       WHERE ${where.join(' AND ')} ORDER BY v.published_at DESC, t.id, v.version DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map((r) => ({
      timetableId: r.id,
      scope: r.scope,
      school: r.school_code ? { code: r.school_code, name: r.school_name! } : null,
      district: { code: r.district_code, name: r.district_name },
      weekStart: r.week_start,
      version: r.version,
      publishedAt: toShanghaiIso(r.published_at),
      publishedBy: r.published_by_name,
      concernsAt: toShanghaiIso(r.concerns_at),
      leadHours: Number(r.lead_hours),
      lateReason: r.late_reason ?? '',
    }));
  }

  // ---------------------------------------------------------------------------------------- helpers

  private async entryView(actor: Principal, id: string, entryId: string): Promise<EntryView> {
    const v = await this.get(actor, id);
    const e = v.entries.find((x) => x.entryId === entryId);
    if (!e) throw new NotFoundError('entry_not_found', 'entry not found');
    return e;
  }

  private async load(q: Queryable, id: string, forUpdate: boolean): Promise<TimetableRow | undefined> {
    if (!isUuid(id)) return undefined;
    if (forUpdate) await q.query('SELECT 1 FROM timetables WHERE id = $1 FOR UPDATE', [id]);
    return (await q.query<TimetableRow>(`SELECT ${ttCols} FROM ${ttFrom} WHERE t.id = $1`, [id]))[0];
  }

  /** The timetable if the actor may read it; NotFound otherwise (existence does not leak). */
  private async readable(q: Queryable, actor: Principal, id: string): Promise<TimetableRow> {
    const t = await this.load(q, id, false);
    if (!t || !canRead(actor, t)) throw new NotFoundError('timetable_not_found', 'timetable not found');
    return t;
  }

  /** The timetable locked for a change: NotFound when unreadable, Forbidden when read-only to the actor. */
  private async editable(q: Queryable, actor: Principal, id: string): Promise<TimetableRow> {
    const t = await this.load(q, id, true);
    if (!t || !canRead(actor, t)) throw new NotFoundError('timetable_not_found', 'timetable not found');
    if (!canEdit(actor, t)) throw new ForbiddenError('timetable_forbidden', t.scope === 'school' ? 'only the school\'s reviewers, its district admin and admins change this timetable' : 'only the district\'s admin and admins change this timetable');
    return t;
  }

  private async lockEntry(q: Queryable, timetableId: string, entryId: string): Promise<EntryRow> {
    if (!/^[0-9a-f-]{36}$/.test(entryId)) throw new NotFoundError('entry_not_found', 'entry not found');
    await q.query('SELECT 1 FROM timetable_entries WHERE id = $1 AND timetable_id = $2 FOR UPDATE', [entryId, timetableId]);
    const e = (await this.entries(q, timetableId, entryId))[0];
    if (!e) throw new NotFoundError('entry_not_found', 'entry not found');
    return e;
  }

  private async entries(q: Queryable, timetableId: string, entryId?: string): Promise<EntryRow[]> {
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

  private async latestVersion(q: Queryable, timetableId: string): Promise<{ version: number; published_at: Date; late: boolean; entries: EntrySnapshot[] } | undefined> {
    return (await q.query<{ version: number; published_at: Date; late: boolean; entries: EntrySnapshot[] }>(
      'SELECT version, published_at, late, entries FROM timetable_versions WHERE timetable_id = $1 ORDER BY version DESC LIMIT 1',
      [timetableId],
    ))[0];
  }

  private async touch(q: Queryable, id: string): Promise<void> {
    await q.query('UPDATE timetables SET updated_at = now() WHERE id = $1', [id]);
  }
}

function canRead(actor: Principal, t: Pick<TimetableRow, 'scope' | 'school_id' | 'district_id'>): boolean {
  switch (actor.role) {
    case 'admin':
    case 'operator':
      return true;
    case 'district_admin':
      return Boolean(actor.districtId) && actor.districtId === t.district_id;
    case 'teacher':
    case 'reviewer':
      return t.scope === 'school' ? actor.schoolId === t.school_id : Boolean(actor.districtId) && actor.districtId === t.district_id;
    default:
      return false;
  }
}

function canEdit(actor: Principal, t: Pick<TimetableRow, 'scope' | 'school_id' | 'district_id'>): boolean {
  switch (actor.role) {
    case 'admin':
      return true;
    case 'district_admin':
      return Boolean(actor.districtId) && actor.districtId === t.district_id;
    case 'reviewer':
      return t.scope === 'school' && actor.schoolId === t.school_id;
    default:
      return false;
  }
}

function visibilitySql(actor: Principal): { where: string[]; params: unknown[] } {
  switch (actor.role) {
    case 'admin':
    case 'operator':
      return { where: ['true'], params: [] };
    case 'district_admin':
      return { where: ['t.district_id = $1'], params: [actor.districtId] };
    case 'teacher':
    case 'reviewer':
      return { where: ["((t.scope = 'school' AND t.school_id = $1) OR (t.scope = 'district' AND t.district_id = $2))"], params: [actor.schoolId, actor.districtId] };
    default:
      return { where: ['false'], params: [] };
  }
}

function checkSpan(start: Date, end: Date | null, week: { start: Date; end: Date }, weekStart: string, maxHours?: number): void {
  if (end && end <= start) throw new InvalidError('end_before_start', 'the end must be after the start', [{ field: 'endsAt', message: 'must be after startsAt' }]);
  if (end && maxHours && end.getTime() - start.getTime() > maxHours * 3600_000) throw new InvalidError('live_lesson_too_long', `a live lesson lasts at most ${maxHours} hours`, [{ field: 'endsAt', message: `at most ${maxHours} hours after the start` }]);
  if (start < week.start || start >= week.end) throw new InvalidError('outside_timetable_week', `${toShanghaiIso(start)} is outside the week of ${weekStart}; move the lesson to that week's timetable instead`, [{ field: 'startsAt', message: 'outside the timetable\'s week' }]);
}

function snapshot(e: EntryRow, tax: Taxonomy): EntrySnapshot {
  const label = (kind: 'grade' | 'subject', code: string) => tax[kind].find((i) => i.code === code)?.label ?? code;
  const start = e.kind === 'live' ? e.scheduled_start : e.starts_at;
  const end = e.kind === 'live' ? e.scheduled_end : e.ends_at;
  // a live lesson back in `draft` was cancelled (the state machine's `cancel`), possibly from another timetable
  const cancelled = Boolean(e.cancelled_at) || (e.kind === 'live' && e.status === 'draft');
  return {
    entryId: e.id,
    lessonId: e.lesson_id,
    kind: e.kind,
    title: e.title,
    school: { code: e.school_code, name: e.school_name },
    grade: { code: e.grade, label: label('grade', e.grade) },
    subject: { code: e.subject, label: label('subject', e.subject) },
    teacher: e.teacher_name,
    audience: e.audience,
    note: e.note,
    start: start ? toShanghaiIso(start) : '',
    end: end ? toShanghaiIso(end) : null,
    state: cancelled ? 'cancelled' : 'scheduled',
    cancelReason: e.cancel_reason ?? (cancelled ? '课程已取消' : null),
  };
}

function summary(t: TimetableRow, publishedAt: Date | null, late: boolean): TimetableSummary {
  const { start } = weekBounds(t.week_start);
  return {
    id: t.id,
    scope: t.scope,
    school: t.school_code ? { code: t.school_code, name: t.school_name! } : null,
    district: { code: t.district_code, name: t.district_name },
    weekStart: t.week_start,
    weekEnd: shanghaiDate(addDays(start, 6)),
    title: t.title,
    status: t.status,
    version: t.version,
    publishedAt: publishedAt ? toShanghaiIso(publishedAt) : null,
    late,
    createdAt: toShanghaiIso(t.created_at),
    updatedAt: toShanghaiIso(t.updated_at),
  };
}

function versionView(v: VersionRow): VersionView {
  return {
    version: v.version,
    publishedAt: toShanghaiIso(v.published_at),
    publishedBy: v.published_by_name,
    concernsAt: toShanghaiIso(v.concerns_at),
    leadHours: Number(v.lead_hours),
    late: v.late,
    lateReason: v.late_reason,
    note: v.note,
    changes: v.changes,
    entryCount: v.entries.length,
  };
}
