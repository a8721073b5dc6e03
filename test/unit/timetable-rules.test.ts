import { describe, expect, it } from 'vitest';
import ical from 'node-ical';
import { assessLead, diffEntries, earliestAffected, firstLesson, weekBounds, type EntrySnapshot } from '../../src/domain/timetable-rules.ts';
import { escapeText, foldLine, icalCalendar } from '../../src/formats/ical.ts';
import { csvCell, escapeHtml, timetableCsv, timetableHtml, type TimetableDocument } from '../../src/formats/timetable-export.ts';
import { icalLocal, isMonday, mondayOf, shanghaiMidnight, toShanghaiIso } from '../../src/domain/shanghai-time.ts';
import { addressBucket } from '../../src/infra/rate-limit.ts';

const entry = (over: Partial<EntrySnapshot> = {}): EntrySnapshot => ({
  entryId: 'e1', lessonId: 'l1', kind: 'live', title: '分数', school: { code: 'a', name: '甲小学' }, grade: { code: 'g3', label: '三年级' },
  subject: { code: 'math', label: '数学' }, teacher: '王老师', audience: '三(2)班', note: '', start: '2030-01-08T09:00:00+08:00', end: '2030-01-08T09:40:00+08:00',
  state: 'scheduled', cancelReason: null, ...over,
});

describe('Shanghai time', () => {
  it('when instants are shown, then they carry +08:00 and the Shanghai wall clock', () => {
    expect(toShanghaiIso(new Date('2030-01-07T16:30:00Z'))).toBe('2030-01-08T00:30:00+08:00');
    expect(icalLocal(new Date('2030-01-07T01:00:00Z'))).toBe('20300107T090000');
    expect(shanghaiMidnight('2030-01-07').toISOString()).toBe('2030-01-06T16:00:00.000Z');
    expect(isMonday('2030-01-07')).toBe(true);
    expect(isMonday('2030-01-08')).toBe(false);
    expect(isMonday('2030-02-30')).toBe(false);
    // Sunday 23:30 in Shanghai is still the week of the Monday before, though UTC says Sunday 15:30
    expect(mondayOf(new Date('2030-01-13T15:30:00Z'))).toBe('2030-01-07');
    expect(mondayOf(new Date('2030-01-13T16:00:00Z'))).toBe('2030-01-14');
    expect(weekBounds('2030-01-07')).toEqual({ start: new Date('2030-01-06T16:00:00Z'), end: new Date('2030-01-13T16:00:00Z') });
  });
});

describe('timetable rules', () => {
  it('when the first lesson is exactly 72 hours away, then it is on time; a second less, then late', () => {
    const lesson = new Date('2030-01-10T01:00:00Z');
    expect(assessLead(lesson, new Date(lesson.getTime() - 72 * 3600_000))).toEqual({ leadHours: 72, late: false });
    expect(assessLead(lesson, new Date(lesson.getTime() - 72 * 3600_000 + 1000)).late).toBe(true);
    expect(assessLead(lesson, new Date(lesson.getTime() + 3600_000))).toEqual({ leadHours: -1, late: true });
  });

  it('when versions differ, then each entry is reported once as added, removed, cancelled or changed with from and to', () => {
    const prev = [entry(), entry({ entryId: 'e2', lessonId: 'l2', title: '古诗' }), entry({ entryId: 'e3', lessonId: 'l3', title: '春天' })];
    const next = [
      entry({ start: '2030-01-09T09:00:00+08:00', end: '2030-01-09T09:40:00+08:00', audience: '三年级全体' }),
      entry({ entryId: 'e2', lessonId: 'l2', title: '古诗', state: 'cancelled', cancelReason: '教师生病', audience: 'x' }),
      entry({ entryId: 'e4', lessonId: 'l4', title: '新课', start: '2030-01-10T10:00:00+08:00' }),
    ];
    const changes = diffEntries(prev, next);
    expect(changes).toEqual([
      { type: 'changed', entryId: 'e1', lessonId: 'l1', title: '分数', start: '2030-01-09T09:00:00+08:00', fields: {
        audience: { from: '三(2)班', to: '三年级全体' },
        start: { from: '2030-01-08T09:00:00+08:00', to: '2030-01-09T09:00:00+08:00' },
        end: { from: '2030-01-08T09:40:00+08:00', to: '2030-01-09T09:40:00+08:00' },
      } },
      { type: 'cancelled', entryId: 'e2', lessonId: 'l2', title: '古诗', start: '2030-01-08T09:00:00+08:00', reason: '教师生病' },
      { type: 'added', entryId: 'e4', lessonId: 'l4', title: '新课', start: '2030-01-10T10:00:00+08:00' },
      { type: 'removed', entryId: 'e3', lessonId: 'l3', title: '春天', start: '2030-01-08T09:00:00+08:00' },
    ]);
    // moving a lesson away from tomorrow concerns tomorrow
    expect(earliestAffected(changes)?.toISOString()).toBe('2030-01-08T01:00:00.000Z');
    expect(diffEntries(next, next)).toEqual([]);
    expect(firstLesson(next)?.toISOString()).toBe('2030-01-09T01:00:00.000Z');
  });
});

