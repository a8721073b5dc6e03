import { t } from '../i18n/zh-CN.ts';

export function LiveBadge({ reconnecting = false }: { reconnecting?: boolean }) {
  return <span class={`live-badge${reconnecting ? ' live-badge--waiting' : ''}`}>{reconnecting ? t.reconnecting : t.liveBadge}</span>;
}
