import { staff } from '../api/staff-client.ts';
import type { ScheduleItem } from '../api/types.ts';
import { useApi } from '../lib/use-api.ts';
import { ErrorNote } from './error-note.tsx';
import { ct, t } from '../i18n/zh-CN.ts';

const when = (iso: string): string => new Date(iso).toLocaleString('zh-CN', { month: 'numeric', day: 'numeric', weekday: 'short', hour: '2-digit', minute: '2-digit' });

/** The school's timetable entries of the coming two weeks. */
export function SchoolSchedule({ school }: { school: string }) {
  const from = new Date(Date.now() - 86_400_000).toISOString();
  const to = new Date(Date.now() + 14 * 86_400_000).toISOString();
  const s = useApi(() => staff<{ items: ScheduleItem[] }>('schedule', { query: { school, from, to, limit: 100 } }), [school]);
  if (s.error) return <ErrorNote message={s.error.message} onRetry={s.reload} />;
  if (!s.data) return <p class="muted">{t.loading}</p>;
  if (!s.data.items.length) return <p class="muted">{ct.noTimetable}</p>;
  return (
    <ul class="schedule-list">
      {s.data.items.map((i) => (
        <li key={i.lessonId} class="schedule-list__item">
          <span class="schedule-list__time">{when(i.start)}</span>
          <span class="schedule-list__body">{i.title}</span>
        </li>
      ))}
    </ul>
  );
}
