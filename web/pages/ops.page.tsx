import { useState } from 'preact/hooks';
import { ApiError } from '../api/client.ts';
import { staff, type Me } from '../api/staff-client.ts';
import { useApi } from '../lib/use-api.ts';
import { ErrorNote } from '../components/error-note.tsx';
import { AdminPanel } from '../components/admin-panel.tsx';
import { AuditLog } from '../components/audit-log.tsx';
import { CapacityPanel } from '../components/capacity-panel.tsx';
import { labelOf } from '../lib/code-labels.ts';
import { formatDate, formatDateTime } from '../lib/format.ts';
import { cablePackageStateLabels, cableVerbLabels, capacityText, channelLabels, ct, lessonStatusLabels, processingFailureMessages, t, unknownCode } from '../i18n/zh-CN.ts';

interface OpsLesson {
  id: string;
  title: string;
  status: string;
  school: { name: string };
  teacher: { name: string };
}
interface Publication { channel: string; state: string }


/** The operator's console: publish per channel, withdraw, cable packages, audit, taxonomy, late timetables, queues; admins also manage schools and users. */
export function Page({ me }: { me: Me }) {
  const [tab, setTab] = useState<string>('publish');
  const tabs: [string, string][] = [['publish', ct.tabPublish], ['cable', ct.tabCable], ['audit', ct.tabAudit], ['taxonomy', ct.tabTaxonomy], ['late', ct.tabLate], ['capacity', capacityText.tab]];
  if (me.role === 'admin') tabs.push(['schools', ct.tabSchools], ['users', ct.tabUsers]);
  return (
    <>
      <h1 class="visually-hidden">{ct.opsTitle}</h1>
      <nav class="tabs" aria-label={ct.opsTitle}>
        {tabs.map(([k, label]) => <button key={k} type="button" class="chip" aria-pressed={tab === k} onClick={() => setTab(k)}>{label}</button>)}
        <a class="chip" href="/ops/queues/">{ct.tabQueues}</a>
      </nav>
      {tab === 'publish' && <Publish />}
      {tab === 'cable' && <Cable />}
      {tab === 'audit' && <AuditLog />}
      {tab === 'taxonomy' && <TaxonomyPanel />}
      {tab === 'late' && <Late />}
      {tab === 'capacity' && <CapacityPanel />}
      {(tab === 'schools' || tab === 'users') && <AdminPanel what={tab} />}
    </>
  );
}

function Publish() {
  const q = useApi(() => staff<{ items: OpsLesson[] }>('myLessons', { query: { status: 'approved,published,withdrawn', limit: 100 } }), []);
  if (q.error) return <ErrorNote message={q.error.message} onRetry={q.reload} />;
  if (!q.data) return <p class="muted">{t.loading}</p>;
  if (!q.data.items.length) return <p class="muted">{ct.noneToPublish}</p>;
  return <ul class="item-list">{q.data.items.map((l) => <PublishItem key={l.id} lesson={l} />)}</ul>;
}

function PublishItem({ lesson }: { lesson: OpsLesson }) {
  const d = useApi(() => staff<{ published: Publication[]; status: string }>('lesson', { params: { id: lesson.id } }), [lesson.id]);
  const [error, setError] = useState<string | null>(null);
  const [withdrawing, setWithdrawing] = useState<string | null>(null);
  const act = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      setError(null);
      setWithdrawing(null);
      d.reload();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : t.networkError);
    }
  };
  const state = (ch: string) => d.data?.published.find((p) => p.channel === ch)?.state === 'published';
  return (
    <li class="item" data-testid="publish-item">
      <div class="item__head"><span class="item__title">{lesson.title}</span><span class="state">{labelOf(lessonStatusLabels, d.data?.status ?? lesson.status)}</span></div>
      <p class="note">{lesson.school.name} · {lesson.teacher.name}</p>
      {error && <ErrorNote message={error} />}
      <div class="item__actions">
        {(['portal', 'cable'] as const).map((ch) => {
          const name = channelLabels[ch];
          return state(ch)
            ? <button key={ch} type="button" class="button button--small button--ghost" onClick={() => setWithdrawing(ch)}>{ct.withdraw}（{name}）</button>
            : <button key={ch} type="button" class="button button--small" onClick={() => act(() => staff('publish', { params: { id: lesson.id }, body: { channel: ch } }))}>{ch === 'portal' ? ct.publishPortal : ct.publishCable}</button>;
        })}
      </div>
      {withdrawing && (
        <form class="form" onSubmit={(e) => { e.preventDefault(); const reason = String(new FormData(e.currentTarget as HTMLFormElement).get('reason') ?? '').trim(); void act(() => staff('withdraw', { params: { id: lesson.id, channel: withdrawing }, body: { reason } })); }}>
          <label class="field"><span>{ct.withdrawReason}</span><textarea name="reason" required /></label>
          <div class="item__actions">
            <button type="submit" class="button button--small button--danger">{ct.withdraw}</button>
            <button type="button" class="button button--small button--ghost" onClick={() => setWithdrawing(null)}>{ct.cancel}</button>
          </div>
        </form>
      )}
    </li>
  );
}

