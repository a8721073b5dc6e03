import type { LessonSummary } from '../api/types.ts';
import { LessonCard } from './lesson-card.tsx';

export function LessonGrid({ lessons, label }: { lessons: LessonSummary[]; label?: string }) {
  return (
    <ul class="lesson-grid" aria-label={label}>
      {lessons.map((l) => (
        <LessonCard key={l.id} lesson={l} />
      ))}
    </ul>
  );
}
