import { useEffect } from 'preact/hooks';
import { t } from '../i18n/zh-CN.ts';

export function useTitle(title: string | undefined): void {
  useEffect(() => {
    document.title = title ? `${title} - ${t.siteName}` : t.siteName;
  }, [title]);
}
