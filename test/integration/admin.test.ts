import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../helpers/system.ts';

let ts: TestSystem;
beforeAll(async () => {
  ts = await startTestSystem({ api: true });
});
afterAll(async () => {
  await ts?.stop();
});

const admin = () => ts.users.admin.token;
const audit = async (entityId: string): Promise<{ action: string; actor: string }[]> =>
  ts.sys.db.query('SELECT action, actor FROM audit_log WHERE entity_id = $1 ORDER BY id', [entityId]);
const login = (username: string, password: string) => ts.api('POST', '/api/v1/auth/login', { body: { username, password } });

describe('admin endpoints', () => {
  it('when an admin creates a school in a new district and a teacher in it, then the teacher signs in with the password shown once, all audited', async () => {
    const s = await ts.api('POST', '/api/v1/admin/schools', { token: admin(), body: { code: 'fengman-er', name: '丰满区第二小学', stage: 'primary', district: 'fengman', districtName: '丰满区' } });
    expect(s.status).toBe(201);
    expect(s.body).toMatchObject({ code: 'fengman-er', name: '丰满区第二小学', district: { code: 'fengman', name: '丰满区' } });
    expect((await ts.api('POST', '/api/v1/admin/schools', { token: admin(), body: { code: 'fengman-er', name: '重复', stage: 'primary', district: 'fengman' } })).status).toBe(409);
    const u = await ts.api('POST', '/api/v1/admin/users', { token: admin(), body: { username: 'liu_laoshi', role: 'teacher', school: 'fengman-er', displayName: '刘老师' } });
    expect(u.status).toBe(201);
    expect(u.headers.get('cache-control')).toBe('no-store');
    expect(u.body.password).toMatch(/^[A-Za-z2-9]{16}$/);
    expect((await login('liu_laoshi', u.body.password)).status).toBe(200);
    expect(await audit(s.body.id)).toEqual([{ action: 'create', actor: `admin:${ts.users.admin.username}` }]);
    expect((await audit(u.body.user.id)).map((a) => a.action)).toEqual(['create']);
    const list = await ts.api('GET', `/api/v1/admin/users?school=${s.body.id}`, { token: admin() });
    expect(list.body.items).toMatchObject([{ username: 'liu_laoshi', displayName: '刘老师', role: 'teacher', disabled: false, activeTokens: 1, school: { code: 'fengman-er' } }]);
    expect(JSON.stringify(list.body)).not.toMatch(/password|hash/i);
    const bad = await ts.api('POST', '/api/v1/admin/users', { token: admin(), body: { username: 'wu', role: 'reviewer' } });
    expect(bad.status).toBe(400);
  });

  it('when an admin disables a user, then their tokens stop at once and they cannot sign in until enabled again', async () => {
    const u = await ts.api('POST', '/api/v1/admin/users', { token: admin(), body: { username: 'zhao_shenhe', role: 'reviewer', school: ts.schools.A, password: 'zhao-password-1' } });
    expect(u.body.password).toBeNull();
    const t = (await login('zhao_shenhe', 'zhao-password-1')).body.token;
    expect((await ts.api('PATCH', `/api/v1/admin/users/${u.body.user.id}`, { token: admin(), body: { disabled: true } })).status).toBe(200);
    expect((await ts.api('GET', '/api/v1/auth/me', { token: t })).status).toBe(401);
    expect((await login('zhao_shenhe', 'zhao-password-1')).status).toBe(401);
    await ts.api('PATCH', `/api/v1/admin/users/${u.body.user.id}`, { token: admin(), body: { disabled: false } });
    expect((await login('zhao_shenhe', 'zhao-password-1')).status).toBe(200);
    expect((await audit(u.body.user.id)).map((a) => a.action)).toEqual(['create', 'disable', 'enable']);
    const self = await ts.api('PATCH', `/api/v1/admin/users/${ts.users.admin.id}`, { token: admin(), body: { disabled: true } });
    expect(self.status).toBe(409);
  });

  it('when an admin resets a password or revokes tokens, then the user is signed out everywhere', async () => {
    const u = await ts.api('POST', '/api/v1/admin/users', { token: admin(), body: { username: 'sun_yunying', role: 'operator', password: 'sun-password-12' } });
    const id = u.body.user.id;
    const t1 = (await login('sun_yunying', 'sun-password-12')).body.token;
    const reset = await ts.api('POST', `/api/v1/admin/users/${id}/password`, { token: admin() });
    expect(reset.body.password).toMatch(/^[A-Za-z2-9]{16}$/);
    expect((await ts.api('GET', '/api/v1/auth/me', { token: t1 })).status).toBe(401);
    expect((await login('sun_yunying', 'sun-password-12')).status).toBe(401);
    const t2 = (await login('sun_yunying', reset.body.password)).body.token;
    const api = await ts.api('POST', `/api/v1/admin/users/${id}/tokens`, { token: admin(), body: { ttlHours: 48, label: '脚本' } });
    expect(api.status).toBe(201);
    expect((await ts.api('GET', '/api/v1/auth/me', { token: api.body.token })).body.username).toBe('sun_yunying');
    const tokens = await ts.api('GET', `/api/v1/admin/users/${id}/tokens`, { token: admin() });
    expect(tokens.body.items.map((x: { label: string }) => x.label)).toEqual(['脚本', 'login', 'login']);
    expect(JSON.stringify(tokens.body)).not.toContain('cc_');
    const rv = await ts.api('POST', `/api/v1/admin/users/${id}/revoke-tokens`, { token: admin() });
    expect(rv.body.revoked).toBe(2);
    for (const t of [t2, api.body.token]) expect((await ts.api('GET', '/api/v1/auth/me', { token: t })).status).toBe(401);
    expect((await audit(id)).map((a) => a.action)).toEqual(['create', 'password_reset', 'revoke_all']);
    expect((await ts.api('POST', `/api/v1/admin/users/00000000-0000-0000-0000-000000000000/password`, { token: admin() })).status).toBe(404);
  });

  it('when an admin disables a school, then none of its staff can work until it is enabled again', async () => {
    const s = await ts.api('POST', '/api/v1/admin/schools', { token: admin(), body: { code: 'longtan-yi', name: '龙潭区第一中学', stage: 'junior', district: 'longtan' } });
    const u = await ts.api('POST', '/api/v1/admin/users', { token: admin(), body: { username: 'qian_laoshi', role: 'teacher', school: 'longtan-yi', password: 'qian-password-1' } });
    const t = (await login('qian_laoshi', 'qian-password-1')).body.token;
    await ts.api('PATCH', `/api/v1/admin/schools/${s.body.id}`, { token: admin(), body: { disabled: true } });
    expect((await ts.api('GET', '/api/v1/auth/me', { token: t })).status).toBe(401);
    expect((await login('qian_laoshi', 'qian-password-1')).status).toBe(401);
    const listed = (await ts.api('GET', '/api/v1/admin/schools', { token: admin() })).body.items.find((x: { id: string }) => x.id === s.body.id);
    expect(listed).toMatchObject({ disabled: true, users: 1 });
    await ts.api('PATCH', `/api/v1/admin/schools/${s.body.id}`, { token: admin(), body: { disabled: false } });
    expect((await ts.api('GET', '/api/v1/auth/me', { token: t })).status).toBe(200);
    expect((await audit(s.body.id)).map((a) => a.action)).toEqual(['create', 'disable', 'enable']);
    expect(u.status).toBe(201);
  });
});

