import { useState } from 'preact/hooks';
import { staff } from '../api/staff-client.ts';
import { useApi } from '../lib/use-api.ts';
import { labelOf } from '../lib/code-labels.ts';
import { formatDate, formatDateTime, formatDayTime, formatTime } from '../lib/format.ts';
import { ErrorNote } from './error-note.tsx';
import { ct, entryStateLabels, lessonStatusLabels, t, timetableStatusLabels } from '../i18n/zh-CN.ts';

interface Summary { id: string; weekStart: string; weekEnd: string; title: string; status: string; version: number; publishedAt: string | null; late: boolean }
interface Entry {
  entryId: string; lessonId: string; kind: 'live' | 'recorded'; title: string; teacher: string; audience: string; note: string;
  grade: { label: string }; subject: { label: string }; start: string; end: string | null; state: string; cancelReason: string | null;
  lessonStatus: string; approvedForAir: boolean | null; publishedState: string | null;
}
interface Detail extends Summary { entries: Entry[]; unpublishedChanges: unknown[] }
interface Version { version: number; publishedAt: string; publishedBy: string; late: boolean; lateReason: string | null }

/** Today in Beijing as YYYY-MM-DD: a week is current until its Sunday is over. */
const today = (): string => new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);

/**
 * The school's timetables as the timetable editor keeps them (drafts and published versions, late
 * reasons, cancelled entries): the current and coming weeks open, earlier weeks on request.
 */
export function SchoolTimetables({ school, me }: { school: string; me: string }) {
  const list = useApi(() => staff<{ items: Summary[] }>('timetables', { query: { school, limit: 30 } }), [school]);
  const [showPast, setShowPast] = useState(false);
  if (list.error) return <ErrorNote message={list.error.message} onRetry={list.reload} />;
  if (!list.data) return <p class="muted">{t.loading}</p>;
  if (!list.data.items.length) return <p class="muted">{ct.noTimetable}</p>;
  const now = today();
  const coming = list.data.items.filter((w) => w.weekEnd >= now).sort((a, b) => a.weekStart.localeCompare(b.weekStart));
  const past = list.data.items.filter((w) => w.weekEnd < now);
  return (
    <div data-testid="school-timetables">
      {!coming.length && <p class="muted">{ct.noComingTimetable}</p>}
      {coming.map((w) => <Week key={w.id} summary={w} me={me} />)}
      {past.length > 0 && !showPast && (
        <p><button type="button" class="button button--ghost" onClick={() => setShowPast(true)}>{ct.pastTimetables(past.length)}</button></p>
      )}
      {showPast && past.map((w) => <Week key={w.id} summary={w} me={me} />)}
    </div>
  );
}

function Week({ summary, me }: { summary: Summary; me: string }) {
  const d = useApi(() => staff<Detail>('timetable', { params: { id: summary.id } }), [summary.id]);
  const v = useApi(() => (summary.version ? staff<{ items: Version[] }>('timetableVersions', { params: { id: summary.id } }) : Promise.resolve({ items: [] as Version[] })), [summary.id, summary.version]);
  const latest = v.data?.items[0];
  return (
    <section class="card timetable" data-testid="timetable-week" aria-labelledby={`tt-${summary.id}`}>
      <div class="item__head">
        <h2 id={`tt-${summary.id}`} class="timetable__title">{ct.weekRange(formatDate(summary.weekStart), formatDate(summary.weekEnd))}</h2>
        <span class={`state ${summary.status === 'published' ? 'state--good' : ''}`} data-testid="timetable-status">
          {summary.status === 'published' ? ct.timetableVersion(summary.version) : labelOf(timetableStatusLabels, summary.status)}
        </span>
      </div>
      {summary.title && <p class="note">{summary.title}</p>}
      {latest && <p class="note">{ct.publishedBy(formatDateTime(latest.publishedAt), latest.publishedBy)}</p>}
      {latest?.late && <p class="reason" data-testid="late-reason">{ct.lateReason}：{latest.lateReason}</p>}
      {d.data && summary.status === 'published' && d.data.unpublishedChanges.length > 0 && <p class="note">{ct.unpublishedChanges(d.data.unpublishedChanges.length)}</p>}
      {d.error && <ErrorNote message={d.error.message} onRetry={d.reload} />}
      {!d.data && !d.error && <p class="muted">{t.loading}</p>}
      {d.data && !d.data.entries.length && <p class="muted">{ct.timetableEmpty}</p>}
      {d.data && d.data.entries.length > 0 && (
        <ul class="item-list">
          {d.data.entries.map((e) => <EntryItem key={e.entryId} e={e} mine={e.teacher === me} />)}
        </ul>
      )}
    </section>
  );
}

function EntryItem({ e, mine }: { e: Entry; mine: boolean }) {
  const cancelled = e.state === 'cancelled';
  return (
    <li class={`item timetable__entry ${cancelled ? 'timetable__entry--cancelled' : ''}`} data-testid="timetable-entry">
      <div class="item__head">
        <span class="timetable__time">{formatDayTime(e.start)}{e.end ? `–${formatTime(e.end)}` : ''}</span>
        <span class="chips">
          {mine && <span class="state state--good">{ct.myLesson}</span>}
          <span class={`state ${cancelled ? 'state--bad' : ''}`} data-testid="entry-state">{e.publishedState ? labelOf(entryStateLabels, e.state) : ct.entryUnpublished}</span>
        </span>
      </div>
      <span class="item__title">{e.title}</span>
      <p class="note">{e.kind === 'live' ? ct.kindLive : ct.kindRecorded} · {e.grade.label} · {e.subject.label} · {e.teacher}{e.audience ? ` · ${e.audience}` : ''}</p>
      {e.kind === 'live' && e.approvedForAir === false && !cancelled && <p class="note">{ct.planNotApproved}（{labelOf(lessonStatusLabels, e.lessonStatus)}）</p>}
      {e.note && <p class="note">{e.note}</p>}
      {cancelled && e.cancelReason && <p class="reason">{ct.reasonLabel}：{e.cancelReason}</p>}
    </li>
  );
}
