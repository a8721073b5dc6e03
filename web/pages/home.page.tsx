import { api } from '../api/client.ts';
import { ErrorNote } from '../components/error-note.tsx';
import { LessonGrid } from '../components/lesson-grid.tsx';
import { OnAirList } from '../components/on-air-list.tsx';
import { ScheduleList } from '../components/schedule-list.tsx';
import { SearchBox } from '../components/search-box.tsx';
import { t } from '../i18n/zh-CN.ts';
import { todayRange } from '../lib/format.ts';
import { filtersHref } from '../lib/query-state.ts';
import { useApi } from '../lib/use-api.ts';
import { useTitle } from '../lib/use-title.ts';
import { navigate } from '../router.ts';

/** Home: 直播中 now, today's live lessons, the newest lessons, and a search box. */
export function Page() {
  useTitle(undefined);
  const live = useApi(() => api.live(), []);
  const today = useApi(() => {
    const r = todayRange();
    return api.schedule(r.from, r.to);
  }, []);
  const newest = useApi((signal) => api.lessons({}, undefined, 8, signal), []);
  return (
    <>
      <section class="hero">
        <h1>{t.siteName}</h1>
        <p class="muted">{t.siteTagline}</p>
        <SearchBox onSearch={(q) => navigate(filtersHref({ q: q || undefined }))} />
      </section>
      <section aria-labelledby="on-air-heading">
        <h2 id="on-air-heading">{t.onAirTitle}</h2>
        {live.error ? <ErrorNote message={live.error.message} onRetry={live.reload} /> : live.data && (live.data.items.length ? <OnAirList items={live.data.items} /> : <p class="muted">{t.onAirNone}</p>)}
      </section>
      <section aria-labelledby="today-heading">
        <h2 id="today-heading">{t.todayTitle}</h2>
        {today.error ? <ErrorNote message={today.error.message} onRetry={today.reload} /> : today.data && (today.data.items.length ? <ScheduleList items={today.data.items} /> : <p class="muted">{t.todayNone}</p>)}
      </section>
      <section aria-labelledby="newest-heading">
        <h2 id="newest-heading">
          {t.newestTitle} <a class="section-link" href="/lessons">{t.browseAll}</a>
        </h2>
        {newest.error ? <ErrorNote message={newest.error.message} onRetry={newest.reload} /> : newest.data && (newest.data.items.length ? <LessonGrid lessons={newest.data.items} /> : <p class="muted">{t.newestNone}</p>)}
        {newest.loading && !newest.data && <p class="muted">{t.loading}</p>}
      </section>
    </>
  );
}
