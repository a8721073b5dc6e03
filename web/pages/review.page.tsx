import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/client.ts';
import { staff, type Me } from '../api/staff-client.ts';
import { useApi } from '../lib/use-api.ts';
import { ErrorNote } from '../components/error-note.tsx';
import { Player } from '../components/player.tsx';
import { StoryboardStrip } from '../components/storyboard-strip.tsx';
import { RejectForm } from '../components/reject-form.tsx';
import { auditActionLabel, labelOf } from '../lib/code-labels.ts';
import { ct, editFieldLabels, lessonStatusLabels, t, unknownCode } from '../i18n/zh-CN.ts';

interface QueueItem {
  id: string;
  title: string;
  kind: 'recorded' | 'live';
  status: string;
  teacher: string;
  scheduledStart: string | null;
  waitingSince: string;
}
interface Change { field: string; from: string; to: string; fromLabel?: string; toLabel?: string }
interface PendingEdit { id: string; lessonId: string; lessonTitle: string; teacher: string; proposedAt: string; changes: Change[] }
interface Decision { id: number; at: string; entityId: string; action: string; reason: string | null; data: { changes?: unknown } | null; lessonTitle?: string | null }

const minutesSince = (iso: string): number => Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60_000));
const when = (iso: string): string => new Date(iso).toLocaleString('zh-CN', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** The reviewer's console: the school's queue with preview, pending text edits, live plans, lessons on air, past decisions. */
export function Page(_: { me: Me }) {
  const [tab, setTab] = useState<'queue' | 'edits' | 'onair' | 'history'>('queue');
  const tabs = [['queue', ct.tabQueue], ['edits', ct.tabEdits], ['onair', ct.tabOnAir], ['history', ct.tabHistory]] as const;
  return (
    <>
      <h1 class="visually-hidden">{ct.reviewTitle}</h1>
      <nav class="tabs" aria-label={ct.reviewTitle}>
        {tabs.map(([k, label]) => <button key={k} type="button" class="chip" aria-pressed={tab === k} onClick={() => setTab(k)}>{label}</button>)}
      </nav>
      {tab === 'queue' && <Queue />}
      {tab === 'edits' && <Edits />}
      {tab === 'onair' && <OnAir />}
      {tab === 'history' && <History />}
    </>
  );
}

function Queue() {
  const q = useApi(() => staff<{ items: QueueItem[] }>('reviewQueue'), []);
  const [open, setOpen] = useState<string | null>(null);
  useEffect(() => {
    const timer = setInterval(q.reload, 20_000);
    return () => clearInterval(timer);
  }, []);
  if (q.error) return <ErrorNote message={q.error.message} onRetry={q.reload} />;
  if (!q.data) return <p class="muted">{t.loading}</p>;
  if (!q.data.items.length) return <p class="muted">{ct.queueEmpty}</p>;
  return (
    <ul class="item-list">
      {q.data.items.map((i) => (
        <li key={i.id} class="item" data-testid="queue-item">
          <div class="item__head">
            <span class="item__title">{i.title}</span>
            <span class="state">{i.kind === 'live' ? ct.livePlan : labelOf(lessonStatusLabels, i.status)}</span>
          </div>
          <p class="note">{i.teacher} · {ct.waiting(minutesSince(i.waitingSince))}{i.scheduledStart ? ` · ${ct.start} ${when(i.scheduledStart)}` : ''}</p>
          {i.kind === 'recorded' || i.status === 'in_review' ? (
            <div class="item__actions">
              <button type="button" class="button button--small" aria-expanded={open === i.id} onClick={() => setOpen(open === i.id ? null : i.id)}>{ct.preview}</button>
            </div>
          ) : <Decide lessonId={i.id} onDone={q.reload} />}
          {open === i.id && <Preview lessonId={i.id} onDone={q.reload} />}
        </li>
      ))}
    </ul>
  );
}

function Preview({ lessonId, onDone }: { lessonId: string; onDone: () => void }) {
  const d = useApi(() => staff<{ preview: { hls: string } | null; description: string }>('lesson', { params: { id: lessonId } }), [lessonId]);
  if (d.error) return <ErrorNote message={d.error.message} onRetry={d.reload} />;
  if (!d.data) return <p class="muted">{t.loading}</p>;
  const hls = d.data.preview?.hls;
  const vtt = hls?.replace(/master\.m3u8$/, 'storyboard.vtt');
  const seek = (s: number) => {
    const v = document.querySelector<HTMLVideoElement>('.review-preview video');
    if (!v) return;
    v.currentTime = s;
    // on a phone the strip can push the picture off screen: bring it back to see the moment
    v.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  };
  return (
    <div class="review-preview">
      {hls && <Player src={hls} live={false} storyboardUrl={vtt} onGone={d.reload} />}
      {vtt && <StoryboardStrip vttUrl={vtt} onSeek={seek} label={ct.storyboard} />}
      {d.data.description && <p class="lesson__description">{d.data.description}</p>}
      <Decide lessonId={lessonId} onDone={onDone} />
    </div>
  );
}

function Decide({ lessonId, onDone }: { lessonId: string; onDone: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [rejecting, setRejecting] = useState(false);
  const decide = async (decision: 'approve' | 'reject', reason?: string) => {
    try {
      await staff('review', { params: { id: lessonId }, body: { decision, reason } });
      onDone();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : t.networkError);
    }
  };
  return (
    <div>
      {error && <ErrorNote message={error} />}
      <div class="item__actions">
        <button type="button" class="button button--small" onClick={() => decide('approve')}>{ct.approve}</button>
        <button type="button" class="button button--small button--ghost" aria-expanded={rejecting} onClick={() => setRejecting(!rejecting)}>{ct.reject}</button>
      </div>
      {rejecting && <RejectForm onReject={(r) => decide('reject', r)} />}
    </div>
  );
}

function Edits() {
  const q = useApi(() => staff<{ items: PendingEdit[] }>('pendingEdits'), []);
  const [error, setError] = useState<string | null>(null);
  const decide = async (id: string, decision: 'approve' | 'reject', reason?: string) => {
    try {
      await staff('reviewEdit', { params: { id }, body: { decision, reason } });
      q.reload();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : t.networkError);
    }
  };
  if (q.error) return <ErrorNote message={q.error.message} onRetry={q.reload} />;
  if (!q.data) return <p class="muted">{t.loading}</p>;
  if (!q.data.items.length) return <p class="muted">{ct.editsEmpty}</p>;
  return (
    <ul class="item-list">
      {error && <ErrorNote message={error} />}
      {q.data.items.map((e) => (
        <li key={e.id} class="item">
          <div class="item__head"><span class="item__title">{e.lessonTitle}</span><span class="note">{e.teacher} · {ct.waiting(minutesSince(e.proposedAt))}</span></div>
          <div class="diff">
            {e.changes.map((c) => (
              <div key={c.field}>
                <strong>{labelOf(editFieldLabels, c.field, unknownCode.kind)}</strong>
                <p><span class="visually-hidden">{ct.before}</span><del>{c.fromLabel ?? c.from}</del></p>
                <p><span class="visually-hidden">{ct.after}</span><ins>{c.toLabel ?? c.to}</ins></p>
              </div>
            ))}
          </div>
          <div class="item__actions"><button type="button" class="button button--small" onClick={() => decide(e.id, 'approve')}>{ct.approve}</button></div>
          <RejectForm onReject={(r) => decide(e.id, 'reject', r)} />
        </li>
      ))}
    </ul>
  );
}

