import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { lessonBody, publishedLesson, startTestSystem, uploadAndProcess, type TestSystem } from '../helpers/system.ts';

// the suite runs on real PostgreSQL when DATABASE_URL is set, and always on embedded PGlite
const backends = inject('databaseUrl') ? ['postgresql', 'pglite'] : ['pglite'];

describe.each(backends)('on %s', (backend) => {
let ts: TestSystem;
beforeAll(async () => {
  ts = await startTestSystem({ api: true }, backend === 'pglite' ? { DATABASE_URL: '' } : {});
});
afterAll(async () => {
  await ts?.stop();
});

/** Everything the public API says about a lesson id: detail, presence in list, search and facets. */
async function publicView(id: string, title: string): Promise<{ detail: number; inList: boolean; inSearch: boolean; facetTotal: number }> {
  const detail = await ts.api('GET', `/api/v1/lessons/${id}`);
  const list = await ts.api('GET', '/api/v1/lessons?limit=100');
  const search = await ts.api('GET', `/api/v1/lessons?q=${encodeURIComponent(title)}`);
  const facets = await ts.api('GET', `/api/v1/facets?q=${encodeURIComponent(title)}`);
  return {
    detail: detail.status,
    inList: list.body.items.some((l: { id: string }) => l.id === id),
    inSearch: search.body.items.some((l: { id: string }) => l.id === id),
    facetTotal: facets.body.total,
  };
}

describe('the approval gate', () => {
  it('when a lesson walks draft -> processing -> in_review -> rejected -> new version -> approved -> published -> withdrawn, then the public sees it only while published', async () => {
    const { teacherA, reviewerA, operator } = ts.users;
    const title = `门禁测试${Date.now()}`;
    const c = await ts.api('POST', '/api/v1/lessons', { token: teacherA.token, body: lessonBody({ title }) });
    expect(c.status).toBe(201);
    expect(c.body.status).toBe('draft');
    const id = c.body.id;
    const hidden = { detail: 404, inList: false, inSearch: false, facetTotal: 0 };
    expect(await publicView(id, title)).toEqual(hidden);

    // the reviewer can neither approve a draft nor publish it
    const early = await ts.api('POST', `/api/v1/lessons/${id}/review`, { token: reviewerA.token, body: { decision: 'approve' } });
    expect(early.status).toBe(409);
    expect(early.body.detail).toContain('draft');
    expect((await ts.api('POST', `/api/v1/lessons/${id}/publications`, { token: operator.token, body: { channel: 'portal' } })).status).toBe(409);

    await uploadAndProcess(ts, id, teacherA.token);
    expect((await ts.api('GET', `/api/v1/lessons/${id}`, { token: teacherA.token })).body.status).toBe('in_review');
    expect(await publicView(id, title)).toEqual(hidden);
    const queue = await ts.api('GET', '/api/v1/review/queue', { token: reviewerA.token });
    expect(queue.body.items.map((i: { id: string }) => i.id)).toContain(id);
    // another school's reviewer does not see it, and cannot decide on it
    const queueB = await ts.api('GET', '/api/v1/review/queue', { token: ts.users.reviewerB.token });
    expect(queueB.body.items.map((i: { id: string }) => i.id)).not.toContain(id);
    expect((await ts.api('POST', `/api/v1/lessons/${id}/review`, { token: ts.users.reviewerB.token, body: { decision: 'approve' } })).status).toBe(404);

    const noReason = await ts.api('POST', `/api/v1/lessons/${id}/review`, { token: reviewerA.token, body: { decision: 'reject' } });
    expect(noReason.status).toBe(400);
    expect(noReason.body.detail).toContain('reason');
    const rej = await ts.api('POST', `/api/v1/lessons/${id}/review`, { token: reviewerA.token, body: { decision: 'reject', reason: '声音太小' } });
    expect(rej.status).toBe(200);
    expect(rej.body.status).toBe('rejected');
    expect(await publicView(id, title)).toEqual(hidden);
    expect((await ts.api('POST', `/api/v1/lessons/${id}/publications`, { token: operator.token, body: { channel: 'portal' } })).status).toBe(409);

    const v2 = await uploadAndProcess(ts, id, teacherA.token);
    const appr = await ts.api('POST', `/api/v1/lessons/${id}/review`, { token: reviewerA.token, body: { decision: 'approve' } });
    expect(appr.body).toEqual({ status: 'approved', assetId: v2 });
    expect(await publicView(id, title)).toEqual(hidden);

    const pub = await ts.api('POST', `/api/v1/lessons/${id}/publications`, { token: operator.token, body: { channel: 'portal' } });
    expect(pub.status).toBe(201);
    expect(await publicView(id, title)).toEqual({ detail: 200, inList: true, inSearch: true, facetTotal: 1 });
    const detail = await ts.api('GET', `/api/v1/lessons/${id}`);
    expect(detail.body.playback.hls).toMatch(new RegExp(`/play/${id}/master\\.m3u8$`));
    expect(detail.body).not.toHaveProperty('status');

    // a new version waits for approval while the approved one stays published
    const v3 = await uploadAndProcess(ts, id, teacherA.token);
    expect((await ts.api('GET', `/api/v1/lessons/${id}`, { token: teacherA.token })).body.status).toBe('in_review');
    expect(await publicView(id, title)).toEqual({ detail: 200, inList: true, inSearch: true, facetTotal: 1 });
    const staff = await ts.api('GET', `/api/v1/lessons/${id}`, { token: operator.token });
    expect(staff.body.published[0].assetId).toBe(v2);
    await ts.api('POST', `/api/v1/lessons/${id}/review`, { token: reviewerA.token, body: { decision: 'approve' } });
    const after = await ts.api('GET', `/api/v1/lessons/${id}`, { token: operator.token });
    expect(after.body.status).toBe('published');
    expect(after.body.published[0].assetId).toBe(v3);

    const wd = await ts.api('DELETE', `/api/v1/lessons/${id}/publications/portal`, { token: operator.token });
    expect(wd.status).toBe(200);
    expect(await publicView(id, title)).toEqual(hidden);
    expect((await ts.api('GET', `/api/v1/lessons/${id}`, { token: operator.token })).body.status).toBe('withdrawn');
    expect((await ts.api('DELETE', `/api/v1/lessons/${id}/publications/portal`, { token: operator.token })).status).toBe(409);

    const audit = await ts.api('GET', `/api/v1/audit?entity=lesson&entityId=${id}`, { token: operator.token });
    const steps = audit.body.items.reverse().map((a: { action: string; from: string | null; to: string | null }) => `${a.from ?? ''}>${a.to}`);
    expect(steps).toEqual(['>draft', 'draft>processing', 'processing>in_review', 'in_review>rejected', 'rejected>processing', 'processing>in_review', 'in_review>approved', 'approved>published', 'published>processing', 'processing>in_review', 'in_review>approved', 'approved>published', 'published>withdrawn']);
    expect(audit.body.items.find((a: { to: string }) => a.to === 'rejected').reason).toBe('声音太小');
  });

  it('when a lesson is published only on cable, then the public portal does not show it', async () => {
    const title = `有线专供${Date.now()}`;
    const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ title }) });
    await uploadAndProcess(ts, c.body.id, ts.users.teacherA.token);
    await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } });
    const p = await ts.api('POST', `/api/v1/lessons/${c.body.id}/publications`, { token: ts.users.operator.token, body: { channel: 'cable' } });
    expect(p.status).toBe(201);
    expect(await publicView(c.body.id, title)).toEqual({ detail: 404, inList: false, inSearch: false, facetTotal: 0 });
    expect((await ts.api('GET', `/play/${c.body.id}/master.m3u8`)).status).toBe(404);
  });

  it('when a staff member of another school asks for an unpublished lesson, then it is 404 like for the public', async () => {
    const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody() });
    for (const u of [ts.users.teacherB, ts.users.reviewerB, ts.users.teacherA2]) {
      expect((await ts.api('GET', `/api/v1/lessons/${c.body.id}`, { token: u.token })).status).toBe(404);
    }
    expect((await ts.api('GET', `/api/v1/lessons/${c.body.id}`, { token: ts.users.reviewerA.token })).status).toBe(200);
    expect((await ts.api('GET', `/api/v1/lessons/${c.body.id}`, { token: ts.users.operator.token })).status).toBe(200);
  });
});

