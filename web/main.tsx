import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import './styles/app.css';
import { interceptLinks, matchRoute, useLocation, type PageModule } from './router.ts';
import { SiteHeader } from './components/site-header.tsx';
import { SiteFooter } from './components/site-footer.tsx';
import { NotFound } from './components/not-found.tsx';
import { ErrorNote } from './components/error-note.tsx';
import { t } from './i18n/zh-CN.ts';

/** The student site's shell: header, the current page (loaded on first use), footer. */
function App() {
  const loc = useLocation();
  const m = matchRoute(loc.pathname);
  const [mod, setMod] = useState<{ pattern: string; page: PageModule } | null>(null);
  const [failed, setFailed] = useState(false);
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    if (!m) return;
    let live = true;
    setFailed(false);
    m.route.load().then(
      (page) => live && setMod({ pattern: m.route.pattern, page }),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [m?.route.pattern]);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    // a new page: start at its top, and let screen readers start there too
    main.current?.focus({ preventScroll: true });
  }, [loc.pathname]);
  const Page = mod && m && mod.pattern === m.route.pattern ? mod.page.Page : null;
  return (
    <>
      <SiteHeader path={loc.pathname} />
      <main id="main" class="page" tabIndex={-1} ref={main}>
        {!m ? <NotFound /> : failed ? <ErrorNote message={t.networkError} onRetry={() => location.reload()} /> : Page ? <Page key={loc.pathname} params={m.params} /> : <p class="muted">{t.loading}</p>}
      </main>
      <SiteFooter />
    </>
  );
}

const root = document.getElementById('app')!;
root.textContent = '';
interceptLinks(document.body);
render(<App />, root);
