import type { OnAirLesson } from '../api/types.ts';
import { LiveBadge } from './live-badge.tsx';

/** Lessons on air now. */
export function OnAirList({ items }: { items: OnAirLesson[] }) {
  return (
    <ul class="on-air-list">
      {items.map((l) => (
        <li class="on-air-list__item">
          <LiveBadge reconnecting={l.reconnecting} />
          <a href={`/lessons/${l.id}`} class="on-air-list__title">{l.title}</a>
          <span class="muted">{l.teacher} · {l.school}</span>
        </li>
      ))}
    </ul>
  );
}