function Cable() {
  const q = useApi(() => staff<{ items: { packageId: string; title: string; verb: string; state: string; error: string | null; errorCode: string | null; updatedAt: string }[] }>('cablePackages'), []);
  if (q.error) return <ErrorNote message={q.error.message} onRetry={q.reload} />;
  if (!q.data) return <p class="muted">{t.loading}</p>;
  if (!q.data.items.length) return <p class="muted">{ct.cableEmpty}</p>;
  return (
    <ul class="item-list">
      {q.data.items.map((p) => (
        <li key={p.packageId} class="item">
          <div class="item__head"><span class="item__title">{p.title}</span><span class={`state ${p.state === 'failed' ? 'state--bad' : p.state === 'delivered' ? 'state--good' : ''}`} data-testid="cable-state">{labelOf(cablePackageStateLabels, p.state)}</span></div>
          <p class="note">{labelOf(cableVerbLabels, p.verb, unknownCode.kind)} · {formatDateTime(p.updatedAt)} · <span class="log__id">{p.packageId}</span></p>
          {p.state === 'failed' && <p class="reason">{labelOf(processingFailureMessages, p.errorCode, processingFailureMessages.processing_failed)}</p>}
          {p.error && <details class="tech"><summary>{ct.techDetail}</summary><span lang="en">{p.error}</span></details>}
        </li>
      ))}
    </ul>
  );
}

function TaxonomyPanel() {
  const tax = useApi(() => staff<Record<string, { code: string; label: string }[]>>('taxonomy'), []);
  const [error, setError] = useState<string | null>(null);
  const add = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    try {
      await staff('addTaxonomy', { params: { kind: String(f.get('kind')) }, body: { code: String(f.get('code')), label: String(f.get('label')) } });
      setError(null);
      tax.reload();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : t.networkError);
    }
  };
  const kinds = [['subject', t.subject, 'subjects'], ['type', t.type, 'types'], ['edition', t.edition, 'editions']] as const;
  return (
    <>
      {error && <ErrorNote message={error} />}
      <form class="form card" onSubmit={add}>
        <div class="form-row">
          <label class="field"><span>{ct.kind}</span><select name="kind">{kinds.map(([k, l]) => <option key={k} value={k}>{l}</option>)}</select></label>
          <label class="field"><span>{ct.code}</span><input name="code" required pattern="[a-z0-9_]+" placeholder={ct.codeHint} title={ct.codeHint} autocapitalize="off" /></label>
          <label class="field"><span>{ct.label}</span><input name="label" required /></label>
        </div>
        <button type="submit" class="button button--small">{ct.taxonomyAdd}</button>
      </form>
      {tax.error && <ErrorNote message={tax.error.message} onRetry={tax.reload} />}
      {!tax.data && !tax.error && <p class="muted">{t.loading}</p>}
      {tax.data && kinds.map(([k, l, key]) => (
        <section key={k} class="card">
          <h2>{l}</h2>
          <p>{(tax.data![key] ?? []).map((i) => i.label).join('、')}</p>
        </section>
      ))}
    </>
  );
}

function Late() {
  const q = useApi(() => staff<{ items: { timetableId: string; school: { name: string } | null; district: { name: string }; weekStart: string; publishedAt: string; leadHours: number; lateReason: string }[] }>('lateTimetables'), []);
  if (q.error) return <ErrorNote message={q.error.message} onRetry={q.reload} />;
  if (!q.data) return <p class="muted">{t.loading}</p>;
  if (!q.data.items.length) return <p class="muted">{ct.lateEmpty}</p>;
  return (
    <ul class="item-list">
      {q.data.items.map((i) => (
        <li key={`${i.timetableId}-${i.publishedAt}`} class="item">
          <div class="item__head"><span class="item__title">{i.school?.name ?? i.district.name}</span><span class="note">{ct.weekOf(formatDate(i.weekStart))}</span></div>
          <p class="note">{ct.publishedAtLead(formatDateTime(i.publishedAt), i.leadHours)}</p>
          <p class="reason">{i.lateReason}</p>
        </li>
      ))}
    </ul>
  );
}
