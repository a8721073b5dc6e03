import { shanghaiDate, shanghaiHm, toShanghaiIso, weekdayName } from '../domain/shanghai-time.ts';
import type { EntrySnapshot, TimetableChange } from '../domain/timetable-rules.ts';

/**
 * The weekly filing of a timetable (issue 6): CSV for spreadsheets and a printable HTML page. Pure:
 * a document in, text out. Everything taken from the document is escaped for its target.
 */

export interface TimetableDocument {
  scope: 'school' | 'district';
  owner: { code: string; name: string };
  district: { code: string; name: string };
  /** Monday and Sunday of the week, `YYYY-MM-DD`. */
  weekStart: string;
  weekEnd: string;
  title: string;
  /** Null while the timetable is a draft that was never published. */
  version: number | null;
  publishedAt: Date | null;
  publishedBy: string | null;
  late: boolean;
  lateReason: string | null;
  leadHours: number | null;
  entries: EntrySnapshot[];
  changes: TimetableChange[];
  generatedAt: Date;
}

const csvHeader = ['日期', '星期', '开始', '结束', '学校', '年级', '班级/对象', '学科', '课题', '授课教师', '类型', '状态', '备注', '取消原因', '课程编号'];

/**
 * A CSV cell (RFC 4180): quoted when needed; a leading = + - @ or control character is prefixed with
 * an apostrophe so spreadsheet programs never evaluate a cell as a formula (OWASP CSV injection).
 */
export function csvCell(v: string): string {
  let s = v.replace(/\r\n?/g, '\n');
  if (/^[=+\-@\t\r\n]/.test(s)) s = `'${s}`;
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const kindLabel = (k: EntrySnapshot['kind']): string => (k === 'live' ? '直播' : '录播');
const stateLabel = (s: EntrySnapshot['state']): string => (s === 'scheduled' ? '正常' : '已取消');

function row(e: EntrySnapshot): string[] {
  const start = new Date(e.start);
  const end = e.end ? new Date(e.end) : null;
  return [
    shanghaiDate(start), weekdayName(start), shanghaiHm(start), end ? shanghaiHm(end) : '',
    e.school.name, e.grade.label, e.audience, e.subject.label, e.title, e.teacher,
    kindLabel(e.kind), stateLabel(e.state), e.note, e.cancelReason ?? '', e.lessonId,
  ];
}

/** UTF-8 with a byte order mark (so Excel reads Chinese correctly), CRLF line ends. */
export function timetableCsv(doc: TimetableDocument): string {
  const lines = [csvHeader, ...doc.entries.map(row)].map((r) => r.map(csvCell).join(','));
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' })[c] as string);
}

const fieldLabels: Record<string, string> = { title: '课题', teacher: '教师', audience: '班级/对象', note: '备注', start: '开始', end: '结束', grade: '年级', subject: '学科' };

function changeText(c: TimetableChange): string {
  const when = `${shanghaiDate(new Date(c.start))} ${shanghaiHm(new Date(c.start))}`;
  switch (c.type) {
    case 'added':
      return `新增：${when}《${c.title}》`;
    case 'removed':
      return `删除：${when}《${c.title}》`;
    case 'cancelled':
      return `取消：${when}《${c.title}》${c.reason ? `（${c.reason}）` : ''}`;
    case 'changed':
      return `变更：${when}《${c.title}》 ${Object.entries(c.fields)
        .map(([f, v]) => `${fieldLabels[f] ?? f}：${fmtValue(f, v?.from ?? null)} → ${fmtValue(f, v?.to ?? null)}`)
        .join('；')}`;
  }
}

function fmtValue(field: string, v: string | null): string {
  if (v === null || v === '') return '（无）';
  if ((field === 'start' || field === 'end') && !Number.isNaN(Date.parse(v))) return `${shanghaiDate(new Date(v))} ${shanghaiHm(new Date(v))}`;
  return v;
}

/** A self-contained printable page (A4 landscape), no scripts, no external resources. */
export function timetableHtml(doc: TimetableDocument): string {
  const h = escapeHtml;
  const status = doc.version === null ? '草稿（未发布）' : `第 ${doc.version} 版，发布于 ${doc.publishedAt ? h(toShanghaiIso(doc.publishedAt).replace('T', ' ').slice(0, 16)) : ''}${doc.publishedBy ? `，发布人 ${h(doc.publishedBy)}` : ''}`;
  const late = doc.late
    ? `<p class="late">迟报：发布时距${doc.version && doc.version > 1 ? '所涉课程' : '首节课'}仅 ${h(String(doc.leadHours ?? ''))} 小时（应至少提前 3 天）。原因：${h(doc.lateReason ?? '')}</p>`
    : '';
  const body = doc.entries.length
    ? doc.entries.map((e) => `<tr class="${e.state === 'cancelled' ? 'cancelled' : ''}">${row(e).slice(0, 14).map((c) => `<td>${h(c)}</td>`).join('')}</tr>`).join('\n')
    : `<tr><td colspan="14">本周没有课程</td></tr>`;
  const changes = doc.changes.length && doc.version !== null && doc.version > 1
    ? `<h2>本版变更</h2>\n<ul>${doc.changes.map((c) => `<li>${h(changeText(c))}</li>`).join('')}</ul>`
    : '';
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(doc.title)}</title>
<style>
@page { size: A4 landscape; margin: 12mm; }
body { font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; font-size: 11pt; color: #000; }
h1 { font-size: 16pt; margin: 0 0 4pt; }
h2 { font-size: 13pt; margin: 12pt 0 4pt; }
p { margin: 2pt 0; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #444; padding: 3pt 4pt; text-align: left; vertical-align: top; word-break: break-word; }
th { background: #eee; }
tr.cancelled td { text-decoration: line-through; color: #666; }
.late { font-weight: bold; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; }
</style>
</head>
<body>
<h1>${h(doc.title)}</h1>
<p>${doc.scope === 'school' ? '学校' : '区县'}：${h(doc.owner.name)}（${h(doc.owner.code)}）${doc.scope === 'school' ? `　所属区县：${h(doc.district.name)}` : ''}</p>
<p>周次：${h(doc.weekStart)} 至 ${h(doc.weekEnd)}（北京时间）</p>
<p>状态：${status}</p>
${late}
<table>
<thead><tr>${csvHeader.slice(0, 14).map((c) => `<th>${h(c)}</th>`).join('')}</tr></thead>
<tbody>
${body}
</tbody>
</table>
${changes}
<p>生成时间：${h(toShanghaiIso(doc.generatedAt).replace('T', ' ').slice(0, 19))}</p>
</body>
</html>
`;
}
