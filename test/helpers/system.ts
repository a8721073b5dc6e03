import { startWorkerRole } from '../../workers/role.ts';
import pg from 'pg';
import { startSystem, type Roles, type System } from '../../src/system.ts';
import type { Config } from '../../config/config.schema.ts';
import type { Role } from '../../src/domain/types.ts';
import { testConfig, rid } from './parts.ts';
import { createRedis } from '../../src/infra/redis.ts';

export interface TestUser {
  id: string;
  username: string;
  password: string;
  role: Role;
  schoolCode: string | null;
  token: string;
}

/** A running system for one test file with two schools and a user per role. */
export interface TestSystem {
  sys: System;
  url: string;
  users: Record<'teacherA' | 'reviewerA' | 'teacherA2' | 'teacherB' | 'reviewerB' | 'operator' | 'admin' | 'cable' | 'districtAdmin', TestUser>;
  schools: { A: string; B: string };
  api: (method: string, path: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: BodyInit | Buffer }) => Promise<{ status: number; body: any; headers: Headers }>;
  stop: () => Promise<void>;
}

/** Starts the roles asked for on a per-test schema, queue prefix and bucket prefix, with fixtures. */
export async function startTestSystem(roles: Partial<Roles> = { api: true }, over: Partial<Record<keyof Config, string>> = {}, opts: { url?: string } = {}): Promise<TestSystem> {
  const config = testConfig(over);
  const sys = await startSystem({ config, roles: { api: false, worker: false, ingest: false, ...roles }, startWorkers: startWorkerRole });
  const s = sys.services;
  const id = rid(3);
  await s.schools.createDistrict(`d${id}`, '测试区');
  const A = `a${id}`;
  const B = `b${id}`;
  await s.schools.createSchool({ code: A, name: '甲小学', districtCode: `d${id}`, stage: 'primary' });
  await s.schools.createSchool({ code: B, name: '乙中学', districtCode: `d${id}`, stage: 'senior' });
  const mk = async (key: string, role: Role, school: string | null): Promise<TestUser> => {
    const username = `${key}_${id}`;
    const password = `pw-${rid(8)}`;
    const u = await s.auth.createUser({ username, password, role, schoolCode: school ?? undefined, districtCode: role === 'district_admin' ? `d${id}` : undefined, displayName: key });
    const { token } = await s.auth.issueToken(u.id, 'test', 2);
    return { id: u.id, username, password, role, schoolCode: school, token };
  };
  const users = {
    teacherA: await mk('teacherA', 'teacher', A),
    teacherA2: await mk('teacherA2', 'teacher', A),
    reviewerA: await mk('reviewerA', 'reviewer', A),
    teacherB: await mk('teacherB', 'teacher', B),
    reviewerB: await mk('reviewerB', 'reviewer', B),
    operator: await mk('operator', 'operator', null),
    admin: await mk('admin', 'admin', null),
    cable: await mk('cable', 'cable', null),
    districtAdmin: await mk('districtAdmin', 'district_admin', null),
  };
  // `url`: the API of another process (a fleet's edge) instead of this system's own
  const url = opts.url ?? sys.apiUrl ?? '';
  const api: TestSystem['api'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: BodyInit | undefined = opts.raw as BodyInit | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    }
    const res = await fetch(`${url}${path}`, { method, headers, body, duplex: 'half' } as RequestInit);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return {
    sys,
    url,
    users,
    schools: { A, B },
    api,
    stop: async () => {
      await sys.stop();
      await dropTestData(config);
    },
  };
}

/** Removes what a test system left: its schema, queue keys, buckets. */
export async function dropTestData(config: Config): Promise<void> {
  if (config.DATABASE_URL) {
    const c = new pg.Client({ connectionString: config.DATABASE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${config.DATABASE_SCHEMA}" CASCADE`).catch(() => undefined);
    await c.end();
  }
  const r = createRedis(config.REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${config.QUEUE_PREFIX}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await r.del(...keys);
  } while (cursor !== '0');
  r.disconnect();
}

/** Lesson body with valid taxonomy codes for a primary-school teacher. */
export const lessonBody = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  title: '分数的初步认识',
  description: '认识几分之一',
  kind: 'recorded',
  stage: 'primary',
  grade: 'g3',
  subject: 'math',
  type: 'recorded',
  edition: 'pep',
  ...over,
});

/**
 * Takes a lesson through upload and a processing result without running ffmpeg: the real upload
 * route, then the catalog's result applier with a successful transcode result (as a worker would
 * send). Returns the new asset id; the lesson ends `in_review`.
 */
export async function uploadAndProcess(ts: TestSystem, lessonId: string, teacherToken: string): Promise<string> {
  const up = await ts.api('PUT', `/api/v1/lessons/${lessonId}/media?filename=lesson.mp4`, { token: teacherToken, raw: Buffer.from('not really a video'), headers: { 'content-type': 'video/mp4' } });
  if (up.status !== 202) throw new Error(`upload failed: ${up.status} ${JSON.stringify(up.body)}`);
  const assetId = up.body.assetId as string;
  await ts.sys.services.results.apply({ kind: 'transcode', key: `transcode:${assetId}`, subjectId: assetId, ok: true, data: { durationS: 61.5 } });
  return assetId;
}

/** Creates, processes, approves and publishes a lesson on the portal; returns its id. */
export async function publishedLesson(ts: TestSystem, over: Record<string, unknown> = {}, teacher: 'teacherA' | 'teacherB' = 'teacherA'): Promise<string> {
  const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users[teacher].token, body: lessonBody(over) });
  if (c.status !== 201) throw new Error(`create failed: ${c.status} ${JSON.stringify(c.body)}`);
  const id = c.body.id as string;
  await uploadAndProcess(ts, id, ts.users[teacher].token);
  const reviewer = teacher === 'teacherA' ? 'reviewerA' : 'reviewerB';
  const r = await ts.api('POST', `/api/v1/lessons/${id}/review`, { token: ts.users[reviewer].token, body: { decision: 'approve' } });
  if (r.status !== 200) throw new Error(`approve failed: ${r.status} ${JSON.stringify(r.body)}`);
  const p = await ts.api('POST', `/api/v1/lessons/${id}/publications`, { token: ts.users.operator.token, body: { channel: 'portal' } });
  if (p.status !== 201) throw new Error(`publish failed: ${p.status} ${JSON.stringify(p.body)}`);
  return id;
}
