import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import { staff } from '../api/staff-client.ts';
import { useApi, type Loaded } from '../lib/use-api.ts';
import { labelOf } from '../lib/code-labels.ts';
import { formatDateTime, formatTime } from '../lib/format.ts';
import { ErrorNote } from './error-note.tsx';
import { captureOnlyReasonLabels, capacityText as c, liveSessionStateLabels, t, unknownCode } from '../i18n/zh-CN.ts';

interface Snapshot {
  workers: { workerId: string; host: string; pid: number; slots: number; used: number }[];
  slots: { total: number; used: number; free: number };
  sessions: { onAir: number; transcoded: number; captureOnly: number };
  jobs: { waiting: number; oldestWaitS: number | null };
  items: { sessionId: string; title: string; school: string; teacher: string; state: string; startedAt: string; transcoded: boolean; reason: string | null; ahead: number | null; transcoder: { host: string } | null }[];
}
interface Report {
  capacity: { slots: number; source: 'workers' | 'configured' };
  windows: { from: string; to: string; demand: number; capacity: number; shortfall: number; lessons: { lessonId: string; title: string; school: string; start: string; end: string }[] }[];
}

/**
 * Live capacity for operators (issue 11 item 3): the fleet now (workers, slots, lessons on air with
 * the reason each one without a transcoder has none, waiting jobs; refreshed every 5 s) and the
 * 15-minute windows of the next 3 days over capacity, in time to add workers.
 */
export function CapacityPanel() {
  const now = useApi(() => staff<Snapshot>('capacity'), []);
  const report = useApi(() => staff<Report>('liveCapacityReport'), []);
  useEffect(() => {
    const timer = setInterval(now.reload, 5000);
    return () => clearInterval(timer);
  }, []);
  return (
    <div class="capacity">
      <Section id="capacity-now" title={c.nowTitle} q={now}>{(d) => <Now s={d} />}</Section>
      <Section id="capacity-report" title={c.reportTitle} q={report}>{(d) => <Windows r={d} />}</Section>
    </div>
  );
}

/** A card with its heading that shows what a load brought, its error with a retry, or that it is loading. */
function Section<T>({ id, title, q, children }: { id: string; title: string; q: Loaded<T>; children: (data: T) => JSX.Element }) {
  return (
    <section class="card" aria-labelledby={id} data-testid={id}>
      <h2 id={id}>{title}</h2>
      {q.error && <ErrorNote message={q.error.message} onRetry={q.reload} />}
      {!q.data && !q.error && <p class="muted">{t.loading}</p>}
      {q.data && children(q.data)}
    </section>
  );
}

function Now({ s }: { s: Snapshot }) {
  return (
    <>
      <dl class="kv">
        <dt>{c.workers}</dt><dd>{c.workersCount(s.workers.length)}</dd>
        <dt>{c.slots}</dt><dd>{c.slotsUsed(s.slots.used, s.slots.total)}</dd>
        <dt>{c.onAir}</dt><dd>{c.onAirCount(s.sessions.onAir, s.sessions.transcoded, s.sessions.captureOnly)}</dd>
        <dt>{c.waiting}</dt><dd>{c.waitingCount(s.jobs.waiting, s.jobs.oldestWaitS)}</dd>
      </dl>
      <h3>{c.sessionsTitle}</h3>
      {s.items.length ? (
        <ul class="item-list">
          {s.items.map((i) => (
            <li key={i.sessionId} class="item" data-testid="capacity-session">
              <div class="item__head">
                <span class="item__title">{i.title}</span>
                <span class={`state ${i.transcoded ? 'state--good' : 'state--bad'}`}>{i.transcoded ? c.transcoded : c.captureOnly}</span>
              </div>
              <p class="note">{i.school} · {i.teacher} · {formatTime(i.startedAt)}{i.transcoder ? ` · ${i.transcoder.host}` : ''}{i.state === 'reconnecting' ? ` · ${liveSessionStateLabels.reconnecting}` : ''}</p>
              {!i.transcoded && (
                <p class="reason">
                  {labelOf(captureOnlyReasonLabels, i.reason, unknownCode.state)}
                  {i.reason === 'slots_busy' && i.ahead !== null ? `（${c.ahead(i.ahead)}）` : ''}
                </p>
              )}
            </li>
          ))}
        </ul>
      ) : <p class="note">{c.noSessions}</p>}
      <h3>{c.workers}</h3>
      {s.workers.length ? (
        <ul class="item-list">
          {s.workers.map((w) => <li key={w.workerId} class="note">{c.workerLine(w.host, w.pid, w.used, w.slots)}</li>)}
        </ul>
      ) : <p class="note">{c.noWorkers}</p>}
    </>
  );
}

function Windows({ r }: { r: Report }) {
  return (
    <>
      <p class="note">{c.reportCapacity(r.capacity.slots, r.capacity.source === 'workers')}</p>
      {r.windows.length ? (
        <ul class="item-list">
          {r.windows.map((w) => (
            <li key={w.from} class="item" data-testid="capacity-window">
              <div class="item__head">
                <span class="item__title">{formatDateTime(w.from)}–{formatTime(w.to)}</span>
                <span class="state state--bad">{c.windowLine(w.demand, w.capacity, w.shortfall)}</span>
              </div>
              <ul class="note">
                {w.lessons.map((l) => <li key={l.lessonId}>{formatTime(l.start)}–{formatTime(l.end)} {l.title}（{l.school}）</li>)}
              </ul>
            </li>
          ))}
        </ul>
      ) : <p class="note">{c.reportEmpty}</p>}
    </>
  );
}
