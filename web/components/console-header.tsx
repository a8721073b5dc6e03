import { setCsrf, staff, type Me } from '../api/staff-client.ts';
import { ct, t } from '../i18n/zh-CN.ts';

/** The consoles' top bar: where you are, who is signed in, and signing out. */
export function ConsoleHeader({ me, title }: { me: Me | null; title: string }) {
  const logout = async () => {
    await staff('logout').catch(() => undefined);
    setCsrf(null);
    location.assign('/login');
  };
  return (
    <header class="site-header console-header">
      <a class="skip-link" href="#main">{t.skipToContent}</a>
      <div class="site-header__inner">
        <span class="site-header__brand">{title}</span>
        {me && <span class="console-user">{ct.signedInAs(me.displayName, me.school?.name ?? null)}</span>}
        {me && <button type="button" class="button button--ghost button--small" onClick={logout}>{ct.logout}</button>}
      </div>
    </header>
  );
}
