import { t } from '../i18n/zh-CN.ts';

const zone = 'Asia/Shanghai';
const dateTime = new Intl.DateTimeFormat('zh-CN', { timeZone: zone, month: 'long', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });
const timeOnly = new Intl.DateTimeFormat('zh-CN', { timeZone: zone, hour: '2-digit', minute: '2-digit', hour12: false });
const dayTime = new Intl.DateTimeFormat('zh-CN', { timeZone: zone, month: 'long', day: 'numeric', weekday: 'short', hour: '2-digit', minute: '2-digit', hour12: false });
const dateOnly = new Intl.DateTimeFormat('zh-CN', { timeZone: zone, year: 'numeric', month: 'long', day: 'numeric' });
const isoDay = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });

/** School time is Beijing time wherever the phone's clock is set. */
export const formatDateTime = (iso: string): string => dateTime.format(new Date(iso));
export const formatTime = (iso: string): string => timeOnly.format(new Date(iso));
export const formatDate = (iso: string): string => dateOnly.format(new Date(iso));
/** 12月7日 周一 09:00: a timetable line. */
export const formatDayTime = (iso: string): string => dayTime.format(new Date(iso));

/** Today and tomorrow in Beijing as YYYY-MM-DD (the schedule's day bounds). */
export function todayRange(now = new Date()): { from: string; to: string } {
  return { from: isoDay.format(now), to: isoDay.format(new Date(now.getTime() + 86_400_000)) };
}

/** 1:05:09 or 5:09. */
export function clock(s: number): string {
  if (!Number.isFinite(s) || s < 0) s = 0;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

export const durationText = (s: number | null): string | null => (s ? t.minutes(Math.max(1, Math.round(s / 60))) : null);
