import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/client.ts';
import { t } from '../i18n/zh-CN.ts';

export interface Loaded<T> {
  data?: T;
  error?: ApiError;
  loading: boolean;
  reload: () => void;
}

/** Loads from the API when `deps` change; an older answer never overwrites a newer one. */
export function useApi<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    const ac = new AbortController();
    setState((s) => ({ ...s, loading: true, error: undefined }));
    load(ac.signal).then(
      (data) => !ac.signal.aborted && setState({ data, loading: false }),
      (err: unknown) => {
        if (ac.signal.aborted) return;
        setState({ loading: false, error: err instanceof ApiError ? err : new ApiError(0, 'network_error', t.networkError) });
      },
    );
    return () => ac.abort();
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}
