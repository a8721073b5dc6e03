import type { FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** What a page module exports: one page component taking the path's parameters. */
export interface PageModule {
  Page: FunctionComponent<{ params: Record<string, string> }>;
}

export interface Route {
  /** Path pattern, `:name` for one segment. */
  pattern: string;
  load: () => Promise<PageModule>;
}

/**
 * The pages of this entry, each loaded on first use (its own chunk: the lesson page's player never
 * weighs on the others). The server answers the same paths with this entry's HTML
 * (src/api/web.routes.ts lists them too).
 */
export const routes: Route[] = [
  { pattern: '/', load: () => import('./pages/home.page.tsx') },
  { pattern: '/lessons', load: () => import('./pages/browse.page.tsx') },
  { pattern: '/lessons/:id', load: () => import('./pages/lesson.page.tsx') },
  { pattern: '/qa', load: () => import('./pages/qa.page.tsx') },
];

export function matchRoute(pathname: string): { route: Route; params: Record<string, string> } | undefined {
  const parts = pathname.replace(/\/+$/, '').split('/').filter(Boolean);
  for (const route of routes) {
    const want = route.pattern.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    const params: Record<string, string> = {};
    if (want.every((w, i) => (w.startsWith(':') ? ((params[w.slice(1)] = decodeURIComponent(parts[i])), true) : w === parts[i]))) return { route, params };
  }
  return undefined;
}

const changed = 'classcast:navigate';

/** Goes to a path of this site without reloading (`replace`: without a new history entry). */
export function navigate(href: string, o: { replace?: boolean; keepScroll?: boolean } = {}): void {
  const u = new URL(href, location.href);
  if (u.origin !== location.origin || !matchRoute(u.pathname)) {
    location.assign(u.toString());
    return;
  }
  if (o.replace) history.replaceState(null, '', u.toString());
  else history.pushState(null, '', u.toString());
  window.dispatchEvent(new CustomEvent(changed, { detail: { keepScroll: o.keepScroll === true } }));
}

/** The current location; re-renders on navigation and on the back and forward buttons. */
export function useLocation(): { pathname: string; search: string; key: number } {
  const [loc, setLoc] = useState({ pathname: location.pathname, search: location.search, key: 0 });
  useEffect(() => {
    const update = (): void => setLoc((l) => ({ pathname: location.pathname, search: location.search, key: l.key + 1 }));
    window.addEventListener('popstate', update);
    window.addEventListener(changed, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(changed, update);
    };
  }, []);
  return loc;
}

/** Same-site links whose path is one of ours navigate without a reload. */
export function interceptLinks(root: HTMLElement): void {
  root.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.('a');
    if (!a || a.target || a.hasAttribute('download') || !a.href) return;
    const u = new URL(a.href);
    if (u.origin !== location.origin || !matchRoute(u.pathname)) return;
    e.preventDefault();
    navigate(u.toString());
  });
}
