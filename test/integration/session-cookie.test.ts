import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';

let ts: TestSystem;
beforeAll(async () => {
  ts = await startTestSystem({ api: true });
});
afterAll(async () => {
  await ts?.stop();
});

/** Logs a user in the way the consoles do; returns the cookie header to send back and the CSRF value. */
async function consoleLogin(key: keyof TestSystem['users'], headers: Record<string, string> = {}): Promise<{ cookie: string; setCookie: string; csrf: string; body: any }> {
  const u = ts.users[key];
  const r = await ts.api('POST', '/api/v1/auth/login', { body: { username: u.username, password: u.password, session: 'cookie' }, headers });
  expect(r.status).toBe(200);
  const setCookie = r.headers.get('set-cookie') ?? '';
  const m = /cc_session=([^;]+)/.exec(setCookie);
  expect(m).not.toBeNull();
  return { cookie: `cc_session=${m![1]}`, setCookie, csrf: r.body.csrfToken, body: r.body };
}

const lessonCount = async (): Promise<number> => Number((await ts.sys.db.query<{ n: number }>('SELECT count(*)::int n FROM lessons'))[0].n);

describe('session cookie', () => {
  it('when a console logs in, then an httpOnly SameSite=Strict cookie carries the session and the answer holds no token', async () => {
    const s = await consoleLogin('teacherA');
    expect(s.setCookie).toMatch(/HttpOnly/i);
    expect(s.setCookie).toMatch(/SameSite=Strict/i);
    expect(s.setCookie).toMatch(/Path=\//);
    expect(s.setCookie).not.toMatch(/Secure/i);
    expect(s.body.token).toBeUndefined();
    expect(s.body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const me = await ts.api('GET', '/api/v1/auth/me', { headers: { cookie: s.cookie } });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ username: ts.users.teacherA.username, role: 'teacher', displayName: 'teacherA', school: { code: ts.schools.A, name: '甲小学' }, csrfToken: s.csrf });
    expect(me.headers.get('cache-control')).toBe('no-store');
  });

  it('when the login came through an HTTPS proxy, then the cookie is Secure', async () => {
    const s = await consoleLogin('reviewerA', { 'x-forwarded-proto': 'https' });
    expect(s.setCookie).toMatch(/;\s*Secure/i);
  });

  it('when an API client logs in without asking for the cookie alone, then it still gets its bearer token, which needs no CSRF header', async () => {
    const u = ts.users.teacherA;
    const r = await ts.api('POST', '/api/v1/auth/login', { body: { username: u.username, password: u.password } });
    expect(r.body.token).toMatch(/^cc_/);
    const c = await ts.api('POST', '/api/v1/lessons', { token: r.body.token, body: lessonBody() });
    expect(c.status).toBe(201);
  });

  it('when a state-changing request rides on the cookie, then it needs the session\'s X-CSRF-Token and our own origin', async () => {
    const s = await consoleLogin('teacherA');
    const before = await lessonCount();
    const none = await ts.api('POST', '/api/v1/lessons', { headers: { cookie: s.cookie }, body: lessonBody() });
    expect(none.status).toBe(403);
    expect(none.body.detail).toMatch(/X-CSRF-Token/);
    const other = await consoleLogin('teacherA2');
    const wrong = await ts.api('POST', '/api/v1/lessons', { headers: { cookie: s.cookie, 'x-csrf-token': other.csrf }, body: lessonBody() });
    expect(wrong.status).toBe(403);
    const foreign = await ts.api('POST', '/api/v1/lessons', { headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, origin: 'http://evil.example' }, body: lessonBody() });
    expect(foreign.status).toBe(403);
    const crossSite = await ts.api('POST', '/api/v1/lessons', { headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, 'sec-fetch-site': 'cross-site' }, body: lessonBody() });
    expect(crossSite.status).toBe(403);
    expect(await lessonCount()).toBe(before);
    const own = await ts.api('POST', '/api/v1/lessons', { headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, origin: ts.url, 'sec-fetch-site': 'same-origin' }, body: lessonBody() });
    expect(own.status).toBe(201);
    expect(await lessonCount()).toBe(before + 1);
  });

  it('when another site posts a form carrying the cookie, then it is refused and nothing changes', async () => {
    const s = await consoleLogin('reviewerA');
    const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ kind: 'live', type: 'live', scheduledStart: new Date(Date.now() + 3600_000).toISOString(), scheduledEnd: new Date(Date.now() + 7200_000).toISOString() }) });
    const form = await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, {
      headers: { cookie: s.cookie, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'application/x-www-form-urlencoded' },
      raw: 'decision=approve',
    });
    expect(form.status).toBe(403);
    const after = await ts.api('GET', `/api/v1/lessons/${c.body.id}`, { token: ts.users.teacherA.token });
    expect(after.body.status).toBe('scheduled');
  });

  it('when a login form is posted from another site, then it is refused without signing anyone in', async () => {
    const u = ts.users.teacherA;
    const r = await ts.api('POST', '/api/v1/auth/login', { body: { username: u.username, password: u.password }, headers: { origin: 'http://evil.example' } });
    expect(r.status).toBe(403);
    expect(r.headers.get('set-cookie')).toBeNull();
  });

  it('when the session logs out, then the cookie is cleared and the token behind it is revoked', async () => {
    const s = await consoleLogin('operator');
    expect((await ts.api('POST', '/api/v1/auth/logout', { headers: { cookie: s.cookie } })).status).toBe(403);
    const out = await ts.api('POST', '/api/v1/auth/logout', { headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/cc_session=;.*Expires=Thu, 01 Jan 1970/);
    expect((await ts.api('GET', '/api/v1/auth/me', { headers: { cookie: s.cookie } })).status).toBe(401);
  });

  it('when a request carries both a bearer token and a cookie, then the bearer token decides', async () => {
    const s = await consoleLogin('teacherA');
    const me = await ts.api('GET', '/api/v1/auth/me', { token: ts.users.operator.token, headers: { cookie: s.cookie } });
    expect(me.body.role).toBe('operator');
    expect(me.body.csrfToken).toBeNull();
    const bad = await ts.api('GET', '/api/v1/auth/me', { headers: { cookie: s.cookie, authorization: 'Bearer nonsense' } });
    expect(bad.status).toBe(401);
  });
});

