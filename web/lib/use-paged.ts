import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/client.ts';
import type { Page } from '../api/types.ts';
import { t } from '../i18n/zh-CN.ts';

export interface Paged<T> {
  items: T[];
  /** There is a next page (加载更多). */
  more: boolean;
  busy: boolean;
  error: string | null;
  loadMore: () => void;
  retry: () => void;
}

/** A cursor-paged list that starts over whenever `key` changes (new filters). */
export function usePaged<T>(key: string, fetchPage: (cursor: string | undefined, signal?: AbortSignal) => Promise<Page<T>>): Paged<T> {
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [busy, setBusy] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const load = async (cursor: string | undefined, signal?: AbortSignal): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const page = await fetchPage(cursor, signal);
      setItems((prev) => (cursor ? [...prev, ...page.items] : page.items));
      setNext(page.nextCursor);
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      setError(err instanceof ApiError ? err.message : t.networkError);
    }
    setBusy(false);
  };
  useEffect(() => {
    const ac = new AbortController();
    setItems([]);
    setNext(null);
    void load(undefined, ac.signal);
    return () => ac.abort();
  }, [key, attempt]);
  return { items, more: Boolean(next), busy, error, loadMore: () => next && void load(next), retry: () => setAttempt((x) => x + 1) };
}
