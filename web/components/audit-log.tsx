import { useState } from 'preact/hooks';
import { staff } from '../api/staff-client.ts';
import { useApi } from '../lib/use-api.ts';
import { auditActionLabel, auditActorLabel, auditEntityLabel, auditStateLabel, labelOf } from '../lib/code-labels.ts';
import { formatDateTime } from '../lib/format.ts';
import { ErrorNote } from './error-note.tsx';
import { auditActionLabels, channelLabels, ct, t } from '../i18n/zh-CN.ts';

interface Entry { id: number; at: string; actor: string; entity: string; entityId: string; action: string; from: string | null; to: string | null; reason: string | null; lessonTitle?: string | null }

/** What a record is about, by the lesson's title when it concerns one (a publication's id is `lessonId:channel`). */
function Subject({ e }: { e: Entry }) {
  const [id, channel] = e.entity === 'publication' ? e.entityId.split(':') : [e.entityId];
  return (
    <>
      {auditEntityLabel(e.entity)}{e.lessonTitle ? `《${e.lessonTitle}》` : ''}{channel ? `（${labelOf(channelLabels, channel)}）` : ''}
      <span class="log__id"> {id}</span>
    </>
  );
}

/** From which state to which: nothing when neither is known or nothing moved. */
function change(e: Entry): string {
  const from = e.from ? auditStateLabel(e.entity, e.from) : null;
  const to = e.to ? auditStateLabel(e.entity, e.to) : null;
  if (from === to) return '';
  if (!from) return ct.auditBecame(to!);
  return to ? `${from} → ${to}` : from;
}

/** A person's reason as written; a service's (English, technical) behind a Chinese disclosure. */
function Reason({ entry }: { entry: Entry }) {
  if (entry.actor.includes(':')) return <>{entry.reason}</>;
  return <details class="tech"><summary>{ct.techDetail}</summary><span lang="en">{entry.reason}</span></details>;
}

/** The audit log with filters: who, what, which lesson, from and to (dates), newest first, paged. */
export function AuditLog() {
  const [f, setF] = useState<Record<string, string>>({});
  const [before, setBefore] = useState<number | undefined>();
  const q = useApi(() => staff<{ items: Entry[]; nextBefore: number | null }>('audit', { query: { ...f, before, limit: 50 } }), [JSON.stringify(f), before]);
  const submit = (e: Event) => {
    e.preventDefault();
    const d = new FormData(e.currentTarget as HTMLFormElement);
    const next: Record<string, string> = {};
    for (const k of ['actor', 'action', 'entityId']) {
      const v = String(d.get(k) ?? '').trim();
      if (v) next[k] = v;
    }
    // dates are school days (Beijing): from its midnight, to the next day's
    const day = (v: string, plus: number) => new Date(Date.parse(`${v}T00:00:00+08:00`) + plus).toISOString();
    const from = String(d.get('from') ?? '');
    const to = String(d.get('to') ?? '');
    if (from) next.from = day(from, 0);
    if (to) next.to = day(to, 86_400_000);
    setBefore(undefined);
    setF(next);
  };
  const actions = (Object.keys(auditActionLabels) as (keyof typeof auditActionLabels)[]).sort((a, b) => auditActionLabels[a].localeCompare(auditActionLabels[b], 'zh-CN'));
  return (
    <>
      <form class="form card" onSubmit={submit}>
        <div class="form-row">
          <label class="field"><span>{ct.auditWho}</span><input name="actor" autocapitalize="off" placeholder={ct.username} /></label>
          <label class="field"><span>{ct.auditWhat}</span><select name="action"><option value="">{t.filterAll}</option>{actions.map((a) => <option key={a} value={a}>{auditActionLabels[a]}</option>)}</select></label>
          <label class="field"><span>{ct.auditLesson}</span><input name="entityId" autocapitalize="off" /></label>
          <label class="field"><span>{ct.auditFrom}</span><input name="from" type="date" /></label>
          <label class="field"><span>{ct.auditTo}</span><input name="to" type="date" /></label>
        </div>
        <button type="submit" class="button button--small">{ct.filter}</button>
      </form>
      {q.error && <ErrorNote message={q.error.message} onRetry={q.reload} />}
      {!q.data && !q.error && <p class="muted">{t.loading}</p>}
      {q.data && !q.data.items.length && <p class="muted">{ct.auditEmpty}</p>}
      {q.data && q.data.items.length > 0 && (
        <table class="log" data-testid="audit-table">
          <thead><tr><th scope="col">{ct.auditWhen}</th><th scope="col">{ct.auditWho}</th><th scope="col">{ct.auditWhat}</th><th scope="col">{ct.auditSubject}</th><th scope="col">{ct.reasonLabel}</th></tr></thead>
          <tbody>
            {q.data.items.map((e) => (
              <tr key={e.id}>
                <td data-label={ct.auditWhen}>{formatDateTime(e.at)}</td>
                <td data-label={ct.auditWho}>{auditActorLabel(e.actor)}</td>
                <td data-label={ct.auditWhat} data-testid="audit-action">{auditActionLabel(e.action)}{change(e) && <span class="note">（{change(e)}）</span>}</td>
                <td data-label={ct.auditSubject}><Subject e={e} /></td>
                <td data-label={ct.reasonLabel}>{e.reason ? <Reason entry={e} /> : null}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {q.data?.nextBefore && <p class="load-more"><button type="button" class="button button--ghost" onClick={() => setBefore(q.data!.nextBefore!)}>{t.loadMore}</button></p>}
    </>
  );
}
