import { useEffect } from 'preact/hooks';
import { t } from '../i18n/zh-CN.ts';

/** The not-found message inside the site (the server sends the same words with HTTP 404). */
export function NotFound() {
  useEffect(() => {
    document.title = `${t.notFoundTitle} - ${t.siteName}`;
  }, []);
  return (
    <section class="not-found">
      <h1>{t.notFoundTitle}</h1>
      <p>{t.notFoundText}</p>
      <p>
        <a class="button" href="/">{t.backHome}</a> <a class="button button--ghost" href="/lessons">{t.browseAll}</a>
      </p>
    </section>
  );
}
