import type { LessonSummary } from '../api/types.ts';
import { durationText } from '../lib/format.ts';
import { LiveBadge } from './live-badge.tsx';

/** One lesson in a list: poster, title, subject and grade, teacher and school. Text only as text. */
export function LessonCard({ lesson, onAir = false }: { lesson: LessonSummary; onAir?: boolean }) {
  const d = durationText(lesson.durationS);
  return (
    <li class="lesson-card">
      <a href={`/lessons/${lesson.id}`} class="lesson-card__link">
        <div class="lesson-card__poster">
          {lesson.poster ? <img src={lesson.poster} alt="" loading="lazy" decoding="async" width={320} height={180} /> : <span class="lesson-card__placeholder" aria-hidden="true">{lesson.subject.label}</span>}
          {onAir && <LiveBadge />}
          {d && <span class="lesson-card__duration">{d}</span>}
        </div>
        <h3 class="lesson-card__title">{lesson.title}</h3>
      </a>
      <p class="lesson-card__meta">
        {lesson.grade.label} · {lesson.subject.label} · {lesson.edition.label}
      </p>
      <p class="lesson-card__meta">
        {lesson.teacher.name} · {lesson.school.name}
      </p>
    </li>
  );
}