describe('queue dashboard', () => {
  it('when an operator\'s session opens /ops/queues, then the board answers under a strict CSP; a teacher or nobody gets the login page', async () => {
    const op = await consoleLogin('operator');
    const html = { accept: 'text/html' };
    const board = await fetch(`${ts.url}/ops/queues/`, { headers: { ...html, cookie: op.cookie }, redirect: 'manual' });
    expect(board.status).toBe(200);
    expect(await board.text()).toContain('__UI_CONFIG__');
    expect(board.headers.get('content-security-policy')).toContain("script-src 'self'");
    const queues = await fetch(`${ts.url}/ops/queues/api/queues`, { headers: { cookie: op.cookie } });
    expect(queues.status).toBe(200);
    expect(JSON.stringify(await queues.json())).toContain('transcode');
    const teacher = await consoleLogin('teacherA');
    const t = await fetch(`${ts.url}/ops/queues/`, { headers: { ...html, cookie: teacher.cookie }, redirect: 'manual' });
    expect(t.status).toBe(303);
    expect(t.headers.get('location')).toBe('/login?next=%2Fops%2Fqueues%2F&reason=role');
    expect((await fetch(`${ts.url}/ops/queues/api/queues`, { headers: { cookie: teacher.cookie } })).status).toBe(403);
    const anon = await fetch(`${ts.url}/ops/queues/`, { headers: html, redirect: 'manual' });
    expect(anon.status).toBe(303);
    expect((await fetch(`${ts.url}/ops/queues/api/queues`)).status).toBe(401);
    const forged = await fetch(`${ts.url}/ops/queues/api/queues/transcode/pause`, { method: 'PUT', headers: { cookie: op.cookie, origin: 'http://evil.example' } });
    expect(forged.status).toBe(403);
  });
});
