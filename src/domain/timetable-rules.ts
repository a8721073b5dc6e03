import { addDays, isMonday, shanghaiMidnight } from './shanghai-time.ts';

/**
 * Timetable rules (issue 6): weeks run Monday to Sunday in Asia/Shanghai; a timetable must reach the
 * schools at least three days (72 hours) before the first lesson it announces, else it is published
 * late with a reason; every publication after the first is a new version whose changes are listed.
 */

export const minLeadHours = 72;

/** A timetable is drafted, then published as numbered versions. */
export const timetableStatuses = ['draft', 'published'] as const;
export type TimetableStatus = (typeof timetableStatuses)[number];

/** An entry as a published version shows it. */
export const entryStates = ['scheduled', 'cancelled'] as const;
export type EntryState = (typeof entryStates)[number];

/** One line of a timetable as published: everything a school reads, resolved at publication. */
export interface EntrySnapshot {
  entryId: string;
  lessonId: string;
  kind: 'live' | 'recorded';
  title: string;
  school: { code: string; name: string };
  grade: { code: string; label: string };
  subject: { code: string; label: string };
  teacher: string;
  audience: string;
  note: string;
  /** ISO 8601 with +08:00. */
  start: string;
  end: string | null;
  state: EntryState;
  cancelReason: string | null;
}

/** The fields whose change is reported (and so makes a new version). */
export const trackedFields = ['title', 'teacher', 'audience', 'note', 'start', 'end', 'grade', 'subject'] as const;
export type TrackedField = (typeof trackedFields)[number];

export type TimetableChange =
  | { type: 'added'; entryId: string; lessonId: string; title: string; start: string }
  | { type: 'removed'; entryId: string; lessonId: string; title: string; start: string }
  | { type: 'cancelled'; entryId: string; lessonId: string; title: string; start: string; reason: string | null }
  | { type: 'changed'; entryId: string; lessonId: string; title: string; start: string; fields: Partial<Record<TrackedField, { from: string | null; to: string | null }>> };

const fieldValue = (e: EntrySnapshot, f: TrackedField): string | null => {
  const v = e[f];
  if (v === null || typeof v === 'string') return v;
  return v.code;
};

/**
 * What changed from one published version to the next, entry by entry (by entry id), in the order of
 * the new timetable. A cancelled entry is reported once, as `cancelled`, not also as changed.
 */
export function diffEntries(prev: EntrySnapshot[], next: EntrySnapshot[]): TimetableChange[] {
  const before = new Map(prev.map((e) => [e.entryId, e]));
  const after = new Set(next.map((e) => e.entryId));
  const out: TimetableChange[] = [];
  for (const e of next) {
    const p = before.get(e.entryId);
    const base = { entryId: e.entryId, lessonId: e.lessonId, title: e.title, start: e.start };
    if (!p) {
      out.push(e.state === 'cancelled' ? { type: 'cancelled', ...base, reason: e.cancelReason } : { type: 'added', ...base });
      continue;
    }
    if (p.state === 'scheduled' && e.state === 'cancelled') {
      out.push({ type: 'cancelled', ...base, reason: e.cancelReason });
      continue;
    }
    if (e.state === 'cancelled') continue;
    const fields: Partial<Record<TrackedField, { from: string | null; to: string | null }>> = {};
    for (const f of trackedFields) {
      const a = fieldValue(p, f);
      const b = fieldValue(e, f);
      if (a !== b) fields[f] = { from: a, to: b };
    }
    if (Object.keys(fields).length) out.push({ type: 'changed', ...base, fields });
  }
  for (const p of prev) {
    if (!after.has(p.entryId)) out.push({ type: 'removed', entryId: p.entryId, lessonId: p.lessonId, title: p.title, start: p.start });
  }
  return out;
}

/**
 * The earliest lesson time a set of changes touches: a lesson moved from tomorrow to next month is a
 * change that concerns tomorrow. Undefined when nothing changed.
 */
export function earliestAffected(changes: TimetableChange[]): Date | undefined {
  let min: number | undefined;
  for (const c of changes) {
    const times = [Date.parse(c.start)];
    if (c.type === 'changed' && c.fields.start) {
      for (const t of [c.fields.start.from, c.fields.start.to]) if (t) times.push(Date.parse(t));
    }
    for (const t of times) if (!Number.isNaN(t) && (min === undefined || t < min)) min = t;
  }
  return min === undefined ? undefined : new Date(min);
}

/** The first lesson still on the timetable. */
export function firstLesson(entries: EntrySnapshot[]): Date | undefined {
  const times = entries.filter((e) => e.state === 'scheduled').map((e) => Date.parse(e.start));
  return times.length ? new Date(Math.min(...times)) : undefined;
}

/** How far ahead of `lessonAt` a publication at `now` is, and whether that is late. */
export function assessLead(lessonAt: Date, now: Date, minHours = minLeadHours): { leadHours: number; late: boolean } {
  const leadHours = Math.round(((lessonAt.getTime() - now.getTime()) / 3600_000) * 10) / 10;
  return { leadHours, late: lessonAt.getTime() - now.getTime() < minHours * 3600_000 };
}

/** [Monday 00:00, next Monday 00:00) in Shanghai for a week start `YYYY-MM-DD`. */
export function weekBounds(weekStart: string): { start: Date; end: Date } {
  if (!isMonday(weekStart)) throw new Error(`a timetable week starts on a Monday, not ${weekStart}`);
  const start = shanghaiMidnight(weekStart);
  return { start, end: addDays(start, 7) };
}
