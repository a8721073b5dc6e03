import type { ScheduleItem } from '../api/types.ts';
import { t } from '../i18n/zh-CN.ts';
import { formatTime } from '../lib/format.ts';
import { LiveBadge } from './live-badge.tsx';

/** Today's live lessons from the published timetables, in time order. */
export function ScheduleList({ items }: { items: ScheduleItem[] }) {
  return (
    <ol class="schedule-list">
      {items.map((i) => (
        <li class="schedule-list__item">
          <span class="schedule-list__time">{formatTime(i.start)}–{formatTime(i.end)}</span>
          <span class="schedule-list__body">
            <a href={`/lessons/${i.lessonId}`}>{i.title}</a>
            <span class="muted"> {i.grade.label} · {i.subject.label} · {i.teacher.name} · {i.school.name}</span>
          </span>
          <span class="schedule-list__state">{i.state === 'on_air' ? <LiveBadge /> : i.state === 'ended' ? t.ended : t.upcoming}</span>
        </li>
      ))}
    </ol>
  );
}
