import type { LessonStatus } from '../domain/lesson-state.ts';
import { addDays, shanghaiDate, toShanghaiIso } from '../domain/shanghai-time.ts';
import { weekBounds, type EntrySnapshot, type TimetableChange } from '../domain/timetable-rules.ts';
import type { TimetableScope } from '../domain/timetable-access.ts';
import type { EntryRow, TimetableRow, VersionRow } from '../infra/timetables.repo.ts';
import type { Taxonomy } from './taxonomy.service.ts';

/* What the timetable API answers: the views of timetables, entries, versions and the late report. */

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

export function snapshot(e: EntryRow, tax: Taxonomy): EntrySnapshot {
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

export function summary(t: TimetableRow, publishedAt: Date | null, late: boolean): TimetableSummary {
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

export function versionView(v: VersionRow): VersionView {
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

/** One line of the late report. */
export function lateReportItem(r: TimetableRow & VersionRow): LateReportItem {
  return {
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
  };
}
