import { useState } from 'preact/hooks';
import { ApiError } from '../api/client.ts';
import { staff } from '../api/staff-client.ts';
import { useApi } from '../lib/use-api.ts';
import { ErrorNote } from './error-note.tsx';
import { labelOf } from '../lib/code-labels.ts';
import { ct, roleLabels, stageLabels, t, unknownCode } from '../i18n/zh-CN.ts';

interface School { id: string; code: string; name: string; stage: string; disabled: boolean; users: number; district: { name: string } }
interface User { id: string; username: string; displayName: string; role: string; disabled: boolean; activeTokens: number; school: { name: string } | null }

/** Admin: schools and users (create, disable, reset password, sign out everywhere), through /api/v1/admin. */
export function AdminPanel({ what }: { what: 'schools' | 'users' }) {
  const [msg, setMsg] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const schools = useApi(() => staff<{ items: School[] }>('adminSchools'), []);
  const users = useApi(() => (what === 'users' ? staff<{ items: User[] }>('adminUsers', { query: { limit: 200 } }) : Promise.resolve({ items: [] as User[] })), [what]);
  const act = async (fn: () => Promise<unknown>, after: () => void, note?: (r: unknown) => string | null, confirmText?: string) => {
    if (confirmText && !confirm(confirmText)) return;
    try {
      const r = await fn();
      setError(null);
      setMsg(note ? note(r) : ct.done);
      after();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : t.networkError);
    }
  };
  const form = (e: Event) => Object.fromEntries([...new FormData(e.currentTarget as HTMLFormElement)].map(([k, v]) => [k, String(v).trim()]).filter(([, v]) => v));
  return (
    <>
      {error && <ErrorNote message={error} />}
      {msg && <p class="note" role="status">{msg}</p>}
      {(what === 'schools' ? schools : users).error && <ErrorNote message={(what === 'schools' ? schools : users).error!.message} onRetry={(what === 'schools' ? schools : users).reload} />}
      {!(what === 'schools' ? schools : users).data && !(what === 'schools' ? schools : users).error && <p class="muted">{t.loading}</p>}
      {what === 'schools' && (
        <>
          <form class="form card" onSubmit={(e) => { e.preventDefault(); const b = form(e); void act(() => staff('createSchool', { body: b }), schools.reload); }}>
            <h2>{ct.createSchool}</h2>
            <div class="form-row">
              <label class="field"><span>{ct.code}</span><input name="code" required pattern="[a-z0-9_\-]{2,40}" /></label>
              <label class="field"><span>{ct.schoolName}</span><input name="name" required /></label>
              <label class="field"><span>{t.stage}</span><select name="stage" required>{Object.entries(stageLabels).map(([k, v]) => <option key={k} value={k}>{v}</option>)}</select></label>
              <label class="field"><span>{ct.district}</span><input name="district" required pattern="[a-z0-9_\-]{2,40}" /></label>
              <label class="field"><span>{ct.districtName}</span><input name="districtName" /></label>
            </div>
            <button type="submit" class="button button--small">{ct.createSchool}</button>
          </form>
          <ul class="item-list">
            {schools.data?.items.map((s) => (
              <li key={s.id} class="item">
                <div class="item__head"><span class="item__title">{s.name}</span>{s.disabled && <span class="state state--bad">{ct.disabled}</span>}</div>
                <p class="note">{s.code} · {s.district.name} · {ct.userCount(s.users)}</p>
                <div class="item__actions"><button type="button" class="button button--small button--ghost" onClick={() => act(() => staff('setSchool', { params: { id: s.id }, body: { disabled: !s.disabled } }), schools.reload, undefined, s.disabled ? undefined : ct.disableConfirm(s.name))}>{s.disabled ? ct.enable : ct.disable}</button></div>
              </li>
            ))}
          </ul>
        </>
      )}
      {what === 'users' && (
        <>
          <form class="form card" onSubmit={(e) => { e.preventDefault(); const b = form(e); void act(() => staff<{ password: string | null }>('createUser', { body: b }), users.reload, (r) => ((r as { password: string | null }).password ? ct.newPassword((r as { password: string }).password) : ct.done)); }}>
            <h2>{ct.createUser}</h2>
            <div class="form-row">
              <label class="field"><span>{ct.username}</span><input name="username" required autocapitalize="off" /></label>
              <label class="field"><span>{ct.displayName}</span><input name="displayName" /></label>
              <label class="field"><span>{ct.role}</span><select name="role" required>{Object.entries(roleLabels).map(([k, v]) => <option key={k} value={k}>{v}</option>)}</select></label>
              <label class="field"><span>{t.school}</span><select name="school"><option value="">—</option>{schools.data?.items.map((s) => <option key={s.id} value={s.code}>{s.name}</option>)}</select></label>
            </div>
            <button type="submit" class="button button--small">{ct.createUser}</button>
          </form>
          <ul class="item-list">
            {users.data?.items.map((u) => (
              <li key={u.id} class="item">
                <div class="item__head"><span class="item__title">{u.displayName}（{u.username}）</span>{u.disabled && <span class="state state--bad">{ct.disabled}</span>}</div>
                <p class="note">{labelOf(roleLabels, u.role, unknownCode.role)}{u.school ? ` · ${u.school.name}` : ''}</p>
                <div class="item__actions">
                  <button type="button" class="button button--small button--ghost" onClick={() => act(() => staff('setUser', { params: { id: u.id }, body: { disabled: !u.disabled } }), users.reload, undefined, u.disabled ? undefined : ct.disableConfirm(u.displayName))}>{u.disabled ? ct.enable : ct.disable}</button>
                  <button type="button" class="button button--small button--ghost" onClick={() => act(() => staff<{ password: string }>('resetPassword', { params: { id: u.id } }), users.reload, (r) => ct.newPassword((r as { password: string }).password), ct.resetConfirm(u.displayName))}>{ct.resetPassword}</button>
                  <button type="button" class="button button--small button--ghost" onClick={() => act(() => staff('revokeTokens', { params: { id: u.id } }), users.reload, undefined, ct.revokeConfirm(u.displayName))}>{ct.revokeTokens}</button>
                </div>
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}
