import type { PublicLesson } from '../../src/domain/public-lesson.ts';

/** Shapes of the public API's answers the pages read (checked against the OpenAPI document by test). */
export interface Term {
  code: string;
  label: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type LessonSummary = PublicLesson;

export interface LessonDetail extends LessonSummary {
  storyboard: { vtt: string } | null;
  live?: { onAir: boolean; hls: string | null };
}

export interface Facets {
  total: number;
  stage: (Term & { count: number })[];
  grade: (Term & { count: number })[];
  subject: (Term & { count: number })[];
  type: (Term & { count: number })[];
  edition: (Term & { count: number })[];
}

export interface Taxonomy {
  stages: Term[];
  grades: (Term & { stage: string })[];
  subjects: (Term & { stage?: string | null })[];
  types: (Term & { parent?: string | null })[];
  editions: Term[];
}

export interface OnAirLesson {
  id: string;
  title: string;
  school: string;
  teacher: string;
  stage: string;
  grade: string;
  subject: string;
  startedAt: string;
  reconnecting: boolean;
}

export interface ScheduleItem {
  lessonId: string;
  title: string;
  school: { code: string; name: string };
  stage: Term;
  grade: Term;
  subject: Term;
  teacher: { name: string };
  start: string;
  end: string;
  state: 'upcoming' | 'on_air' | 'ended';
}

export interface Answer {
  id: string;
  text: string;
  teacher: { name: string; school: string | null };
  createdAt: string;
}

export interface AnsweredQuestion {
  id: string;
  stage: Term;
  subject: Term;
  lesson: { id: string; title: string | null } | null;
  text: string;
  displayName: string;
  images: { url: string; type: string; width: number; height: number }[];
  createdAt: string;
  answers: Answer[];
}
