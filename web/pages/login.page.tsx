import { useState } from 'preact/hooks';
import { ApiError } from '../api/client.ts';
import { consoleOf, staff, type Role } from '../api/staff-client.ts';
import { ErrorNote } from '../components/error-note.tsx';
import { ct, t } from '../i18n/zh-CN.ts';

/** Where to go after signing in: back where the person was (only our own consoles), else their console. */
function destination(role: Role): string | undefined {
  const home = consoleOf(role);
  const next = new URLSearchParams(location.search).get('next') ?? '';
  if (home && next.startsWith(home) && !next.startsWith('//')) return next;
  return home;
}

/** Staff sign-in: a form with `username` and `password`; the session lives in an httpOnly cookie. */
export function Page() {
  const reason = new URLSearchParams(location.search).get('reason');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(reason === 'expired' ? ct.loginExpired : reason === 'role' ? ct.loginWrongRole : null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      const r = await staff<{ user: { role: Role } }>('login', { body: { username: String(f.get('username') ?? ''), password: String(f.get('password') ?? ''), session: 'cookie' } });
      const to = destination(r.user.role);
      if (!to) {
        setError(ct.noConsole);
        setBusy(false);
        return;
      }
      location.assign(to);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : t.networkError);
      setBusy(false);
    }
  };
  return (
    <section class="login card">
      <h1>{ct.loginTitle}</h1>
      {error && <ErrorNote message={error} />}
      <form method="post" action="/login" onSubmit={submit} class="form">
        <label class="field">
          <span>{ct.username}</span>
          <input name="username" autocomplete="username" required autocapitalize="off" spellcheck={false} />
        </label>
        <label class="field">
          <span>{ct.password}</span>
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit" class="button" disabled={busy}>{busy ? ct.loggingIn : ct.loginButton}</button>
      </form>
    </section>
  );
}
