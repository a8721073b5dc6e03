import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../helpers/system.ts';
import { createLogger } from '../../src/infra/logger.ts';

let ts: TestSystem;
beforeAll(async () => {
  ts = await startTestSystem({ api: true }, { AUTH_LOGIN_MAX_FAILURES: '3', AUTH_LOGIN_WINDOW_S: '60' });
});
afterAll(async () => {
  await ts?.stop();
});

describe('login and tokens', () => {
  it('when the password is right, then a token works and logout revokes it', async () => {
    const u = ts.users.teacherA;
    const r = await ts.api('POST', '/api/v1/auth/login', { body: { username: u.username, password: u.password } });
    expect(r.status).toBe(200);
    expect(r.body.user).toMatchObject({ username: u.username, role: 'teacher' });
    expect(r.body.user).not.toHaveProperty('passwordHash');
    expect(r.body.token).toMatch(/^cc_/);
    expect((await ts.api('GET', '/api/v1/auth/me', { token: r.body.token })).status).toBe(200);
    expect((await ts.api('POST', '/api/v1/auth/logout', { token: r.body.token })).status).toBe(204);
    expect((await ts.api('GET', '/api/v1/auth/me', { token: r.body.token })).status).toBe(401);
    // the token is stored hashed
    const rows = await ts.sys.db.query<{ token_hash: string }>('SELECT token_hash FROM auth_tokens');
    expect(rows.some((x) => x.token_hash === r.body.token)).toBe(false);
  });

  it('when a token has expired, then it is refused', async () => {
    const t = await ts.sys.services.auth.issueToken(ts.users.operator.id, 'short', 1);
    await ts.sys.db.query("UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [t.id]);
    expect((await ts.api('GET', '/api/v1/auth/me', { token: t.token })).status).toBe(401);
  });

  it('when a password is wrong too often, then that user is throttled even with the right password, with Retry-After', async () => {
    const u = ts.users.reviewerB;
    for (let i = 0; i < 3; i++) {
      const bad = await ts.api('POST', '/api/v1/auth/login', { body: { username: u.username, password: 'wrong-password' } });
      expect(bad.status).toBe(401);
      expect(bad.body.detail).toBe('wrong username or password');
    }
    const locked = await ts.api('POST', '/api/v1/auth/login', { body: { username: u.username, password: u.password } });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    // another user from elsewhere is not affected by this user's lock
    const other = ts.users.admin;
    expect((await ts.api('POST', '/api/v1/auth/login', { body: { username: other.username, password: other.password }, headers: { 'x-forwarded-for': '10.9.9.9' } })).status).toBe(200);
  });

  it('when one address guesses many usernames, then the address is throttled', async () => {
    const headers = { 'x-forwarded-for': '10.1.2.3' };
    let last = 0;
    for (let i = 0; i < 13; i++) last = (await ts.api('POST', '/api/v1/auth/login', { body: { username: `nobody${i}`, password: 'x' }, headers })).status;
    expect(last).toBe(429);
    const u = ts.users.teacherB;
    expect((await ts.api('POST', '/api/v1/auth/login', { body: { username: u.username, password: u.password }, headers })).status).toBe(429);
  });
});

describe('logs', () => {
  it('when secrets pass through the logger, then they are redacted', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
    const log = createLogger('info', 'test', sink);
    log.info({ password: 'hunter2hunter2', token: 'cc_abc', req: { headers: { authorization: 'Bearer cc_abc' } }, streamKey: 'k3y', nested: { secret: 's3cr3t' } }, 'event');
    await new Promise((r) => setTimeout(r, 20));
    const out = lines.join('');
    for (const s of ['hunter2hunter2', 'cc_abc', 'k3y', 's3cr3t']) expect(out).not.toContain(s);
    expect(out).toContain('[redacted]');
  });
});