describe('the public catalog', () => {
  it('when lessons are filtered, searched in Chinese and paged, then results are exact and pages never overlap', async () => {
    const tag = `t${Date.now() % 100000}`;
    const ids: string[] = [];
    const specs = [
      { title: `${tag} 三角形的内角和`, grade: 'g4', subject: 'math', edition: 'pep', type: 'recorded' },
      { title: `${tag} 古诗两首`, grade: 'g3', subject: 'chinese', edition: 'bubian', type: 'micro' },
      { title: `${tag} 春天来了`, description: '描写春天的课文：燕子、柳树', grade: 'g2', subject: 'chinese', edition: 'bubian', type: 'recorded' },
      { title: `${tag} 防疫小知识`, grade: 'g5', subject: 'science', edition: 'general', type: 'special_epidemic' },
      { title: `${tag} 100% 的含义`, grade: 'g6', subject: 'math', edition: 'bnu', type: 'recorded' },
    ];
    for (const s of specs) ids.push(await publishedLesson(ts, s));

    const q = async (qs: string) => (await ts.api('GET', `/api/v1/lessons?${qs}`)).body;
    expect((await q(`q=${encodeURIComponent(`${tag} 内角`)}`)).items.map((l: { id: string }) => l.id)).toEqual([ids[0]]);
    // substring of a Chinese description, not a whole word
    expect((await q(`q=${encodeURIComponent(`${tag} 柳树`)}`)).items.map((l: { id: string }) => l.id)).toEqual([ids[2]]);
    expect((await q(`q=${encodeURIComponent(`${tag} 100%`)}`)).items.map((l: { id: string }) => l.id)).toEqual([ids[4]]);
    expect((await q(`q=${encodeURIComponent(`${tag} %`)}`)).items.map((l: { id: string }) => l.id)).toEqual([ids[4]]);
    const chinese = await q(`q=${tag}&subject=chinese`);
    expect(chinese.items.map((l: { id: string }) => l.id).sort()).toEqual([ids[1], ids[2]].sort());
    expect((await q(`q=${tag}&subject=chinese&grade=g3`)).items.map((l: { id: string }) => l.id)).toEqual([ids[1]]);
    expect((await q(`q=${tag}&edition=bubian,pep`)).items).toHaveLength(3);
    // 专题教育 includes its sub-topics
    expect((await q(`q=${tag}&type=special`)).items.map((l: { id: string }) => l.id)).toEqual([ids[3]]);
    expect((await q(`q=${tag}&stage=senior`)).items).toEqual([]);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { items: { id: string }[]; nextCursor: string | null } = await q(`q=${tag}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.items.map((l) => l.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    expect(seen).toEqual([...ids].reverse());

    const facets = (await ts.api('GET', `/api/v1/facets?q=${tag}&subject=chinese`)).body;
    expect(facets.total).toBe(2);
    // a dimension's counts ignore its own filter, so other subjects stay choosable
    expect(facets.subject).toEqual(expect.arrayContaining([{ code: 'chinese', label: '语文', count: 2 }, { code: 'math', label: '数学', count: 2 }, { code: 'science', label: '科学', count: 1 }]));
    expect(facets.grade).toEqual(expect.arrayContaining([{ code: 'g3', label: '三年级', count: 1 }, { code: 'g2', label: '二年级', count: 1 }]));
    expect(facets.grade).toHaveLength(2);
  });

  it('when facets are asked with and without filters, then each dimension counts under the other dimensions\' filters only', async () => {
    const token = `分面${backend === 'pglite' ? '甲' : '乙'}计数`;
    await publishedLesson(ts, { title: `${token}一`, grade: 'g3', subject: 'math' });
    await publishedLesson(ts, { title: `${token}二`, grade: 'g3', subject: 'chinese' });
    await publishedLesson(ts, { title: `${token}三`, grade: 'g4', subject: 'math' });
    const facets = async (qs: string) => {
      const r = await ts.api('GET', `/api/v1/facets?q=${encodeURIComponent(token)}${qs}`);
      expect(r.status).toBe(200);
      const pick = (k: string) => Object.fromEntries((r.body[k] as { code: string; count: number }[]).map((i) => [i.code, i.count]));
      return { total: r.body.total, stage: pick('stage'), grade: pick('grade'), subject: pick('subject'), type: pick('type'), edition: pick('edition') };
    };
    expect(await facets('')).toEqual({ total: 3, stage: { primary: 3 }, grade: { g3: 2, g4: 1 }, subject: { math: 2, chinese: 1 }, type: { recorded: 3 }, edition: { pep: 3 } });
    expect(await facets('&subject=math')).toEqual({ total: 2, stage: { primary: 2 }, grade: { g3: 1, g4: 1 }, subject: { math: 2, chinese: 1 }, type: { recorded: 2 }, edition: { pep: 2 } });
    expect(await facets('&subject=math&grade=g4')).toEqual({ total: 1, stage: { primary: 1 }, grade: { g3: 1, g4: 1 }, subject: { math: 1 }, type: { recorded: 1 }, edition: { pep: 1 } });
    expect(await facets('&stage=primary&grade=g3&subject=chinese&type=recorded&edition=pep')).toEqual({ total: 1, stage: { primary: 1 }, grade: { g3: 1 }, subject: { math: 1, chinese: 1 }, type: { recorded: 1 }, edition: { pep: 1 } });
  });

  it('when the taxonomy is read, then every vocabulary has stable codes and Chinese labels', async () => {
    const t = (await ts.api('GET', '/api/v1/taxonomy')).body;
    expect(t.stages.map((s: { label: string }) => s.label)).toEqual(['小学', '初中', '高中', '中职']);
    expect(t.grades.find((g: { code: string }) => g.code === 'g12')).toEqual({ code: 'g12', label: '高三', stage: 'senior' });
    for (const label of ['语文', '数学', '英语', '物理', '化学', '生物', '历史', '地理', '道德与法治', '科学', '信息技术', '音乐', '美术', '体育与健康', '心理健康', '专业课']) {
      expect(t.subjects.map((s: { label: string }) => s.label)).toContain(label);
    }
    for (const label of ['直播课', '录播课', '微课', '专题教育', '防疫知识', '心理健康', '生命教育', '爱国主义教育']) expect(t.types.map((s: { label: string }) => s.label)).toContain(label);
    for (const label of ['人教版', '部编版', '北师大版', '苏教版', '外研版']) expect(t.editions.map((s: { label: string }) => s.label)).toContain(label);
  });

  it('when an operator adds a taxonomy item, then lessons can use it and a teacher cannot add one', async () => {
    const add = await ts.api('POST', '/api/v1/taxonomy/edition', { token: ts.users.operator.token, body: { code: 'jilin_local', label: '吉林地方教材' } });
    expect(add.status).toBe(201);
    expect((await ts.api('POST', '/api/v1/taxonomy/edition', { token: ts.users.operator.token, body: { code: 'jilin_local', label: 'x' } })).status).toBe(409);
    expect((await ts.api('POST', '/api/v1/taxonomy/edition', { token: ts.users.teacherA.token, body: { code: 'other', label: 'x' } })).status).toBe(403);
    const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ edition: 'jilin_local' }) });
    expect(c.status).toBe(201);
    expect(c.body.edition).toEqual({ code: 'jilin_local', label: '吉林地方教材' });
  });
});

describe('bad input', () => {
  it('when requests are malformed, then each is a 4xx problem naming the field, never a 500', async () => {
    const t = ts.users.teacherA.token;
    const cases: [string, string, Parameters<TestSystem['api']>[2], number, RegExp][] = [
      ['POST', '/api/v1/lessons', { token: t, body: '{"title":' }, 400, /malformed JSON/],
      ['POST', '/api/v1/lessons', { token: t, body: lessonBody({ extra: 1 }) }, 400, /extra/],
      ['POST', '/api/v1/lessons', { token: t, body: lessonBody({ title: 42 }) }, 400, /title/],
      ['POST', '/api/v1/lessons', { token: t, body: lessonBody({ grade: 'g10' }) }, 400, /grade/],
      ['POST', '/api/v1/lessons', { token: t, body: lessonBody({ subject: 'alchemy' }) }, 400, /subject/],
      ['POST', '/api/v1/lessons', { token: t, body: lessonBody({ kind: 'live' }) }, 400, /scheduledStart/],
      ['POST', '/api/v1/lessons', { token: t, body: lessonBody({ kind: 'live', scheduledStart: '2030-01-01T10:00:00Z', scheduledEnd: '2030-01-01T09:00:00Z' }) }, 400, /scheduledEnd/],
      ['POST', '/api/v1/lessons', { token: t, body: [1, 2] }, 400, /body/],
      ['POST', '/api/v1/lessons', { token: t, body: 'null' }, 400, /./],
      ['POST', '/api/v1/lessons', { token: t, body: JSON.stringify(lessonBody({ description: 'x'.repeat(400_000) })) }, 413, /too large/],
      ['POST', '/api/v1/lessons', { token: t, raw: 'title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, /json/],
      ['GET', '/api/v1/lessons/not-a-uuid', {}, 400, /id/],
      ['GET', '/api/v1/lessons/00000000-0000-0000-0000-000000000000', {}, 404, /not found/],
      ['GET', '/api/v1/lessons?limit=0', {}, 400, /limit/],
      ['GET', '/api/v1/lessons?cursor=garbage', {}, 400, /cursor/],
      ['GET', '/api/v1/lessons?stage=PRIMARY;DROP', {}, 400, /stage/],
      ['GET', '/api/v1/lessons?bogus=1', {}, 400, /bogus/],
      ['GET', `/api/v1/lessons?q=${'长'.repeat(500)}`, {}, 400, /q/],
      ['POST', '/api/v1/auth/login', { body: { username: 'x' } }, 400, /password/],
      ['POST', '/api/v1/lessons/00000000-0000-0000-0000-000000000000/review', { token: ts.users.reviewerA.token, body: { decision: 'maybe' } }, 400, /decision/],
      ['DELETE', '/api/v1/lessons/00000000-0000-0000-0000-000000000000/publications/radio', { token: ts.users.operator.token }, 400, /channel/],
      ['PATCH', '/api/v1/lessons', {}, 405, /not allowed/],
      ['GET', '/api/v1/nothing-here', {}, 404, /no such endpoint/],
      ['GET', '/api/v1/staff/lessons', { token: 'cc_forged_token_value_that_is_long_enough' }, 401, /token/],
    ];
    for (const [method, path, opts, status, re] of cases) {
      const r = await ts.api(method, path, opts);
      expect({ path, method, status: r.status }).toEqual({ path, method, status });
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.body.detail).toMatch(re);
    }
  });

  it('when a reader asks for the OpenAPI document, then it is 3.1 and documents the request schemas', async () => {
    const doc = (await ts.api('GET', '/api/v1/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    const create = doc.paths['/api/v1/lessons'].post;
    const schema = create.requestBody.content['application/json'].schema;
    expect(schema.required).toEqual(expect.arrayContaining(['title', 'kind', 'stage', 'grade', 'subject', 'type', 'edition']));
    expect(schema.additionalProperties).toBe(false);
    expect(doc.paths['/api/v1/lessons/{id}/review'].post['x-roles']).toEqual(['reviewer']);
    expect(doc.paths['/api/v1/lessons'].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['stage', 'grade', 'subject', 'type', 'edition', 'q', 'cursor', 'limit']));
  });
});

describe('ops', () => {
  it('when probed, then healthz, readyz and metrics answer', async () => {
    expect((await ts.api('GET', '/healthz')).status).toBe(200);
    const ready = await ts.api('GET', '/readyz');
    expect(ready.body).toEqual({ status: 'ready', checks: { database: 'ok', redis: 'ok', storage: 'ok' } });
    const m = await fetch(`${ts.url}/metrics`).then((r) => r.text());
    expect(m).toMatch(/classcast_http_requests_total\{method="GET",route="\/api\/v1\/lessons",status="200"\} \d+/);
    expect(m).toMatch(/classcast_http_request_duration_seconds_bucket\{le="0.05",method="GET",route="\/healthz"\}/);
    // ids never become labels
    expect(m).not.toMatch(/route="\/api\/v1\/lessons\/[0-9a-f]{8}/);
  });
});
});
