import { isUuid } from '../domain/ids.ts';
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../infra/db.ts';
import { ConflictError, ForbiddenError, InvalidError, NotFoundError } from '../domain/errors.ts';
import type { LessonStatus } from '../domain/lesson-state.ts';
import type { Principal } from '../domain/types.ts';
import { addDays, shanghaiDate, toShanghaiIso } from '../domain/shanghai-time.ts';
import { assessLead, diffEntries, earliestAffected, firstLesson, minLeadHours, weekBounds } from '../domain/timetable-rules.ts';
import { canEditTimetable, canReadTimetable, timetableVisibility, type TimetableScope } from '../domain/timetable-access.ts';
import type { TimetableDocument } from '../formats/timetable-export.ts';
import { changeStatus } from './lesson-store.ts';
import { lockLesson, writeLessonSchedule } from '../infra/lessons.repo.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import {
  cancelTimetableEntry, deleteTimetableEntry, findTimetable, findTimetableVersion, insertTimetable, insertTimetableEntry, insertTimetableVersion,
  lateTimetableVersions, latestTimetableVersion, lessonForEntry, lessonOnTimetable, listTimetables, lockTimetableEntry, setEntryText, setEntryTimes,
  timetableDistrict, timetableEntries, timetableOfWeekExists, timetableSchool, timetableVersions, touchTimetable, type EntryRow, type TimetableRow,
} from '../infra/timetables.repo.ts';
import { isApprovedLive } from './schedule.service.ts';
import type { TaxonomyService } from './taxonomy.service.ts';
import { lateReportItem, snapshot, summary, versionView, type EntryView, type LateReportItem, type TimetableSummary, type TimetableView, type VersionView } from './timetable-views.ts';

