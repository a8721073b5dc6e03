import { useState } from 'preact/hooks';
import { staff } from '../api/staff-client.ts';
import { useApi } from '../lib/use-api.ts';
import { ErrorNote } from './error-note.tsx';
import { ct, t } from '../i18n/zh-CN.ts';

interface Entry { id: number; at: string; actor: string; entity: string; entityId: string; action: string; from: string | null; to: string | null; reason: string | null }

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
    for (const k of ['from', 'to']) {
      const v = String(d.get(k) ?? '');
      if (v) next[k] = new Date(`${v}T00:00:00${k === 'to' ? '' : ''}`).toISOString();
    }
    if (next.to) next.to = new Date(Date.parse(next.to) + 86_400_000).toISOString();
    setBefore(undefined);
    setF(next);
  };
  return (
    <>
      <form class="form card" onSubmit={submit}>
        <div class="form-row">
          <label class="field"><span>{ct.auditWho}</span><input name="actor" /></label>
          <label class="field"><span>{ct.auditWhat}</span><input name="action" /></label>
          <label class="field"><span>{ct.auditLesson}</span><input name="entityId" /></label>
          <label class="field"><span>{ct.auditFrom}</span><input name="from" type="date" /></label>
          <label class="field"><span>{ct.auditTo}</span><input name="to" type="date" /></label>
        </div>
        <button type="submit" class="button button--small">{ct.filter}</button>
      </form>
      {q.error && <ErrorNote message={q.error.message} onRetry={q.reload} />}
      {!q.data && !q.error && <p class="muted">{t.loading}</p>}
      {q.data && !q.data.items.length && <p class="muted">{ct.auditEmpty}</p>}
      {q.data && q.data.items.length > 0 && (
        <div class="table-wrap">
          <table class="log">
            <thead><tr><th scope="col">{ct.auditFrom}</th><th scope="col">{ct.auditWho}</th><th scope="col">{ct.auditWhat}</th><th scope="col">{ct.auditLesson}</th><th scope="col">{ct.reasonLabel}</th></tr></thead>
            <tbody>
              {q.data.items.map((e) => (
                <tr key={e.id}>
                  <td>{new Date(e.at).toLocaleString('zh-CN')}</td>
                  <td>{e.actor}</td>
                  <td>{e.action}{e.from || e.to ? `（${e.from ?? ''} → ${e.to ?? ''}）` : ''}</td>
                  <td>{e.entity} {e.entityId}</td>
                  <td>{e.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {q.data?.nextBefore && <p class="load-more"><button type="button" class="button button--ghost" onClick={() => setBefore(q.data!.nextBefore!)}>{t.loadMore}</button></p>}
    </>
  );
}
