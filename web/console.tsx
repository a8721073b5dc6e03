import { render, type FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles/app.css';
import './styles/console.css';
import { setCsrf, staff, toLogin, type Me } from './api/staff-client.ts';
import { ErrorNote } from './components/error-note.tsx';
import { ConsoleHeader } from './components/console-header.tsx';
import { ApiError } from './api/client.ts';
import { ct, t } from './i18n/zh-CN.ts';

type ConsolePage = FunctionComponent<{ me: Me }>;

/** The consoles and the roles that may open each; every other role is sent to the login. */
const consoles: Record<string, { roles: string[]; title: string; load: () => Promise<{ Page: ConsolePage }> }> = {
  '/teach': { roles: ['teacher'], title: ct.teachTitle, load: () => import('./pages/teach.page.tsx') },
  '/review': { roles: ['reviewer'], title: ct.reviewTitle, load: () => import('./pages/review.page.tsx') },
  '/ops': { roles: ['operator', 'admin'], title: ct.opsTitle, load: () => import('./pages/ops.page.tsx') },
};

function Console({ path }: { path: string }) {
  const entry = consoles[path];
  const [me, setMe] = useState<Me | null>(null);
  const [Page, setPage] = useState<ConsolePage | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    // who is signed in decides before any data is asked for
    staff<Me>('me').then(
      async (m) => {
        if (!live) return;
        if (!entry.roles.includes(m.role)) return toLogin('role');
        setCsrf(m.csrfToken);
        setMe(m);
        const mod = await entry.load();
        if (live) setPage(() => mod.Page);
      },
      (err: unknown) => live && !(err instanceof ApiError && err.status === 401) && setError(err instanceof ApiError ? err.message : t.networkError),
    );
    return () => {
      live = false;
    };
  }, [path]);
  useEffect(() => {
    document.title = `${entry.title} · ${t.siteName}`;
  }, [path]);
  return (
    <>
      <ConsoleHeader me={me} title={entry.title} />
      <main id="main" class="page console">
        {error && <ErrorNote message={error} onRetry={() => location.reload()} />}
        {!me && !error && <p class="muted">{t.loading}</p>}
        {me && Page && <Page me={me} />}
      </main>
    </>
  );
}

function Root() {
  const path = location.pathname.replace(/\/+$/, '') || '/';
  if (path === '/login') return <LoginRoot />;
  const base = Object.keys(consoles).find((k) => path === k || path.startsWith(`${k}/`));
  if (!base) return <LoginRoot />;
  return <Console path={base} />;
}

function LoginRoot() {
  const [Page, setPage] = useState<FunctionComponent | null>(null);
  useEffect(() => {
    document.title = `${ct.loginTitle} · ${t.siteName}`;
    void import('./pages/login.page.tsx').then((m) => setPage(() => m.Page));
  }, []);
  return (
    <>
      <ConsoleHeader me={null} title={ct.loginTitle} />
      <main id="main" class="page console">{Page ? <Page /> : <p class="muted">{t.loading}</p>}</main>
    </>
  );
}

render(<Root />, document.getElementById('app')!);
