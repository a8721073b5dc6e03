import { t } from '../i18n/zh-CN.ts';

export function SiteFooter() {
  return (
    <footer class="site-footer">
      <p>{t.siteName} · {t.footer}</p>
    </footer>
  );
}
