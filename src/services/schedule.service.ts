import { createHash } from 'node:crypto';
import type { Db } from '../infra/db.ts';
import { InvalidError, NotFoundError } from '../domain/errors.ts';
import type { LessonStatus } from '../domain/lesson-state.ts';
import { icalCalendar, type IcalEvent } from '../formats/ical.ts';
import { addDays, shanghaiMidnight, startOfShanghaiDay, toShanghaiIso } from '../domain/shanghai-time.ts';
import type { Taxonomy, TaxonomyService } from './taxonomy.service.ts';
import { encodeCursor } from '../infra/cursor.ts';
import { findSchoolByCode } from '../infra/schools.repo.ts';
import { listApprovedLive, liveLessonsWithFeedState, recordScheduleEvent, type ScheduleRow, type ScheduleScope } from '../infra/schedule.repo.ts';

/**
 * Whether a live lesson belongs on the public schedule: its live plan was approved and not taken
 * back. `approved_for_air` and `on_air` are approved by definition; the states after air
 * (processing, in_review, approved, rejected, failed, published, withdrawn) count when the latest
 * live-plan review approved it (a rejected *plan* also ends in `rejected`, a *recording* rejected
 * after air does not touch the plan review). `draft` is a cancelled live plan, `scheduled` waits for
 * a decision.
 */
export function isApprovedLive(kind: 'live' | 'recorded', status: LessonStatus, latestPlanDecision: 'approve' | 'reject' | null): boolean {
  if (kind !== 'live') return false;
  if (status === 'approved_for_air' || status === 'on_air') return true;
  if (status === 'draft' || status === 'scheduled') return false;
  return latestPlanDecision === 'approve';
}

export interface ScheduleFilters {
  school?: string;
  grade?: string;
}

export interface ScheduleItem {
  lessonId: string;
  uid: string;
  title: string;
  description: string;
  school: { code: string; name: string };
  stage: { code: string; label: string };
  grade: { code: string; label: string };
  subject: { code: string; label: string };
  teacher: { name: string };
  /** Classes or audiences named by published timetables. */
  audience: string[];
  start: string;
  end: string;
  state: 'upcoming' | 'on_air' | 'ended';
  watchUrl: string;
}

export interface ScheduleOptions {
  /** Longest from..to range of the JSON schedule, days. */
  maxRangeDays: number;
  /** The iCalendar feed covers lessons from this many days ago... */
  feedPastDays: number;
  /** ...to this many days ahead. */
  feedFutureDays: number;
  /** REFRESH-INTERVAL suggested to subscribers, minutes. */
  refreshMinutes: number;
  now?: () => Date;
}

export const defaultScheduleOptions: ScheduleOptions = { maxRangeDays: 93, feedPastDays: 30, feedFutureDays: 180, refreshMinutes: 60 };


/** Start of a `from`/`to` bound: a date means Shanghai midnight, a date-time is taken as given. */
export function parseBound(v: string): Date {
  return /^\d{4}-\d{2}-\d{2}$/.test(v) ? shanghaiMidnight(v) : new Date(v);
}

