import type { LessonFilters } from '../api/client.ts';

export const filterKeys = ['stage', 'grade', 'subject', 'type', 'edition', 'q'] as const;
export type FilterKey = (typeof filterKeys)[number];

/** The browse filters as the query string holds them (so back, reload and shared links restore them). */
export function readFilters(search: string): LessonFilters {
  const p = new URLSearchParams(search);
  const f: LessonFilters = {};
  for (const k of filterKeys) {
    const v = p.get(k)?.trim();
    if (v) f[k] = v.slice(0, 100);
  }
  return f;
}

export function filtersHref(f: LessonFilters): string {
  const p = new URLSearchParams();
  for (const k of filterKeys) if (f[k]) p.set(k, f[k]!);
  const s = p.toString();
  return s ? `/lessons?${s}` : '/lessons';
}
