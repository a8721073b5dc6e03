import { t } from '../i18n/zh-CN.ts';

/** A failure said in Chinese, with a retry when one makes sense. */
export function ErrorNote({ message, onRetry }: { message: string; onRetry?: () => void }) {
  return (
    <div class="error-note" role="alert">
      <p>{message}</p>
      {onRetry && <button type="button" class="button button--ghost" onClick={onRetry}>{t.retry}</button>}
    </div>
  );
}
