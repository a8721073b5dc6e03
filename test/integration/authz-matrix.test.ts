import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lessonBody, publishedLesson, startTestSystem, uploadAndProcess, type TestSystem } from '../helpers/system.ts';
import { addDays, mondayOf, shanghaiMidnight } from '../../src/domain/shanghai-time.ts';

/**
 * Every non-public endpoint x every role x own / other school, with the exact status. The list of
 * endpoints comes from the running app's OpenAPI document (generated from the route registry): an
 * endpoint added without a row here fails the test.
 */

type Actor = 'anon' | 'teacherOwn' | 'teacherOther' | 'reviewerOwn' | 'reviewerOther' | 'operator' | 'admin' | 'cable' | 'districtAdmin';
const actors: Actor[] = ['anon', 'teacherOwn', 'teacherOther', 'reviewerOwn', 'reviewerOther', 'operator', 'admin', 'cable', 'districtAdmin'];

interface Fixture {
  lessonId: string;
  uploadId?: string;
  timetableId?: string;
  entryId?: string;
  questionId?: string;
  answerId?: string;
  editId?: string;
  userId?: string;
  schoolId?: string;
}

interface Row {
  /** Builds the fixture this call needs (a fresh one per actor, so calls do not interfere). */
  setup?: (ts: TestSystem) => Promise<Fixture>;
  request: (f: Fixture, n: number) => { path: string; body?: unknown; raw?: Buffer; headers?: Record<string, string> };
  expect: Record<Actor, number>;
  /** The call spends the caller's token (logout): use a fresh one. */
  freshToken?: boolean;
}

const all = (status: number, over: Partial<Record<Actor, number>> = {}): Record<Actor, number> =>
  ({ ...Object.fromEntries(actors.map((a) => [a, status])), anon: 401, ...over }) as Record<Actor, number>;

