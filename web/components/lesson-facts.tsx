import type { LessonDetail } from '../api/types.ts';
import { t } from '../i18n/zh-CN.ts';
import { durationText, formatDate, formatDateTime } from '../lib/format.ts';

/** Who teaches, where, and for whom: a definition list. */
export function LessonFacts({ lesson }: { lesson: LessonDetail }) {
  const rows: [string, string | null][] = [
    [t.teacher, lesson.teacher.name],
    [t.school, lesson.school.name],
    [t.stage, lesson.stage.label],
    [t.grade, lesson.grade.label],
    [t.subject, lesson.subject.label],
    [t.type, lesson.type.label],
    [t.edition, lesson.edition.label],
    [t.duration, durationText(lesson.durationS)],
    [t.scheduledAt, lesson.kind === 'live' && lesson.scheduledStart ? formatDateTime(lesson.scheduledStart) : null],
    [t.publishedAt, lesson.kind === 'recorded' && lesson.publishedAt ? formatDate(lesson.publishedAt) : null],
  ];
  return (
    <dl class="lesson-facts">
      {rows.filter(([, v]) => v).map(([k, v]) => (
        <div>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
