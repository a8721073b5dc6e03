import type { ErrorCode } from '../../src/domain/error-codes.ts';
import { errorMessages, t } from '../i18n/zh-CN.ts';
import type { AnsweredQuestion, Facets, LessonDetail, LessonSummary, OnAirLesson, Page, ScheduleItem, Taxonomy } from './types.ts';

/** One call the pages make: method, OpenAPI path, and the query, body and response fields they use. */
export interface EndpointSpec {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  query?: readonly string[];
  body?: readonly string[];
  /** Fields the pages read from the answer (of each item when `list`). */
  reads?: readonly string[];
  list?: boolean;
}

/**
 * Every API call of the pages. test/integration/web-client.test.ts checks each against the served
 * OpenAPI document: the path and method exist, every query and body field is declared, every field
 * read is in the response schema.
 */
export const endpoints = {
  lessons: { method: 'get', path: '/api/v1/lessons', query: ['stage', 'grade', 'subject', 'type', 'edition', 'q', 'cursor', 'limit'], reads: ['id', 'title', 'kind', 'school', 'teacher', 'stage', 'grade', 'subject', 'type', 'edition', 'publishedAt', 'durationS', 'poster'], list: true },
  lesson: { method: 'get', path: '/api/v1/lessons/{id}', reads: ['id', 'title', 'description', 'kind', 'school', 'teacher', 'stage', 'grade', 'subject', 'type', 'edition', 'scheduledStart', 'scheduledEnd', 'publishedAt', 'durationS', 'poster', 'playback', 'storyboard', 'live'] },
  facets: { method: 'get', path: '/api/v1/facets', query: ['stage', 'grade', 'subject', 'type', 'edition', 'q'] },
  taxonomy: { method: 'get', path: '/api/v1/taxonomy' },
  live: { method: 'get', path: '/api/v1/live' },
  schedule: { method: 'get', path: '/api/v1/schedule', query: ['from', 'to', 'limit'], reads: ['lessonId', 'title', 'school', 'stage', 'grade', 'subject', 'teacher', 'start', 'end', 'state'], list: true },
  questions: { method: 'get', path: '/api/v1/questions', query: ['stage', 'subject', 'q', 'cursor', 'limit'], reads: ['id', 'stage', 'subject', 'lesson', 'text', 'displayName', 'images', 'createdAt', 'answers'], list: true },
  ask: { method: 'post', path: '/api/v1/questions', body: ['stage', 'subject', 'lessonId', 'text', 'displayName', 'images'] },
} as const satisfies Record<string, EndpointSpec>;

/** A refusal or failure of the API, with the Chinese message of its code for people. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network_error',
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | undefined>;

function url(path: string, query?: Query): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

function pathOf(spec: EndpointSpec, params: Record<string, string> = {}): string {
  return spec.path.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(params[k] ?? ''));
}

/** Chinese message for a problem code (unknown codes: a general one with the status). */
export function messageFor(code: string, status: number): string {
  return (errorMessages as Record<string, string>)[code] ?? `${t.requestFailed}（${status}）`;
}

/** One API call; `headers` adds request headers (the consoles' X-CSRF-Token). */
export async function call<T>(spec: EndpointSpec, o: { params?: Record<string, string>; query?: Query; body?: unknown; signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url(pathOf(spec, o.params), o.query), {
      method: spec.method.toUpperCase(),
      headers: { ...(o.body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' }), ...o.headers },
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      signal: o.signal,
      credentials: 'same-origin',
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', t.networkError);
  }
  if (res.ok) return (res.status === 204 ? undefined : await res.json()) as T;
  let code = 'internal_error';
  try {
    const p = (await res.json()) as { code?: string };
    if (p.code) code = p.code;
  } catch {
    /* not a problem document (a proxy's page) */
  }
  const retry = Number(res.headers.get('retry-after'));
  throw new ApiError(res.status, code as ErrorCode, messageFor(code, res.status), Number.isFinite(retry) && retry > 0 ? retry : undefined);
}

export interface LessonFilters {
  stage?: string;
  grade?: string;
  subject?: string;
  type?: string;
  edition?: string;
  q?: string;
}

/** The public API as the pages use it. */
export const api = {
  lessons: (f: LessonFilters, cursor?: string, limit = 12, signal?: AbortSignal) => call<Page<LessonSummary>>(endpoints.lessons, { query: { ...f, cursor, limit }, signal }),
  lesson: (id: string, signal?: AbortSignal) => call<LessonDetail>(endpoints.lesson, { params: { id }, signal }),
  facets: (f: LessonFilters, signal?: AbortSignal) => call<Facets>(endpoints.facets, { query: { ...f }, signal }),
  taxonomy: () => call<Taxonomy>(endpoints.taxonomy),
  live: () => call<{ items: OnAirLesson[] }>(endpoints.live),
  schedule: (from: string, to: string) => call<Page<ScheduleItem>>(endpoints.schedule, { query: { from, to, limit: 50 } }),
  questions: (f: { stage?: string; subject?: string; q?: string }, cursor?: string, limit = 10, signal?: AbortSignal) =>
    call<Page<AnsweredQuestion>>(endpoints.questions, { query: { ...f, cursor, limit }, signal }),
  ask: (body: { stage?: string; subject?: string; lessonId?: string; text: string; displayName: string; images?: string[] }) =>
    call<{ id: string }>(endpoints.ask, { body }),
};
