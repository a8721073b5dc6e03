import { ApiError, call, type EndpointSpec } from './client.ts';

/** Every API call of the staff consoles (checked against the OpenAPI document like the public ones). */
export const staffEndpoints = {
  login: { method: 'post', path: '/api/v1/auth/login', body: ['username', 'password', 'session'], reads: ['csrfToken', 'user'] },
  me: { method: 'get', path: '/api/v1/auth/me' },
  logout: { method: 'post', path: '/api/v1/auth/logout' },
  myLessons: { method: 'get', path: '/api/v1/staff/lessons', query: ['status', 'limit'] },
  lesson: { method: 'get', path: '/api/v1/lessons/{id}' },
  createLesson: { method: 'post', path: '/api/v1/lessons', body: ['title', 'description', 'kind', 'stage', 'grade', 'subject', 'type', 'edition', 'scheduledStart', 'scheduledEnd'] },
  editLesson: { method: 'patch', path: '/api/v1/lessons/{id}', body: ['title', 'description', 'stage', 'grade', 'subject', 'type', 'edition', 'scheduledStart', 'scheduledEnd'] },
  lessonEdits: { method: 'get', path: '/api/v1/lessons/{id}/edits' },
  startUpload: { method: 'post', path: '/api/v1/lessons/{id}/uploads', body: ['filename', 'size', 'contentType'] },
  uploadState: { method: 'get', path: '/api/v1/lessons/{id}/uploads/{uploadId}' },
  completeUpload: { method: 'post', path: '/api/v1/lessons/{id}/uploads/{uploadId}/complete' },
  liveKey: { method: 'post', path: '/api/v1/lessons/{id}/live' },
  rotateKey: { method: 'post', path: '/api/v1/lessons/{id}/live/rotate-key' },
  liveStatus: { method: 'get', path: '/api/v1/lessons/{id}/live/status' },
  stopLive: { method: 'post', path: '/api/v1/lessons/{id}/live/stop', body: ['reason'] },
  staffQuestions: { method: 'get', path: '/api/v1/staff/questions' },
  answer: { method: 'post', path: '/api/v1/questions/{id}/answers', body: ['text'] },
  timetables: { method: 'get', path: '/api/v1/timetables', query: ['school', 'limit'] },
  timetable: { method: 'get', path: '/api/v1/timetables/{id}' },
  timetableVersions: { method: 'get', path: '/api/v1/timetables/{id}/versions' },
  reviewQueue: { method: 'get', path: '/api/v1/review/queue' },
  review: { method: 'post', path: '/api/v1/lessons/{id}/review', body: ['decision', 'reason'] },
  decisions: { method: 'get', path: '/api/v1/review/decisions', query: ['before', 'limit'] },
  onAir: { method: 'get', path: '/api/v1/live' },
  pendingEdits: { method: 'get', path: '/api/v1/review/edits' },
  reviewEdit: { method: 'post', path: '/api/v1/lesson-edits/{id}/review', body: ['decision', 'reason'] },
  audit: { method: 'get', path: '/api/v1/audit', query: ['entity', 'entityId', 'actor', 'action', 'from', 'to', 'before', 'limit'] },
  publish: { method: 'post', path: '/api/v1/lessons/{id}/publications', body: ['channel'] },
  withdraw: { method: 'delete', path: '/api/v1/lessons/{id}/publications/{channel}', body: ['reason'] },
  cablePackages: { method: 'get', path: '/api/v1/cable/packages' },
  lateTimetables: { method: 'get', path: '/api/v1/reports/late-timetables' },
  capacity: { method: 'get', path: '/api/v1/ops/capacity' },
  liveCapacityReport: { method: 'get', path: '/api/v1/reports/live-capacity' },
  taxonomy: { method: 'get', path: '/api/v1/taxonomy' },
  addTaxonomy: { method: 'post', path: '/api/v1/taxonomy/{kind}', body: ['code', 'label', 'stage'] },
  adminSchools: { method: 'get', path: '/api/v1/admin/schools' },
  createSchool: { method: 'post', path: '/api/v1/admin/schools', body: ['code', 'name', 'stage', 'district', 'districtName'] },
  setSchool: { method: 'patch', path: '/api/v1/admin/schools/{id}', body: ['disabled'] },
  adminUsers: { method: 'get', path: '/api/v1/admin/users', query: ['school', 'role', 'q', 'limit'] },
  createUser: { method: 'post', path: '/api/v1/admin/users', body: ['username', 'role', 'displayName', 'school', 'district'] },
  setUser: { method: 'patch', path: '/api/v1/admin/users/{id}', body: ['disabled'] },
  resetPassword: { method: 'post', path: '/api/v1/admin/users/{id}/password' },
  revokeTokens: { method: 'post', path: '/api/v1/admin/users/{id}/revoke-tokens' },
} as const satisfies Record<string, EndpointSpec>;

export type Role = 'teacher' | 'reviewer' | 'operator' | 'admin' | 'district_admin' | 'cable';

export interface Me {
  userId: string;
  username: string;
  displayName: string;
  role: Role;
  school: { id: string; code: string; name: string; stage: string } | null;
  csrfToken: string | null;
}

/** The console a role works in (none for roles without one). */
export const consoleOf = (role: Role): string | undefined =>
  ({ teacher: '/teach', reviewer: '/review', operator: '/ops', admin: '/ops' } as Partial<Record<Role, string>>)[role];

let csrf = '';
/** The session's anti-forgery value, sent with every state-changing call. */
export const setCsrf = (v: string | null): void => {
  csrf = v ?? '';
};
export const csrfHeader = (): Record<string, string> => (csrf ? { 'x-csrf-token': csrf } : {});

/** The login page, remembering where the person was. */
export function toLogin(reason?: 'expired' | 'role'): void {
  const next = location.pathname + location.search;
  const q = new URLSearchParams({ next });
  if (reason) q.set('reason', reason);
  location.assign(`/login?${q.toString()}`);
}

type Opts = { params?: Record<string, string>; query?: Record<string, string | number | undefined>; body?: unknown; signal?: AbortSignal };

/** A console call: CSRF header on writes; an expired session goes to the login and back. */
export async function staff<T>(name: keyof typeof staffEndpoints, o: Opts = {}): Promise<T> {
  const spec = staffEndpoints[name];
  try {
    return await call<T>(spec, { ...o, headers: spec.method === 'get' ? {} : csrfHeader() });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && name !== 'login') toLogin('expired');
    throw err;
  }
}