describe('audit log filters', () => {
  it('when the operator filters the audit log by who, what, entity and time, then only matching entries come, newest first, paged', async () => {
    const u = await ts.api('POST', '/api/v1/admin/users', { token: admin(), body: { username: 'zhou_audit', role: 'operator', password: 'zhou-password-1' } });
    await ts.api('PATCH', `/api/v1/admin/users/${u.body.user.id}`, { token: admin(), body: { disabled: true } });
    await ts.api('PATCH', `/api/v1/admin/users/${u.body.user.id}`, { token: admin(), body: { disabled: false } });
    const op = ts.users.operator.token;
    const who = await ts.api('GET', `/api/v1/audit?actor=${ts.users.admin.username}&entityId=${u.body.user.id}`, { token: op });
    expect(who.body.items.map((i: { action: string }) => i.action)).toEqual(['enable', 'disable', 'create']);
    const what = await ts.api('GET', `/api/v1/audit?action=disable&entityId=${u.body.user.id}`, { token: op });
    expect(what.body.items).toHaveLength(1);
    const future = await ts.api('GET', `/api/v1/audit?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, { token: op });
    expect(future.body.items).toEqual([]);
    const p1 = await ts.api('GET', `/api/v1/audit?entityId=${u.body.user.id}&limit=2`, { token: op });
    expect(p1.body.items).toHaveLength(2);
    const p2 = await ts.api('GET', `/api/v1/audit?entityId=${u.body.user.id}&limit=2&before=${p1.body.nextBefore}`, { token: op });
    expect(p2.body.items.map((i: { action: string }) => i.action)).toEqual(['create']);
    expect(p2.body.nextBefore).toBeNull();
    expect((await ts.api('GET', '/api/v1/audit?from=yesterday', { token: op })).status).toBe(400);
  });
});
