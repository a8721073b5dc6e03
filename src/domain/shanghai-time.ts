/**
 * Wall-clock time in Asia/Shanghai (China Standard Time). The zone has been a fixed UTC+08:00 without
 * daylight saving since 1991, so for the dates this system handles a constant offset is exact and no
 * time-zone database is needed.
 */

export const shanghaiTzid = 'Asia/Shanghai';
const offsetMs = 8 * 3600_000;
const dayMs = 86_400_000;

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** ISO weekday: 1 = Monday ... 7 = Sunday. */
  weekday: number;
}

/** The Shanghai wall clock of an instant. */
export function shanghaiClock(d: Date): WallClock {
  const s = new Date(d.getTime() + offsetMs);
  const dow = s.getUTCDay();
  return {
    year: s.getUTCFullYear(),
    month: s.getUTCMonth() + 1,
    day: s.getUTCDate(),
    hour: s.getUTCHours(),
    minute: s.getUTCMinutes(),
    second: s.getUTCSeconds(),
    weekday: dow === 0 ? 7 : dow,
  };
}

/** `2030-01-07T09:00:00+08:00`. */
export function toShanghaiIso(d: Date): string {
  const c = shanghaiClock(d);
  return `${c.year}-${pad(c.month)}-${pad(c.day)}T${pad(c.hour)}:${pad(c.minute)}:${pad(c.second)}+08:00`;
}

/** `2030-01-07` (the Shanghai calendar date of an instant). */
export function shanghaiDate(d: Date): string {
  const c = shanghaiClock(d);
  return `${c.year}-${pad(c.month)}-${pad(c.day)}`;
}

/** `09:00`. */
export function shanghaiHm(d: Date): string {
  const c = shanghaiClock(d);
  return `${pad(c.hour)}:${pad(c.minute)}`;
}

/** Whether `s` is a real calendar date written `YYYY-MM-DD`. */
export function isDateOnly(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

/** Midnight at the start of a Shanghai calendar date (`YYYY-MM-DD`). */
export function shanghaiMidnight(date: string): Date {
  if (!isDateOnly(date)) throw new Error(`not a date: ${JSON.stringify(date)}`);
  return new Date(Date.parse(`${date}T00:00:00Z`) - offsetMs);
}

/** Midnight at the start of the Shanghai day holding the instant. */
export function startOfShanghaiDay(d: Date): Date {
  return shanghaiMidnight(shanghaiDate(d));
}

export function addDays(d: Date, n: number): Date {
  return new Date(d.getTime() + n * dayMs);
}

/** Whether a `YYYY-MM-DD` date is a Monday (timetable weeks start on Monday). */
export function isMonday(date: string): boolean {
  return isDateOnly(date) && shanghaiClock(shanghaiMidnight(date)).weekday === 1;
}

/** The Monday (`YYYY-MM-DD`) of the Shanghai week holding the instant. */
export function mondayOf(d: Date): string {
  const c = shanghaiClock(d);
  return shanghaiDate(addDays(d, 1 - c.weekday));
}

/** iCalendar local date-time in Shanghai: `20300107T090000` (for `DTSTART;TZID=Asia/Shanghai:`). */
export function icalLocal(d: Date): string {
  const c = shanghaiClock(d);
  return `${c.year}${pad(c.month)}${pad(c.day)}T${pad(c.hour)}${pad(c.minute)}${pad(c.second)}`;
}

/** iCalendar UTC date-time: `20300107T010000Z`. */
export function icalUtc(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

const weekdayNames = ['', '星期一', '星期二', '星期三', '星期四', '星期五', '星期六', '星期日'];

/** `星期一` ... `星期日`. */
export function weekdayName(d: Date): string {
  return weekdayNames[shanghaiClock(d).weekday];
}