/** The public timetable of approved live lessons: JSON (paged) and iCalendar (subscribable). */
export class ScheduleService {
  private readonly opts: ScheduleOptions;
  constructor(private readonly db: Db, private readonly taxonomy: TaxonomyService, opts: Partial<ScheduleOptions> = {}) {
    this.opts = { ...defaultScheduleOptions, ...opts };
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  /** Approved live lessons between `from` (default: today 00:00 Shanghai) and `to` (default: 7 days later). */
  async list(f: ScheduleFilters & { from?: string; to?: string; cursor?: string; limit: number }, baseUrl: string): Promise<{ from: string; to: string; items: ScheduleItem[]; nextCursor: string | null }> {
    const from = f.from ? parseBound(f.from) : startOfShanghaiDay(this.now());
    const to = f.to ? parseBound(f.to) : addDays(from, 7);
    if (to <= from) throw new InvalidError('end_before_start', 'to must be after from', [{ field: 'to', message: 'must be after from' }]);
    if (to.getTime() - from.getTime() > this.opts.maxRangeDays * 86_400_000) {
      throw new InvalidError('range_too_long', `at most ${this.opts.maxRangeDays} days at once`, [{ field: 'to', message: `range longer than ${this.opts.maxRangeDays} days` }]);
    }
    const { scope } = await this.scopeOf(f);
    const rows = await listApprovedLive(this.db, scope, from, to, f.cursor, f.limit + 1);
    const more = rows.length > f.limit;
    const page = rows.slice(0, f.limit);
    const tax = await this.taxonomy.get();
    const now = this.now();
    const last = page[page.length - 1];
    return {
      from: toShanghaiIso(from),
      to: toShanghaiIso(to),
      items: page.map((r) => this.item(r, tax, baseUrl, now)),
      nextCursor: more && last ? encodeCursor(last.scheduled_start, last.id) : null,
    };
  }

  /**
   * The iCalendar feed of a school and/or a grade: approved live lessons from `feedPastDays` ago to
   * `feedFutureDays` ahead, plus lessons once in the feed that are no longer approved, as
   * STATUS:CANCELLED. Each event's SEQUENCE is bumped (once, whichever process notices first) when
   * what a subscriber sees of it changed since the feed last showed it.
   */
  async ics(f: ScheduleFilters, baseUrl: string): Promise<{ body: string; etag: string; name: string }> {
    if (!f.school && !f.grade) throw new InvalidError('school_or_grade_required', 'name a school or a grade (or both)', [{ field: 'school', message: 'school or grade required' }]);
    const now = this.now();
    const { scope, schoolName, gradeLabel } = await this.scopeOf(f);
    const rows = await liveLessonsWithFeedState(this.db, scope, addDays(startOfShanghaiDay(now), -this.opts.feedPastDays), addDays(now, this.opts.feedFutureDays));
    const tax = await this.taxonomy.get();
    const events: IcalEvent[] = [];
    for (const r of rows) {
      const approved = isApprovedLive(r.kind, r.status, r.plan_decision);
      if (!approved && r.ev_status === null) continue; // never shown: nothing to cancel
      const status = approved ? 'confirmed' : 'cancelled';
      const item = this.item(r, tax, baseUrl, now);
      const fingerprint = createHash('sha256')
        .update(JSON.stringify([item.title, item.description, item.start, item.end, item.teacher.name, item.school.name, item.grade.code, item.subject.code, item.audience, Boolean(r.portal_published_at)]))
        .digest('base64url');
      let ev = { sequence: r.ev_sequence ?? 0, created: r.ev_created_at ?? now, changed: r.ev_changed_at ?? now };
      if (r.ev_fingerprint !== fingerprint || r.ev_status !== status) ev = await recordScheduleEvent(this.db, r.id, fingerprint, status);
      events.push({
        uid: item.uid,
        sequence: ev.sequence,
        status: status === 'confirmed' ? 'CONFIRMED' : 'CANCELLED',
        start: r.scheduled_start,
        end: r.scheduled_end,
        summary: `${item.subject.label}｜${item.title}`,
        description: [
          `课题：${item.title}`,
          `学校：${item.school.name}`,
          `年级：${item.grade.label}　学科：${item.subject.label}`,
          `授课教师：${item.teacher.name}`,
          ...(item.audience.length ? [`对象：${item.audience.join('、')}`] : []),
          `观看：${item.watchUrl}`,
          ...(item.description ? ['', item.description] : []),
        ].join('\n'),
        location: `${item.school.name}（网络直播）`,
        url: item.watchUrl,
        categories: [item.stage.label, item.grade.label, item.subject.label],
        created: ev.created,
        lastModified: ev.changed,
      });
    }
    const name = `${[schoolName, gradeLabel].filter(Boolean).join(' ')} 直播课表`;
    const body = icalCalendar({ name, description: `${name}（北京时间）`, refreshMinutes: this.opts.refreshMinutes, events });
    return { body, etag: `W/"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`, name };
  }

  /** The school (by code) and grade of a filter, checked, with their names for the feed's title. */
  private async scopeOf(f: ScheduleFilters): Promise<{ scope: ScheduleScope; schoolName?: string; gradeLabel?: string }> {
    const scope: ScheduleScope = {};
    let schoolName: string | undefined;
    let gradeLabel: string | undefined;
    if (f.school) {
      const s = await findSchoolByCode(this.db, f.school);
      if (!s) throw new NotFoundError('school_not_found', `school ${f.school} not found`);
      scope.schoolId = s.id;
      schoolName = s.name;
    }
    if (f.grade) {
      const g = (await this.taxonomy.get()).grade.find((x) => x.code === f.grade);
      if (!g) throw new InvalidError('grade_not_found', `unknown grade code "${f.grade}"`, [{ field: 'grade', message: 'unknown grade' }]);
      scope.grade = f.grade;
      gradeLabel = g.label;
    }
    return { scope, schoolName, gradeLabel };
  }

  private item(r: ScheduleRow, tax: Taxonomy, baseUrl: string, now: Date): ScheduleItem {
    const term = (kind: 'stage' | 'grade' | 'subject', code: string) => ({ code, label: tax[kind].find((i) => i.code === code)?.label ?? code });
    return {
      lessonId: r.id,
      uid: `lesson-${r.id}@classcast`,
      title: r.title,
      description: r.description,
      school: { code: r.school_code, name: r.school_name },
      stage: term('stage', r.stage),
      grade: term('grade', r.grade),
      subject: term('subject', r.subject),
      teacher: { name: r.teacher_name },
      audience: r.audience ?? [],
      start: toShanghaiIso(r.scheduled_start),
      end: toShanghaiIso(r.scheduled_end),
      state: r.status === 'on_air' ? 'on_air' : r.scheduled_end.getTime() <= now.getTime() ? 'ended' : 'upcoming',
      // a lesson published on the portal is watched as a recording, otherwise live through the gateway
      watchUrl: r.portal_published_at ? `${baseUrl}/play/${r.id}/master.m3u8` : `${baseUrl}/live/${r.id}/master.m3u8`,
    };
  }
}