describe('iCalendar writer', () => {
  const event = {
    uid: 'lesson-1@classcast', sequence: 2, status: 'CANCELLED' as const, start: new Date('2030-01-08T01:00:00Z'), end: new Date('2030-01-08T01:40:00Z'),
    summary: '数学｜分数, 小数; 和 \\ 反斜杠', description: '第一行\n第二行 <script>alert(1)</script>', url: 'http://x.test/live/1/master.m3u8',
    created: new Date('2029-12-01T00:00:00Z'), lastModified: new Date('2029-12-02T00:00:00Z'), location: '甲小学', categories: ['小学', '三年级'],
  };

  it('when text holds separators and line breaks, then it is escaped and long lines are folded at 75 octets without splitting a character', () => {
    expect(escapeText('a,b;c\\d\ne\r\nf\u0000')).toBe('a\\,b\\;c\\\\d\\ne\\nf');
    const long = `DESCRIPTION:${'汉字'.repeat(60)}`;
    const folded = foldLine(long);
    for (const l of folded.split('\r\n')) expect(Buffer.byteLength(l)).toBeLessThanOrEqual(75);
    expect(folded.split('\r\n').map((l, i) => (i ? l.slice(1) : l)).join('')).toBe(long);
  });

  it('when a calendar is written, then a real parser reads back every field in Asia/Shanghai', () => {
    const text = icalCalendar({ name: '甲小学 直播课表', refreshMinutes: 60, events: [event] });
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.split('\r\n').every((l) => Buffer.byteLength(l) <= 75)).toBe(true);
    expect(text).toContain('DTSTART;TZID=Asia/Shanghai:20300108T090000');
    expect(text).toContain('BEGIN:VTIMEZONE');
    const parsed = Object.values(ical.sync.parseICS(text)).filter((c) => c?.type === 'VEVENT') as ical.VEvent[];
    expect(parsed).toHaveLength(1);
    const e = parsed[0];
    expect(e.uid).toBe('lesson-1@classcast');
    expect(Number(e.sequence)).toBe(2);
    expect(e.status).toBe('CANCELLED');
    expect(e.start.toISOString()).toBe('2030-01-08T01:00:00.000Z');
    expect(e.end?.toISOString()).toBe('2030-01-08T01:40:00.000Z');
    expect(e.start.tz).toBe('Asia/Shanghai');
    expect(e.summary).toBe('[已取消] 数学｜分数, 小数; 和 \\ 反斜杠');
    expect(e.description).toBe('第一行\n第二行 <script>alert(1)</script>');
    expect(e.url).toBe('http://x.test/live/1/master.m3u8');
  });
});

describe('weekly filing', () => {
  const doc: TimetableDocument = {
    scope: 'school', owner: { code: 'a', name: '甲<b>小学</b>' }, district: { code: 'd', name: '测试区' }, weekStart: '2030-01-07', weekEnd: '2030-01-13',
    title: '<script>alert("t")</script>', version: 2, publishedAt: new Date('2030-01-01T00:00:00Z'), publishedBy: '李"审核"', late: true,
    lateReason: '<img src=x onerror=alert(1)>', leadHours: 20.5,
    entries: [entry({ title: '=HYPERLINK("http://evil")', audience: '三(2)班, "快班"', note: '<script>alert(1)</script>' }), entry({ entryId: 'e2', title: '@SUM(1)', state: 'cancelled', cancelReason: '停电' })],
    changes: [{ type: 'cancelled', entryId: 'e2', lessonId: 'l1', title: '<i>x</i>', start: '2030-01-08T09:00:00+08:00', reason: '<b>r</b>' }],
    generatedAt: new Date('2030-01-01T00:00:00Z'),
  };

  it('when exported as CSV, then cells are quoted, formulas neutralised and Excel gets a BOM', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('-2')).toBe("'-2");
    const csv = timetableCsv(doc);
    expect(csv.startsWith('\uFEFF日期,星期,开始,结束')).toBe(true);
    const lines = csv.slice(1).split('\r\n');
    expect(lines[1]).toBe(`2030-01-08,星期二,09:00,09:40,甲小学,三年级,"三(2)班, ""快班""",数学,"'=HYPERLINK(""http://evil"")",王老师,直播,正常,<script>alert(1)</script>,,l1`);
    expect(lines[2]).toContain("'@SUM(1)");
    expect(lines[2]).toContain('已取消');
  });

  it('when exported as HTML, then every value is escaped and no script or handler survives', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&\``)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;');
    const html = timetableHtml(doc);
    const tags = new Set([...html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9]*)/g)].map((m) => m[1].toLowerCase()));
    expect([...tags].filter((t) => !['html', 'head', 'meta', 'title', 'style', 'body', 'h1', 'h2', 'p', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'ul', 'li'].includes(t))).toEqual([]);
    expect([...html.matchAll(/<[a-zA-Z][^>]*>/g)].map((m) => m[0]).filter((t) => /\son[a-z]+\s*=/i.test(t))).toEqual([]);
    expect(html).toContain('&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('迟报');
    expect(html).toContain('本版变更');
    expect(html).toContain('class="cancelled"');
  });
});

describe('rate limit address buckets', () => {
  it('when addresses are IPv6, then one /64 is one bucket; IPv4 and mapped IPv4 are the same', () => {
    expect(addressBucket('203.0.113.5')).toBe('203.0.113.5');
    expect(addressBucket('::ffff:203.0.113.5')).toBe('203.0.113.5');
    expect(addressBucket('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(addressBucket('2001:0db8:0001:0002:ffff:1:2:3')).toBe('2001:db8:1:2::/64');
    expect(addressBucket('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(addressBucket('garbage')).toBe('unknown');
  });
});
