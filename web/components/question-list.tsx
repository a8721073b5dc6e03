import { api } from '../api/client.ts';
import { t } from '../i18n/zh-CN.ts';
import { usePaged } from '../lib/use-paged.ts';
import { ErrorNote } from './error-note.tsx';
import { LoadMore } from './load-more.tsx';
import { QuestionItem } from './question-item.tsx';

/** Answered questions of a stage, subject and search, newest first, with 加载更多. */
export function QuestionList({ stage, subject, q, pageSize = 10, heading, empty = t.qaNone }: { stage?: string; subject?: string; q?: string; pageSize?: number; heading: string; empty?: string }) {
  const list = usePaged(JSON.stringify([stage, subject, q]), (cursor, signal) => api.questions({ stage, subject, q }, cursor, pageSize, signal));
  return (
    <section class="questions" aria-labelledby="questions-heading">
      <h2 id="questions-heading">{heading}</h2>
      {list.error && <ErrorNote message={list.error} onRetry={list.retry} />}
      {!list.error && !list.busy && list.items.length === 0 && <p class="muted">{empty}</p>}
      <ul class="question-list">
        {list.items.map((item) => <QuestionItem key={item.id} q={item} />)}
      </ul>
      {list.busy && list.items.length === 0 && !list.error && <p class="muted">{t.loading}</p>}
      {list.more && <LoadMore busy={list.busy} onClick={list.loadMore} />}
    </section>
  );
}