function OnAir() {
  const q = useApi(() => staff<{ items: { id: string; title: string; teacher: { name: string } }[] }>('myLessons', { query: { status: 'on_air,approved_for_air' } }), []);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const timer = setInterval(q.reload, 5000);
    return () => clearInterval(timer);
  }, []);
  const stop = async (id: string) => {
    if (!confirm(ct.stopConfirm)) return;
    try {
      await staff('stopLive', { params: { id }, body: {} });
      q.reload();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : t.networkError);
    }
  };
  if (q.error) return <ErrorNote message={q.error.message} onRetry={q.reload} />;
  if (!q.data) return <p class="muted">{t.loading}</p>;
  if (!q.data.items.length) return <p class="muted">{ct.onAirEmpty}</p>;
  return (
    <ul class="item-list">
      {error && <ErrorNote message={error} />}
      {q.data.items.map((l) => (
        <li key={l.id} class="item" data-testid="onair-item">
          <div class="item__head"><span class="item__title">{l.title}</span><span class="note">{l.teacher.name}</span></div>
          <div class="item__actions"><button type="button" class="button button--small button--danger" onClick={() => stop(l.id)}>{ct.stop}</button></div>
        </li>
      ))}
    </ul>
  );
}

function History() {
  const q = useApi(() => staff<{ items: Decision[] }>('decisions', { query: { limit: 50 } }), []);
  if (q.error) return <ErrorNote message={q.error.message} onRetry={q.reload} />;
  if (!q.data) return <p class="muted">{t.loading}</p>;
  if (!q.data.items.length) return <p class="muted">{ct.historyEmpty}</p>;
  return (
    <ul class="item-list">
      {q.data.items.map((d) => (
        <li key={d.id} class="item">
          <div class="item__head"><span class="item__title">{auditActionLabel(d.action)}</span><span class="note">{when(d.at)}</span></div>
          <p class="note">{d.lessonTitle ?? ct.lessonGone}</p>
          {d.reason && <p class="reason">{d.reason}</p>}
        </li>
      ))}
    </ul>
  );
}