const inReview = async (ts: TestSystem): Promise<Fixture> => {
  const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody() });
  await uploadAndProcess(ts, c.body.id, ts.users.teacherA.token);
  return { lessonId: c.body.id };
};
const draft = async (ts: TestSystem): Promise<Fixture> => {
  const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody() });
  return { lessonId: c.body.id };
};
const approved = async (ts: TestSystem): Promise<Fixture> => {
  const f = await inReview(ts);
  await ts.api('POST', `/api/v1/lessons/${f.lessonId}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } });
  return f;
};
const published = async (ts: TestSystem): Promise<Fixture> => ({ lessonId: await publishedLesson(ts) });
const openUpload = async (ts: TestSystem): Promise<Fixture> => {
  const f = await draft(ts);
  const u = await ts.api('POST', `/api/v1/lessons/${f.lessonId}/uploads`, { token: ts.users.teacherA.token, body: { filename: 'a.mp4', size: 100 } });
  return { lessonId: f.lessonId, uploadId: u.body.uploadId };
};
const uploadWithPart = async (ts: TestSystem): Promise<Fixture> => {
  const f = await openUpload(ts);
  await ts.api('PUT', `/api/v1/lessons/${f.lessonId}/uploads/${f.uploadId}/parts/1`, { token: ts.users.teacherA.token, raw: Buffer.alloc(100, 1) });
  return f;
};

const liveApproved = async (ts: TestSystem): Promise<Fixture> => {
  const now = Date.now();
  const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ kind: 'live', type: 'live', scheduledStart: new Date(now - 600_000).toISOString(), scheduledEnd: new Date(now + 3_000_000).toISOString() }) });
  await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } });
  return { lessonId: c.body.id };
};

const teacherOnlyOwn = (ok: number) => all(403, { teacherOwn: ok, teacherOther: 404 });

// timetables: each fixture gets its own week far ahead (one timetable per school and week)
let weeks = 0;
const farWeek = (k: number): string => mondayOf(addDays(new Date(), 100 + 7 * k));
const approvedLiveIn = async (ts: TestSystem, week: string, hour: number): Promise<string> => {
  const start = new Date(shanghaiMidnight(week).getTime() + hour * 3600_000);
  const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ kind: 'live', type: 'live', scheduledStart: start.toISOString(), scheduledEnd: new Date(start.getTime() + 2400_000).toISOString() }) });
  await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } });
  return c.body.id;
};
/** A draft timetable of school A with one entry, and a spare lesson of its week not on it (lessonId). */
const timetable = async (ts: TestSystem): Promise<Fixture> => {
  const week = farWeek(weeks++);
  const onIt = await approvedLiveIn(ts, week, 33);
  const spare = await approvedLiveIn(ts, week, 57);
  const t = await ts.api('POST', '/api/v1/timetables', { token: ts.users.reviewerA.token, body: { scope: 'school', weekStart: week } });
  const e = await ts.api('POST', `/api/v1/timetables/${t.body.id}/entries`, { token: ts.users.reviewerA.token, body: { lessonId: onIt } });
  return { lessonId: spare, timetableId: t.body.id, entryId: e.body.entryId };
};
const ttReaders = (ok: number) => all(ok, { teacherOther: 404, reviewerOther: 404, cable: 403 });
const ttEditors = (ok: number) => all(403, { reviewerOwn: ok, reviewerOther: 404, admin: ok, districtAdmin: ok });

// Q&A: an open primary-school math question (asked through the service: the HTTP route is rate limited per address)
let askers = 0;
const openQuestion = async (ts: TestSystem): Promise<Fixture> => {
  askers++;
  const q = await ts.sys.services.questions.ask({ stage: 'primary', subject: 'math', text: '矩阵测试问题', displayName: '学生' }, `10.${askers >> 8}.${askers & 255}.9`);
  return { lessonId: '', questionId: q.id };
};
const answered = async (ts: TestSystem): Promise<Fixture> => {
  const f = await openQuestion(ts);
  const teacher = (await ts.sys.services.auth.authenticate(ts.users.teacherA.token))!;
  const a = await ts.sys.services.questions.answer(teacher, f.questionId!, '矩阵测试回答');
  return { ...f, answerId: a.id };
};
/** A published lesson of school A with a pending title edit. */
const pendingEdit = async (ts: TestSystem): Promise<Fixture> => {
  const lessonId = await publishedLesson(ts);
  const r = await ts.api('PATCH', `/api/v1/lessons/${lessonId}`, { token: ts.users.teacherA.token, body: { title: `改过的标题 ${lessonId.slice(0, 4)}` } });
  return { lessonId, editId: r.body.edit.pendingEdit.id };
};
// admin: a fresh user and a fresh school per call
let made = 0;
const freshUser = async (ts: TestSystem): Promise<Fixture> => {
  const u = await ts.sys.services.auth.createUser({ username: `matrix_u${made++}`, password: 'matrix-password-1', role: 'teacher', schoolCode: ts.schools.A });
  return { lessonId: '', userId: u.id };
};
const freshSchool = async (ts: TestSystem): Promise<Fixture> => {
  const s = await ts.sys.services.schools.createSchoolInDistrict({ code: `matrix-s${made++}`, name: '矩阵学校', districtCode: 'matrix-district', stage: 'junior' });
  return { lessonId: '', schoolId: s.id };
};
const adminOnly = (ok: number) => all(403, { admin: ok });
const moderators = (ok: number) => all(403, { reviewerOwn: ok, reviewerOther: 404, operator: ok, admin: ok });

const matrix: Record<string, Row> = {
  'GET /api/v1/auth/me': { request: () => ({ path: '/api/v1/auth/me' }), expect: all(200) },
  'POST /api/v1/auth/logout': { request: () => ({ path: '/api/v1/auth/logout' }), expect: all(204), freshToken: true },
  'POST /api/v1/lessons': { request: () => ({ path: '/api/v1/lessons', body: lessonBody() }), expect: all(403, { teacherOwn: 201, teacherOther: 201 }) },
  'GET /api/v1/staff/lessons': { request: () => ({ path: '/api/v1/staff/lessons' }), expect: all(200, { cable: 403 }) },
  'GET /api/v1/lessons/:id': { setup: draft, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}` }), expect: { anon: 404, teacherOwn: 200, teacherOther: 404, reviewerOwn: 200, reviewerOther: 404, operator: 200, admin: 200, cable: 404, districtAdmin: 200 } },
  'GET /api/v1/review/queue': { request: () => ({ path: '/api/v1/review/queue' }), expect: all(403, { reviewerOwn: 200, reviewerOther: 200 }) },
  'POST /api/v1/lessons/:id/review': { setup: inReview, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/review`, body: { decision: 'approve' } }), expect: all(403, { reviewerOwn: 200, reviewerOther: 404 }) },
  'POST /api/v1/lessons/:id/publications': { setup: approved, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/publications`, body: { channel: 'portal' } }), expect: all(403, { operator: 201, admin: 201 }) },
  'DELETE /api/v1/lessons/:id/publications/:channel': { setup: published, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/publications/portal` }), expect: all(403, { operator: 200, admin: 200 }) },
  'GET /api/v1/audit': { request: () => ({ path: '/api/v1/audit' }), expect: all(403, { operator: 200, admin: 200 }) },
  'POST /api/v1/taxonomy/:kind': { request: (_f, n) => ({ path: '/api/v1/taxonomy/subject', body: { code: `matrix_${n}`, label: `科目${n}` } }), expect: all(403, { operator: 201, admin: 201 }) },
  'PATCH /api/v1/lessons/:id': { setup: draft, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}`, body: { title: '改过的标题' } }), expect: teacherOnlyOwn(200) },
  'GET /api/v1/lessons/:id/edits': { setup: draft, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/edits` }), expect: all(200, { teacherOther: 404, reviewerOther: 404, cable: 403 }) },
  'GET /api/v1/review/decisions': { request: () => ({ path: '/api/v1/review/decisions' }), expect: all(403, { reviewerOwn: 200, reviewerOther: 200 }) },
  'GET /api/v1/review/edits': { request: () => ({ path: '/api/v1/review/edits' }), expect: all(403, { reviewerOwn: 200, reviewerOther: 200 }) },
  'POST /api/v1/lesson-edits/:id/review': { setup: pendingEdit, request: (f) => ({ path: `/api/v1/lesson-edits/${f.editId}/review`, body: { decision: 'approve' } }), expect: all(403, { reviewerOwn: 200, reviewerOther: 404 }) },
  'PUT /api/v1/lessons/:id/media': { setup: draft, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/media`, raw: Buffer.from('bytes'), headers: { 'content-type': 'video/mp4' } }), expect: teacherOnlyOwn(202) },
  'POST /api/v1/lessons/:id/uploads': { setup: draft, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/uploads`, body: { filename: 'a.mp4', size: 1000 } }), expect: teacherOnlyOwn(201) },
  'GET /api/v1/lessons/:id/uploads/:uploadId': { setup: openUpload, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/uploads/${f.uploadId}` }), expect: teacherOnlyOwn(200) },
  'PUT /api/v1/lessons/:id/uploads/:uploadId/parts/:partNumber': { setup: openUpload, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/uploads/${f.uploadId}/parts/1`, raw: Buffer.alloc(100, 2) }), expect: teacherOnlyOwn(200) },
  'POST /api/v1/lessons/:id/uploads/:uploadId/complete': { setup: uploadWithPart, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/uploads/${f.uploadId}/complete` }), expect: teacherOnlyOwn(202) },
  'DELETE /api/v1/lessons/:id/uploads/:uploadId': { setup: openUpload, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/uploads/${f.uploadId}` }), expect: teacherOnlyOwn(204) },
  'POST /api/v1/lessons/:id/live': { setup: liveApproved, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/live` }), expect: teacherOnlyOwn(200) },
  'POST /api/v1/lessons/:id/live/rotate-key': { setup: liveApproved, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/live/rotate-key` }), expect: teacherOnlyOwn(200) },
  'POST /api/v1/timetables': { request: (_f, n) => ({ path: '/api/v1/timetables', body: { scope: 'school', school: ts.schools.A, weekStart: farWeek(1000 + n) } }), expect: all(403, { reviewerOwn: 201, admin: 201, districtAdmin: 201 }) },
  'GET /api/v1/timetables': { request: () => ({ path: '/api/v1/timetables' }), expect: all(200, { cable: 403 }) },
  'GET /api/v1/timetables/:id': { setup: timetable, request: (f) => ({ path: `/api/v1/timetables/${f.timetableId}` }), expect: ttReaders(200) },
  'POST /api/v1/timetables/:id/entries': { setup: timetable, request: (f) => ({ path: `/api/v1/timetables/${f.timetableId}/entries`, body: { lessonId: f.lessonId } }), expect: ttEditors(201) },
  'PATCH /api/v1/timetables/:id/entries/:entryId': { setup: timetable, request: (f) => ({ path: `/api/v1/timetables/${f.timetableId}/entries/${f.entryId}`, body: { audience: '三(1)班' } }), expect: ttEditors(200) },
  'POST /api/v1/timetables/:id/entries/:entryId/cancel': { setup: timetable, request: (f) => ({ path: `/api/v1/timetables/${f.timetableId}/entries/${f.entryId}/cancel`, body: { reason: '停课' } }), expect: ttEditors(200) },
  'DELETE /api/v1/timetables/:id/entries/:entryId': { setup: timetable, request: (f) => ({ path: `/api/v1/timetables/${f.timetableId}/entries/${f.entryId}` }), expect: ttEditors(204) },
  'POST /api/v1/timetables/:id/publish': { setup: timetable, request: (f) => ({ path: `/api/v1/timetables/${f.timetableId}/publish`, body: {} }), expect: ttEditors(201) },
  'GET /api/v1/timetables/:id/versions': { setup: timetable, request: (f) => ({ path: `/api/v1/timetables/${f.timetableId}/versions` }), expect: ttReaders(200) },
  'GET /api/v1/timetables/:id/week.csv': { setup: timetable, request: (f) => ({ path: `/api/v1/timetables/${f.timetableId}/week.csv` }), expect: ttReaders(200) },
  'GET /api/v1/timetables/:id/week.html': { setup: timetable, request: (f) => ({ path: `/api/v1/timetables/${f.timetableId}/week.html` }), expect: ttReaders(200) },
  'GET /api/v1/reports/late-timetables': { request: () => ({ path: '/api/v1/reports/late-timetables' }), expect: all(403, { operator: 200, admin: 200, districtAdmin: 200 }) },
  'GET /api/v1/ops/capacity': { request: () => ({ path: '/api/v1/ops/capacity' }), expect: all(403, { operator: 200, admin: 200 }) },
  'GET /api/v1/reports/live-capacity': { request: () => ({ path: '/api/v1/reports/live-capacity' }), expect: all(403, { operator: 200, admin: 200 }) },
  'GET /api/v1/staff/questions': { request: () => ({ path: '/api/v1/staff/questions' }), expect: all(200, { cable: 403, districtAdmin: 403 }) },
  'POST /api/v1/questions/:id/answers': { setup: openQuestion, request: (f) => ({ path: `/api/v1/questions/${f.questionId}/answers`, body: { text: '答' } }), expect: all(403, { teacherOwn: 201, teacherOther: 404 }) },
  'PATCH /api/v1/answers/:id': { setup: answered, request: (f) => ({ path: `/api/v1/answers/${f.answerId}`, body: { text: '改过的回答' } }), expect: all(403, { teacherOwn: 200 }) },
  'PUT /api/v1/questions/:id/visibility': { setup: openQuestion, request: (f) => ({ path: `/api/v1/questions/${f.questionId}/visibility`, body: { hidden: true, reason: '不当内容' } }), expect: moderators(200) },
  'PUT /api/v1/answers/:id/visibility': { setup: answered, request: (f) => ({ path: `/api/v1/answers/${f.answerId}/visibility`, body: { hidden: true, reason: '不当内容' } }), expect: moderators(200) },
  'GET /api/v1/admin/schools': { request: () => ({ path: '/api/v1/admin/schools' }), expect: adminOnly(200) },
  'POST /api/v1/admin/schools': { request: (_f, n) => ({ path: '/api/v1/admin/schools', body: { code: `matrix-new${n}`, name: '新学校', stage: 'primary', district: 'matrix-district' } }), expect: adminOnly(201) },
  'PATCH /api/v1/admin/schools/:id': { setup: freshSchool, request: (f) => ({ path: `/api/v1/admin/schools/${f.schoolId}`, body: { disabled: true } }), expect: adminOnly(200) },
  'GET /api/v1/admin/users': { request: () => ({ path: '/api/v1/admin/users' }), expect: adminOnly(200) },
  'POST /api/v1/admin/users': { request: (_f, n) => ({ path: '/api/v1/admin/users', body: { username: `matrix_new${n}`, role: 'operator' } }), expect: adminOnly(201) },
  'PATCH /api/v1/admin/users/:id': { setup: freshUser, request: (f) => ({ path: `/api/v1/admin/users/${f.userId}`, body: { disabled: true } }), expect: adminOnly(200) },
  'POST /api/v1/admin/users/:id/password': { setup: freshUser, request: (f) => ({ path: `/api/v1/admin/users/${f.userId}/password`, body: {} }), expect: adminOnly(200) },
  'GET /api/v1/admin/users/:id/tokens': { setup: freshUser, request: (f) => ({ path: `/api/v1/admin/users/${f.userId}/tokens` }), expect: adminOnly(200) },
  'POST /api/v1/admin/users/:id/tokens': { setup: freshUser, request: (f) => ({ path: `/api/v1/admin/users/${f.userId}/tokens`, body: { ttlHours: 24, label: 'matrix' } }), expect: adminOnly(201) },
  'POST /api/v1/admin/users/:id/revoke-tokens': { setup: freshUser, request: (f) => ({ path: `/api/v1/admin/users/${f.userId}/revoke-tokens` }), expect: adminOnly(200) },
  'GET /api/v1/lessons/:id/live/status': { setup: liveApproved, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/live/status` }), expect: all(200, { teacherOther: 404, reviewerOther: 404, cable: 403, districtAdmin: 403 }) },
  'GET /api/v1/cable/packages': { request: () => ({ path: '/api/v1/cable/packages' }), expect: all(403, { operator: 200, admin: 200, cable: 200 }) },
  'POST /api/v1/lessons/:id/live/stop': { setup: liveApproved, request: (f) => ({ path: `/api/v1/lessons/${f.lessonId}/live/stop` }), expect: all(403, { reviewerOwn: 200, reviewerOther: 404, operator: 200, admin: 200 }) },
};