export interface TimetableOptions {
  minLeadHours: number;
  now?: () => Date;
  /** Told after a live lesson's schedule or state changed here (the ingest's key cache listens). */
  onLessonChanged?: (lessonId: string) => Promise<void>;
}

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
      const s = code ? await timetableSchool(this.db, { code }) : actor.schoolId ? await timetableSchool(this.db, { id: actor.schoolId }) : undefined;
      if (!code && !s) throw new InvalidError('school_required', 'name the school', [{ field: 'school', message: 'required' }]);
      if (!s) throw new InvalidError('school_not_found', `school ${code} not found`, [{ field: 'school', message: 'unknown school' }]);
      schoolId = s.id;
      districtId = s.district_id;
      ownerName = s.name;
    } else {
      if (input.school) throw new InvalidError('timetable_scope_mismatch', 'a district timetable names a district, not a school', [{ field: 'school', message: 'not allowed for scope district' }]);
      const d = input.district ? await timetableDistrict(this.db, { code: input.district }) : actor.districtId ? await timetableDistrict(this.db, { id: actor.districtId }) : undefined;
      if (!input.district && !d) throw new InvalidError('district_required', 'name the district', [{ field: 'district', message: 'required' }]);
      if (!d) throw new InvalidError('district_not_found', `district ${input.district} not found`, [{ field: 'district', message: 'unknown district' }]);
      districtId = d.id;
      ownerName = d.name;
    }
    if (!canEditTimetable(actor, { scope: input.scope, school_id: schoolId, district_id: districtId })) {
      throw new ForbiddenError('timetable_forbidden', input.scope === 'school' ? 'you may draft timetables of your own school (district admins: of their district\'s schools)' : 'only the district\'s admin drafts its timetables');
    }
    weekBounds(input.weekStart); // the schema checked it is a Monday
    const id = randomUUID();
    const title = input.title?.trim() || `${ownerName} ${input.weekStart} 周课表`;
    await this.db.tx(async (q) => {
      if (await timetableOfWeekExists(q, input.scope, input.scope === 'school' ? schoolId! : districtId, input.weekStart)) throw new ConflictError('timetable_exists', `a timetable for the week of ${input.weekStart} already exists`);
      await insertTimetable(q, { id, scope: input.scope, schoolId, districtId, weekStart: input.weekStart, title, createdBy: actor.userId });
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
    const rows = await listTimetables(this.db, timetableVisibility(actor), f);
    return rows.map((r) => summary(r, r.published_at, Boolean(r.late)));
  }

  /** The timetable with its working copy of entries and what publishing would change. */
  async get(actor: Principal, id: string): Promise<TimetableView> {
    const t = await this.readable(this.db, actor, id);
    const entries = await timetableEntries(this.db, t.id);
    const latest = await latestTimetableVersion(this.db, t.id);
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
      const l = await lessonForEntry(q, input.lessonId);
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
      if (await lessonOnTimetable(q, t.id, l.id)) throw new ConflictError('lesson_already_in_timetable', 'the lesson is already on this timetable');
      await insertTimetableEntry(q, { id: entryId, timetableId: t.id, lessonId: l.id, audience: input.audience ?? '', note: input.note ?? '', startsAt, endsAt });
      await touchTimetable(q, t.id);
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
            await writeLessonSchedule(q, l.id, start, end);
            await writeAudit(q, { actor, entity: 'lesson', entityId: l.id, action: 'reschedule', data: { from: { start: toShanghaiIso(oldStart), end: toShanghaiIso(oldEnd) }, to: { start: toShanghaiIso(start), end: toShanghaiIso(end) }, timetableId: t.id } });
            changed.start = { from: toShanghaiIso(oldStart), to: toShanghaiIso(start) };
            changed.end = { from: toShanghaiIso(oldEnd), to: toShanghaiIso(end) };
            moved = l.id;
          }
        } else {
          const start = input.startsAt ? new Date(input.startsAt) : e.starts_at!;
          const end = input.endsAt ? new Date(input.endsAt) : e.ends_at;
          checkSpan(start, end, week, t.week_start);
          await setEntryTimes(q, e.id, start, end);
          changed.start = { from: e.starts_at ? toShanghaiIso(e.starts_at) : null, to: toShanghaiIso(start) };
        }
      }
      await setEntryText(q, e.id, input.audience ?? e.audience, input.note ?? e.note);
      await touchTimetable(q, t.id);
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
      await cancelTimetableEntry(q, e.id, reason);
      await touchTimetable(q, t.id);
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
      await deleteTimetableEntry(q, e.id);
      await touchTimetable(q, t.id);
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
      const entries = await timetableEntries(q, t.id);
      const snaps = entries.map((e) => snapshot(e, tax));
      const latest = await latestTimetableVersion(q, t.id);
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
      await insertTimetableVersion(q, { timetableId: t.id, version, publishedAt: now, publishedBy: actor.userId, concernsAt: concerns, leadHours, late, lateReason: late ? reason ?? null : null, note: input.note ?? null, entries: snaps, changes });
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
    return (await timetableVersions(this.db, t.id)).map(versionView);
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
      const entries = (await timetableEntries(this.db, t.id)).map((e) => snapshot(e, tax));
      return { ...base, version: null, publishedAt: null, publishedBy: null, late: false, lateReason: null, leadHours: null, entries, changes: [] };
    }
    const v = await findTimetableVersion(this.db, t.id, wanted);
    if (!v) throw new NotFoundError('timetable_version_not_found', `version ${wanted} of this timetable does not exist`);
    return { ...base, version: v.version, publishedAt: v.published_at, publishedBy: v.published_by_name, late: v.late, lateReason: v.late_reason, leadHours: Number(v.lead_hours), entries: v.entries, changes: v.changes };
  }

  /** Versions published late, newest first: operators see all, a district admin their district's. */
  async lateReport(actor: Principal, f: { from?: Date; to?: Date; limit: number }): Promise<LateReportItem[]> {
    let district: { id: string | null } | undefined;
    if (actor.role === 'district_admin') district = { id: actor.districtId };
    else if (actor.role !== 'operator' && actor.role !== 'admin') throw new ForbiddenError('late_report_forbidden', 'the late report is for operators and district admins');
    return (await lateTimetableVersions(this.db, { district, from: f.from, to: f.to, limit: f.limit })).map(lateReportItem);
  }

  // ---------------------------------------------------------------------------------------- helpers

  private async entryView(actor: Principal, id: string, entryId: string): Promise<EntryView> {
    const v = await this.get(actor, id);
    const e = v.entries.find((x) => x.entryId === entryId);
    if (!e) throw new NotFoundError('entry_not_found', 'entry not found');
    return e;
  }

  private async load(q: Queryable, id: string, forUpdate: boolean): Promise<TimetableRow | undefined> {
    return isUuid(id) ? findTimetable(q, id, forUpdate) : undefined;
  }

  /** The timetable if the actor may read it; NotFound otherwise (existence does not leak). */
  private async readable(q: Queryable, actor: Principal, id: string): Promise<TimetableRow> {
    const t = await this.load(q, id, false);
    if (!t || !canReadTimetable(actor, t)) throw new NotFoundError('timetable_not_found', 'timetable not found');
    return t;
  }

  /** The timetable locked for a change: NotFound when unreadable, Forbidden when read-only to the actor. */
  private async editable(q: Queryable, actor: Principal, id: string): Promise<TimetableRow> {
    const t = await this.load(q, id, true);
    if (!t || !canReadTimetable(actor, t)) throw new NotFoundError('timetable_not_found', 'timetable not found');
    if (!canEditTimetable(actor, t)) throw new ForbiddenError('timetable_forbidden', t.scope === 'school' ? 'only the school\'s reviewers, its district admin and admins change this timetable' : 'only the district\'s admin and admins change this timetable');
    return t;
  }

  private async lockEntry(q: Queryable, timetableId: string, entryId: string): Promise<EntryRow> {
    const e = isUuid(entryId) ? await lockTimetableEntry(q, timetableId, entryId) : undefined;
    if (!e) throw new NotFoundError('entry_not_found', 'entry not found');
    return e;
  }
}

function checkSpan(start: Date, end: Date | null, week: { start: Date; end: Date }, weekStart: string, maxHours?: number): void {
  if (end && end <= start) throw new InvalidError('end_before_start', 'the end must be after the start', [{ field: 'endsAt', message: 'must be after startsAt' }]);
  if (end && maxHours && end.getTime() - start.getTime() > maxHours * 3600_000) throw new InvalidError('live_lesson_too_long', `a live lesson lasts at most ${maxHours} hours`, [{ field: 'endsAt', message: `at most ${maxHours} hours after the start` }]);
  if (start < week.start || start >= week.end) throw new InvalidError('outside_timetable_week', `${toShanghaiIso(start)} is outside the week of ${weekStart}; move the lesson to that week's timetable instead`, [{ field: 'startsAt', message: 'outside the timetable\'s week' }]);
}
