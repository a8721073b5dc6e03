import { t } from '../i18n/zh-CN.ts';

/** 加载更多: the next page of a cursor-paged list. */
export function LoadMore({ busy, onClick }: { busy: boolean; onClick: () => void }) {
  return (
    <p class="load-more">
      <button type="button" class="button button--ghost" disabled={busy} aria-busy={busy} onClick={onClick}>
        {busy ? t.loading : t.loadMore}
      </button>
    </p>
  );
}