let ts: TestSystem;
beforeAll(async () => {
  ts = await startTestSystem({ api: true });
});
afterAll(async () => {
  await ts?.stop();
});

function tokenOf(a: Actor): string | undefined {
  const u = ts.users;
  const map: Record<Actor, string | undefined> = {
    anon: undefined, teacherOwn: u.teacherA.token, teacherOther: u.teacherB.token, reviewerOwn: u.reviewerA.token, reviewerOther: u.reviewerB.token,
    operator: u.operator.token, admin: u.admin.token, cable: u.cable.token, districtAdmin: u.districtAdmin.token,
  };
  return map[a];
}

describe('authorization matrix', () => {
  it('when every role calls every staff endpoint on its own and another school, then the status is exactly the expected one', async () => {
    const doc = (await ts.api('GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    const staffEndpoints: string[] = [];
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (op.security) staffEndpoints.push(`${method.toUpperCase()} ${p.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1')}`);
      }
    }
    expect(staffEndpoints.filter((e) => !matrix[e]), 'endpoints without a row in the authorization matrix').toEqual([]);
    expect(Object.keys(matrix).filter((k) => !staffEndpoints.includes(k)), 'matrix rows for endpoints that no longer exist').toEqual([]);

    const failures: string[] = [];
    let n = 0;
    for (const [endpoint, row] of Object.entries(matrix)) {
      const method = endpoint.split(' ')[0];
      for (const actor of actors) {
        n++;
        const f = row.setup ? await row.setup(ts) : { lessonId: '' };
        const req = row.request(f, n);
        let token = tokenOf(actor);
        if (row.freshToken && token) {
          const me = await ts.api('GET', '/api/v1/auth/me', { token });
          token = (await ts.sys.services.auth.issueToken(me.body.userId, 'matrix', 1)).token;
        }
        const r = await ts.api(method, req.path, { token, body: req.body, raw: req.raw, headers: req.headers });
        if (r.status !== row.expect[actor]) failures.push(`${endpoint} as ${actor}: expected ${row.expect[actor]}, got ${r.status} ${JSON.stringify(r.body).slice(0, 160)}`);
      }
    }
    expect(failures).toEqual([]);
    // ~50 endpoints x 9 actors, each with its own fixture: minutes on a loaded machine
  }, 600_000);
});
