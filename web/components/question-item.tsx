import type { AnsweredQuestion } from '../api/types.ts';
import { t } from '../i18n/zh-CN.ts';
import { formatDate } from '../lib/format.ts';

/** An answered question with its answers. Every text is rendered as text (never as HTML). */
export function QuestionItem({ q }: { q: AnsweredQuestion }) {
  return (
    <li class="question">
      <p class="question__meta">
        <span class="tag">{q.stage.label} · {q.subject.label}</span> {t.askedBy(q.displayName)} · {formatDate(q.createdAt)}
      </p>
      <p class="question__text">{q.text}</p>
      {q.images.length > 0 && (
        <div class="question__images">
          {q.images.map((img) => (
            <a href={img.url} target="_blank" rel="noopener">
              <img src={img.url} alt="" loading="lazy" width={img.width} height={img.height} />
            </a>
          ))}
        </div>
      )}
      {q.lesson?.title && (
        <p class="question__lesson">
          <a href={`/lessons/${q.lesson.id}`}>{t.lessonLink(q.lesson.title)}</a>
        </p>
      )}
      {q.answers.map((a) => (
        <div class="answer">
          <p class="answer__meta">{t.answeredBy(a.teacher.name, a.teacher.school)} · {formatDate(a.createdAt)}</p>
          <p class="answer__text">{a.text}</p>
        </div>
      ))}
    </li>
  );
}
