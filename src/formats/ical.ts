import { icalLocal, icalUtc, shanghaiTzid } from '../domain/shanghai-time.ts';

/**
 * iCalendar (RFC 5545) writer for subscribed timetable feeds. Pure: events in, text out.
 *
 * Choices that make Apple Calendar, Google Calendar and Outlook import it cleanly:
 * - times are local to Asia/Shanghai with a VTIMEZONE (fixed +08:00) so the event shows at the school's
 *   wall-clock time wherever the reader is; DTSTAMP / LAST-MODIFIED / CREATED are UTC (RFC 5545 3.8.7);
 * - stable UIDs and a SEQUENCE that grows on every change, STATUS:CANCELLED kept in the feed so a
 *   subscribed calendar removes or strikes the event (RFC 5546 3.2.5);
 * - CRLF line ends and lines folded at 75 octets without splitting a UTF-8 character (RFC 5545 3.1).
 */

export interface IcalEvent {
  uid: string;
  sequence: number;
  status: 'CONFIRMED' | 'CANCELLED';
  start: Date;
  end: Date;
  summary: string;
  description: string;
  location?: string;
  url?: string;
  categories?: string[];
  created: Date;
  lastModified: Date;
}

export interface IcalCalendar {
  /** X-WR-CALNAME: the name a calendar app shows for the subscription. */
  name: string;
  description?: string;
  /** How often subscribers should refresh, minutes. */
  refreshMinutes: number;
  events: IcalEvent[];
}

/** Escapes a TEXT value (RFC 5545 3.3.11); other control characters are dropped. */
export function escapeText(s: string): string {
  return s
    .replace(/\r\n?/g, '\n')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B-\u001F\u007F]/g, '')
    .replace(/\\/g, '\\\\')
    .replace(/;/g, '\\;')
    .replace(/,/g, '\\,')
    .replace(/\n/g, '\\n');
}

/** A URI value: no escaping applies, so anything that could break the line is refused. */
function uriValue(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001F\u007F\s"]/.test(s)) throw new Error('URI with control or space characters');
  return s;
}

/** Folds a content line into chunks of at most 75 octets, continuation lines starting with a space. */
export function foldLine(line: string): string {
  const bytes = Buffer.from(line, 'utf8');
  if (bytes.length <= 75) return line;
  const parts: string[] = [];
  let start = 0;
  let limit = 75;
  while (start < bytes.length) {
    let end = Math.min(start + limit, bytes.length);
    // never cut inside a UTF-8 sequence: back off while the next byte is a continuation byte
    while (end < bytes.length && (bytes[end] & 0xc0) === 0x80) end--;
    parts.push(bytes.subarray(start, end).toString('utf8'));
    start = end;
    limit = 74; // the leading space of a continuation line counts
  }
  return parts.join('\r\n ');
}

const vtimezone = [
  'BEGIN:VTIMEZONE',
  `TZID:${shanghaiTzid}`,
  `X-LIC-LOCATION:${shanghaiTzid}`,
  'BEGIN:STANDARD',
  'TZOFFSETFROM:+0800',
  'TZOFFSETTO:+0800',
  'TZNAME:CST',
  'DTSTART:19700101T000000',
  'END:STANDARD',
  'END:VTIMEZONE',
];

/** The whole VCALENDAR document. */
export function icalCalendar(cal: IcalCalendar): string {
  const lines: string[] = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//classcast//internet school timetable//ZH-CN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    `X-WR-CALNAME:${escapeText(cal.name)}`,
    `X-WR-TIMEZONE:${shanghaiTzid}`,
  ];
  if (cal.description) lines.push(`X-WR-CALDESC:${escapeText(cal.description)}`);
  lines.push(`REFRESH-INTERVAL;VALUE=DURATION:PT${cal.refreshMinutes}M`, `X-PUBLISHED-TTL:PT${cal.refreshMinutes}M`);
  lines.push(...vtimezone);
  for (const e of cal.events) {
    lines.push(
      'BEGIN:VEVENT',
      `UID:${escapeText(e.uid)}`,
      `DTSTAMP:${icalUtc(e.lastModified)}`,
      `CREATED:${icalUtc(e.created)}`,
      `LAST-MODIFIED:${icalUtc(e.lastModified)}`,
      `SEQUENCE:${e.sequence}`,
      `STATUS:${e.status}`,
      `DTSTART;TZID=${shanghaiTzid}:${icalLocal(e.start)}`,
      `DTEND;TZID=${shanghaiTzid}:${icalLocal(e.end)}`,
      `SUMMARY:${escapeText(e.status === 'CANCELLED' ? `[已取消] ${e.summary}` : e.summary)}`,
      `DESCRIPTION:${escapeText(e.description)}`,
    );
    if (e.location) lines.push(`LOCATION:${escapeText(e.location)}`);
    if (e.url) lines.push(`URL:${uriValue(e.url)}`);
    if (e.categories?.length) lines.push(`CATEGORIES:${e.categories.map(escapeText).join(',')}`);
    lines.push('END:VEVENT');
  }
  lines.push('END:VCALENDAR');
  return `${lines.map(foldLine).join('\r\n')}\r\n`;
}
