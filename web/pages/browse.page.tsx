import { api, type LessonFilters } from '../api/client.ts';
import { ErrorNote } from '../components/error-note.tsx';
import { FacetGroup } from '../components/facet-group.tsx';
import { LessonGrid } from '../components/lesson-grid.tsx';
import { LoadMore } from '../components/load-more.tsx';
import { SearchBox } from '../components/search-box.tsx';
import { t } from '../i18n/zh-CN.ts';
import { filtersHref, readFilters } from '../lib/query-state.ts';
import { useApi } from '../lib/use-api.ts';
import { usePaged } from '../lib/use-paged.ts';
import { useTitle } from '../lib/use-title.ts';
import { navigate, useLocation } from '../router.ts';

/**
 * Browse: 学段 then 年级, 学科, 类型, 教材版本 with counts, Chinese search, 加载更多. The filters live
 * in the query string: back, reload and a shared link show the same lessons.
 */
export function Page() {
  const loc = useLocation();
  const f = readFilters(loc.search);
  const key = filtersHref(f);
  useTitle(f.q ? t.searchFor(f.q) : t.navBrowse);
  const tax = useApi(() => api.taxonomy(), []);
  const facets = useApi((signal) => api.facets(f, signal), [key]);
  const list = usePaged(key, (cursor, signal) => api.lessons(f, cursor, 12, signal));

  const set = (change: Partial<LessonFilters>): void => {
    const nf = { ...f, ...change };
    // a grade belongs to one stage: changing the stage clears it
    if ('stage' in change) nf.grade = undefined;
    navigate(filtersHref(nf), { keepScroll: true });
  };
  const fc = facets.data;
  const grades = fc?.grade.filter((g) => tax.data?.grades.find((x) => x.code === g.code)?.stage === f.stage) ?? [];
  const anyFilter = Object.values(f).some(Boolean);
  return (
    <>
      <h1>{f.q ? t.searchFor(f.q) : t.navBrowse}</h1>
      <SearchBox key={f.q ?? ''} initial={f.q ?? ''} onSearch={(q) => set({ q: q || undefined })} />
      <div class="filters">
        <FacetGroup title={t.filterStage} options={fc?.stage ?? []} value={f.stage} onChange={(stage) => set({ stage })} />
        {f.stage && <FacetGroup title={t.filterGrade} options={grades} value={f.grade} onChange={(grade) => set({ grade })} />}
        <FacetGroup title={t.filterSubject} options={fc?.subject ?? []} value={f.subject} onChange={(subject) => set({ subject })} />
        <FacetGroup title={t.filterType} options={fc?.type ?? []} value={f.type} onChange={(type) => set({ type })} />
        <FacetGroup title={t.filterEdition} options={fc?.edition ?? []} value={f.edition} onChange={(edition) => set({ edition })} />
        {anyFilter && (
          <p>
            <a href="/lessons" class="button button--ghost">{t.filterClear}</a>
          </p>
        )}
      </div>
      <p class="result-count" role="status">{fc ? t.resultCount(fc.total) : ''}</p>
      {list.error && <ErrorNote message={list.error} onRetry={list.retry} />}
      {!list.busy && !list.error && list.items.length === 0 && <p class="muted">{t.noResults}</p>}
      <LessonGrid lessons={list.items} label={t.navBrowse} />
      {list.busy && list.items.length === 0 && !list.error && <p class="muted">{t.loading}</p>}
      {list.more && <LoadMore busy={list.busy} onClick={list.loadMore} />}
    </>
  );
}
