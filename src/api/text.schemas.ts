import { z } from 'zod';
import { uuidPattern } from '../domain/ids.ts';
import { isDateOnly, isMonday } from '../domain/shanghai-time.ts';

/**
 * Text fields of the timetable and Q&A endpoints. Text is stored as given, so what could corrupt or
 * disguise it is refused here with a 400 naming the field: C0/C1 control characters (NUL cannot even
 * be stored by PostgreSQL), bidirectional overrides and isolates (they make text display as something
 * else), unpaired surrogates (not Unicode; they would be silently replaced on the way to the
 * database). Multi-line fields keep tab, LF and CR.
 */
// eslint-disable-next-line no-control-regex
const forbiddenMultiline = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069\uFFF9-\uFFFB]/;
// eslint-disable-next-line no-control-regex
const forbiddenSingleLine = /[\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069\uFFF9-\uFFFB]/;
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function safeText(o: { min: number; max: number; multiline: boolean }) {
  return z
    .string()
    .max(o.max, `at most ${o.max} characters`)
    .refine((s) => !loneSurrogate.test(s), 'contains an unpaired surrogate (not valid Unicode)')
    .refine((s) => !(o.multiline ? forbiddenMultiline : forbiddenSingleLine).test(s), o.multiline ? 'contains control characters (only tab and line breaks are allowed)' : 'contains control characters or line breaks')
    .refine((s) => s.trim().length >= o.min, o.min <= 1 ? 'must not be empty' : `at least ${o.min} characters`);
}

/** An instant with an explicit offset: `2030-01-07T09:00:00+08:00` or `...Z` (never server-local time). */
const instantRe = /^\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;
const isInstant = (s: string): boolean => instantRe.test(s) && isDateOnly(s.slice(0, 10)) && !Number.isNaN(Date.parse(s));
export const isoInstant = z
  .string()
  .max(40)
  .refine(isInstant, 'must be an ISO 8601 date-time with an offset, e.g. 2030-01-07T09:00:00+08:00')
  .describe('ISO 8601 date-time with an offset, e.g. 2030-01-07T09:00:00+08:00');

export const dateOnly = z.string().max(10).refine(isDateOnly, 'must be a date written YYYY-MM-DD');
export const monday = dateOnly.refine(isMonday, 'must be a Monday (weeks run Monday to Sunday)').describe('a Monday, YYYY-MM-DD (weeks run Monday to Sunday, Asia/Shanghai)');
/** A date (Shanghai midnight) or an instant. */
export const dateOrInstant = z
  .string()
  .max(40)
  .refine((s) => isDateOnly(s) || isInstant(s), 'must be a date (YYYY-MM-DD) or an ISO 8601 date-time with an offset')
  .describe('YYYY-MM-DD (midnight in Asia/Shanghai) or an ISO 8601 date-time with an offset');

/** The one id schema of every route: a UUID in any case, handed on in lower case. */
export const uuid = z.string().regex(uuidPattern, 'must be a uuid').transform((s) => s.toLowerCase());
export const taxonomyCode = z.string().min(1).max(64).regex(/^[a-z0-9_]+$/, 'must be a taxonomy code');
export const orgCode = z.string().min(2).max(40).regex(/^[a-z0-9_-]+$/, 'must be a school or district code');
export const cursor = z.string().max(200);
