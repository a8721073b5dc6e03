import { t } from '../i18n/zh-CN.ts';

const links = [
  { href: '/', label: t.navHome, active: (p: string) => p === '/' },
  { href: '/lessons', label: t.navBrowse, active: (p: string) => p.startsWith('/lessons') },
  { href: '/qa', label: t.navQa, active: (p: string) => p.startsWith('/qa') },
];

/** Site name and the three sections; the current one is marked for screen readers too. */
export function SiteHeader({ path }: { path: string }) {
  return (
    <>
      <a class="skip-link" href="#main">{t.skipToContent}</a>
      <header class="site-header">
        <div class="site-header__inner">
          <a class="site-header__brand" href="/">{t.siteName}</a>
          <nav class="site-nav" aria-label={t.navLabel}>
            {links.map((l) => (
              <a href={l.href} aria-current={l.active(path) ? 'page' : undefined}>{l.label}</a>
            ))}
          </nav>
        </div>
      </header>
    </>
  );
}
