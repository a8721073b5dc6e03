import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api/client.ts';
import type { LessonDetail } from '../api/types.ts';
import { AskForm } from '../components/ask-form.tsx';
import { ErrorNote } from '../components/error-note.tsx';
import { LessonFacts } from '../components/lesson-facts.tsx';
import { LiveBadge } from '../components/live-badge.tsx';
import { NotFound } from '../components/not-found.tsx';
import { Player } from '../components/player.tsx';
import { QuestionList } from '../components/question-list.tsx';
import { t } from '../i18n/zh-CN.ts';
import { useApi } from '../lib/use-api.ts';
import { useTitle } from '../lib/use-title.ts';

/**
 * How often an open lesson page asks whether the lesson is still public (and whether a live one went
 * on air): a withdrawn lesson stops even when its whole length is already buffered. The catalog
 * answers these from its cache with 304s.
 */
const recheckMs = 15_000;
const retryLiveMs = 3_000;

/** One lesson, recorded or live: player, facts, description, related answered questions, 提问. */
export function Page({ params }: { params: Record<string, string> }) {
  const id = params.id;
  const first = useApi((signal) => api.lesson(id, signal), [id]);
  const [lesson, setLesson] = useState<LessonDetail | undefined>();
  const [gone, setGone] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const tax = useApi(() => api.taxonomy(), []);
  useEffect(() => setLesson(first.data), [first.data]);
  useTitle(lesson?.title);

  useEffect(() => {
    if (!lesson || gone) return;
    const timer = setInterval(() => {
      api.lesson(id).then(
        (l) => {
          // only what changes the player is taken over (a live lesson going on air or off)
          if (l.live?.hls !== lesson.live?.hls || l.playback?.hls !== lesson.playback?.hls) setLesson(l);
        },
        (err: unknown) => {
          if (err instanceof ApiError && err.status === 404) setGone(true);
        },
      );
    }, recheckMs);
    return () => clearInterval(timer);
  }, [lesson, gone, id]);

  // the gateway stopped serving: withdrawn or stopped for good, unless the catalog still lists the lesson
  // (a live session whose first segments are not written yet): then the player tries again
  const onGone = (): void => {
    api.lesson(id).then(
      (l) => {
        if (l.kind === 'live' && l.live?.hls) setTimeout(() => setAttempt((n) => n + 1), retryLiveMs);
        else setGone(true);
      },
      (err: unknown) => {
        if (err instanceof ApiError && err.status === 404) setGone(true);
        else setTimeout(() => setAttempt((n) => n + 1), retryLiveMs);
      },
    );
  };

  if (first.error?.status === 404) return <NotFound />;
  if (first.error) return <ErrorNote message={first.error.message} onRetry={first.reload} />;
  if (!lesson) return <p class="muted">{t.loading}</p>;
  const live = lesson.kind === 'live';
  const src = live ? lesson.live?.hls : lesson.playback?.hls;
  const storyboard = lesson.storyboard?.vtt;
  return (
    <article class="lesson">
      <div class="lesson__player">
        {gone ? (
          <p class="player-placeholder" role="alert">{live ? t.liveEnded : t.withdrawn}</p>
        ) : src ? (
          <Player key={`${src}#${attempt}`} src={src} live={live} poster={lesson.poster} storyboardUrl={storyboard} onGone={onGone} />
        ) : (
          <p class="player-placeholder" role="status">{t.liveNotStarted}</p>
        )}
      </div>
      <div class="lesson__body">
        <h1 class="lesson__title">
          {live && lesson.live?.onAir && !gone && <LiveBadge />} {lesson.title}
        </h1>
        <LessonFacts lesson={lesson} />
        {lesson.description && (
          <section aria-labelledby="desc-heading">
            <h2 id="desc-heading">{t.descriptionTitle}</h2>
            <p class="lesson__description">{lesson.description}</p>
          </section>
        )}
        <p>
          <a href={`/api/v1/schedule.ics?school=${encodeURIComponent(lesson.school.code)}`} download>{t.timetableIcs}</a>
        </p>
      </div>
      <div class="lesson__qa">
        <QuestionList stage={lesson.stage.code} subject={lesson.subject.code} pageSize={5} heading={t.questionsTitle} empty={t.questionsNone} />
        {tax.data && <AskForm tax={tax.data} stage={lesson.stage.code} subject={lesson.subject.code} lessonId={lesson.id} />}
      </div>
    </article>
  );
}
