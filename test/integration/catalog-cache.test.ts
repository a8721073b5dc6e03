import { gunzipSync } from 'node:zlib';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publishedLesson, startTestSystem, type TestSystem } from '../helpers/system.ts';
import { startApiProcess } from '../helpers/api-process.ts';

/**
 * The public catalog's read path: validators and lifetimes on lists, facets and details, 304s, the
 * response cache keyed by the normalised query, staff requests kept out of it, and invalidation of
 * every API process on publish, withdraw and edit.
 */

let ts: TestSystem;
beforeAll(async () => {
  ts = await startTestSystem({ api: true });
});
afterAll(async () => {
  await ts?.stop();
});

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });

/** Waits (bounded) until a predicate over a URL's JSON answer holds; returns whether it did. */
async function eventually(url: string, ok: (body: any) => boolean, boundMs = 10_000): Promise<boolean> {
  const until = Date.now() + boundMs;
  while (Date.now() < until) {
    const r = await get(url);
    if (r.status === 200 && ok(await r.json())) return true;
    await new Promise((res) => setTimeout(res, 25));
  }
  return false;
}

/** Changes a lesson's title behind the catalog's back (no announcement): only a cache keeps the old one. */
async function retitleSilently(id: string, title: string): Promise<void> {
  await ts.sys.db.query('UPDATE lessons SET title = $2 WHERE id = $1', [id, title]);
}

describe('public catalog responses', () => {
  it('when the public reads lists, facets and details, then each has a strong ETag, a short public lifetime and 304 on revalidation', async () => {
    const id = await publishedLesson(ts, { title: '缓存头测试课' });
    for (const path of ['/api/v1/lessons?stage=primary', '/api/v1/facets?subject=math', `/api/v1/lessons/${id}`]) {
      const r = await get(`${ts.url}${path}`);
      expect(r.status).toBe(200);
      const etag = r.headers.get('etag')!;
      expect(etag).toMatch(/^"[A-Za-z0-9_.-]+"$/);
      expect(r.headers.get('cache-control')).toBe('public, max-age=5');
      expect(r.headers.get('vary')).toMatch(/Authorization/);
      expect(r.headers.get('vary')).toMatch(/Cookie/);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      await r.json();
      const again = await get(`${ts.url}${path}`, { 'if-none-match': etag });
      expect({ path, status: again.status }).toEqual({ path, status: 304 });
      expect(again.headers.get('etag')).toBe(etag);
      expect(await again.text()).toBe('');
      const other = await get(`${ts.url}${path}`, { 'if-none-match': '"something-else"' });
      expect(other.status).toBe(200);
    }
  });

  it('when a large list is asked for with gzip, then the gzipped body has its own ETag and revalidates too', async () => {
    await publishedLesson(ts, { title: '压缩测试课' });
    const raw = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      http.get(`${ts.url}/api/v1/lessons?limit=100`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
    expect(raw.status).toBe(200);
    expect(raw.headers['content-encoding']).toBe('gzip');
    const plain = await get(`${ts.url}/api/v1/lessons?limit=100`, { 'accept-encoding': 'identity' });
    expect(gunzipSync(raw.body).toString()).toBe(await plain.text());
    expect(raw.headers.etag).not.toBe(plain.headers.get('etag'));
    expect((await get(`${ts.url}/api/v1/lessons?limit=100`, { 'accept-encoding': 'gzip', 'if-none-match': raw.headers.etag! })).status).toBe(304);
  });

  it('when the same query is spelled differently, then it is one cache entry; bad parameters are still 400', async () => {
    const id = await publishedLesson(ts, { title: '规范化查询课' });
    const a = `${ts.url}/api/v1/lessons?subject=math&stage=primary,junior&q=${encodeURIComponent('  规范化查询 ')}`;
    const b = `${ts.url}/api/v1/lessons?q=${encodeURIComponent('规范化查询')}&stage=junior,primary,junior&subject=math&limit=20`;
    const first = await get(a);
    expect((await first.json()).items.map((l: { id: string }) => l.id)).toEqual([id]);
    await retitleSilently(id, '规范化查询课（改）');
    // the other spelling is answered from the entry the first one made: the silent change is not seen
    const second = await get(b);
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    expect((await second.json()).items[0].title).toBe('规范化查询课');
    for (const bad of ['?limit=0', '?limit=abc', '?stage=Not-A-Code', '?colour=red', `?q=${'长'.repeat(101)}`]) {
      const r = await get(`${ts.url}/api/v1/lessons${bad}`);
      expect({ bad, status: r.status }).toEqual({ bad, status: 400 });
      expect(r.headers.get('content-type')).toMatch(/problem\+json/);
    }
    expect((await get(`${ts.url}/api/v1/facets?stage=primary&cursor=x`)).status).toBe(400);
    expect((await get(`${ts.url}/api/v1/lessons/not-a-uuid`)).status).toBe(400);
    await ts.sys.services.access.invalidate(id);
  });

  it('when staff read with a token or a session cookie, then they are never served from nor stored in the public cache', async () => {
    const id = await publishedLesson(ts, { title: '员工视图课' });
    const detail = `${ts.url}/api/v1/lessons/${id}`;
    // public first: the entry exists; the teacher still gets the staff view, privately
    const pub = await get(detail);
    expect((await pub.json()).status).toBeUndefined();
    const staff = await get(detail, { authorization: `Bearer ${ts.users.teacherA.token}` });
    expect(staff.headers.get('cache-control')).toBe('private, no-store');
    expect(staff.headers.get('etag')).toBeNull();
    expect((await staff.json()).status).toBe('published');
    // a staff answer never lands in the cache: after a silent change the public entry is unchanged,
    // while staff see the database
    await retitleSilently(id, '员工视图课（改）');
    expect((await (await get(detail, { authorization: `Bearer ${ts.users.operator.token}` })).json()).title).toBe('员工视图课（改）');
    expect((await (await get(detail)).json()).title).toBe('员工视图课');
    for (const headers of [{ cookie: 'cc_session=whatever' }, { authorization: 'Bearer not-a-token' }] as Record<string, string>[]) {
      for (const path of [`/api/v1/lessons/${id}`, '/api/v1/lessons', '/api/v1/facets']) {
        const r = await get(`${ts.url}${path}`, headers);
        expect({ path, cc: r.headers.get('cache-control'), etag: r.headers.get('etag') }).toEqual({ path, cc: 'private, no-store', etag: null });
      }
      expect((await (await get(detail, headers)).json()).title).toBe('员工视图课（改）');
    }
    // nor is a list or facets answer asked with credentials stored for the public
    await ts.sys.services.access.invalidate(id);
    await get(`${ts.url}/api/v1/lessons?q=${encodeURIComponent('员工视图')}`, { authorization: `Bearer ${ts.users.operator.token}` });
    await retitleSilently(id, '员工视图课（再改）');
    const list = await (await get(`${ts.url}/api/v1/lessons?q=${encodeURIComponent('员工视图')}`)).json();
    expect(list.items[0].title).toBe('员工视图课（再改）');
  });

  it('when a lesson is withdrawn, republished or edited, then this process answers from the database at once', async () => {
    const id = await publishedLesson(ts, { title: '本进程失效课' });
    const search = `${ts.url}/api/v1/lessons?q=${encodeURIComponent('本进程失效')}`;
    const facets = `${ts.url}/api/v1/facets?q=${encodeURIComponent('本进程失效')}`;
    expect((await (await get(search)).json()).items).toHaveLength(1);
    expect((await (await get(facets)).json()).total).toBe(1);
    const etag = (await get(`${ts.url}/api/v1/lessons/${id}`)).headers.get('etag')!;
    expect((await ts.api('DELETE', `/api/v1/lessons/${id}/publications/portal`, { token: ts.users.operator.token })).status).toBe(200);
    expect((await (await get(search)).json()).items).toHaveLength(0);
    expect((await (await get(facets)).json()).total).toBe(0);
    expect((await get(`${ts.url}/api/v1/lessons/${id}`, { 'if-none-match': etag })).status).toBe(404);
    expect((await ts.api('POST', `/api/v1/lessons/${id}/publications`, { token: ts.users.operator.token, body: { channel: 'portal' } })).status).toBe(201);
    expect((await (await get(search)).json()).items).toHaveLength(1);
    // an edit is announced like a publication change
    await retitleSilently(id, '本进程失效课（改）');
    await ts.sys.services.access.invalidate(id);
    expect((await (await get(search)).json()).items[0].title).toBe('本进程失效课（改）');
  });
});

/** Counts the public catalog's queries (of lessons or their search rows) sent to PostgreSQL (not the live sweep's, say), until restored. */
function countLessonQueries(sys: TestSystem['sys']): { readonly n: number; restore: () => void } {
  type Query = (sql: string, params?: unknown[]) => Promise<unknown[]>;
  const db = sys.db as unknown as { query: Query; tx: <T>(fn: (q: { query: Query }) => Promise<T>) => Promise<T> };
  const { query, tx } = db;
  let n = 0;
  const counted = (q: Query): Query => (sql, params) => {
    if (/\bportal_published_at\b|\blesson_search_cells\b/.test(sql)) n++;
    return q(sql, params);
  };
  db.query = counted(query.bind(db));
  db.tx = <T,>(fn: (q: { query: Query }) => Promise<T>) => tx.call(db, (q) => fn({ query: counted(q.query.bind(q)) })) as Promise<T>;
  return { get n() { return n; }, restore: () => { db.query = query; db.tx = tx; } };
}

/**
 * Drops every cached answer and waits until the announcement's echo from Redis has arrived too (this
 * process hears its own announcements), so no second drop lands in the middle of what follows.
 */
async function dropAll(sys: TestSystem['sys'], lessonId: string): Promise<void> {
  let heard = 0;
  sys.services.access.onChange(() => { heard++; });
  await sys.services.access.invalidate(lessonId);
  const until = Date.now() + 5000;
  while (heard < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
}

describe('concurrent misses', () => {
  it('when 30 students miss the same list, facets or detail at once, then PostgreSQL is asked once, as for one student', async () => {
    const id = await publishedLesson(ts, { title: '同时未命中课' });
    for (const path of [`/api/v1/lessons?q=${encodeURIComponent('同时未命中')}`, `/api/v1/facets?q=${encodeURIComponent('同时未命中')}&stage=primary`, `/api/v1/lessons/${id}`]) {
      // what one request costs on a miss
      await dropAll(ts.sys, id);
      const one = countLessonQueries(ts.sys);
      expect((await get(`${ts.url}${path}`)).status).toBe(200);
      one.restore();
      expect(one.n).toBeGreaterThan(0);
      await dropAll(ts.sys, id);
      const burst = countLessonQueries(ts.sys);
      const answers = await Promise.all(Array.from({ length: 30 }, () => get(`${ts.url}${path}`).then(async (r) => ({ status: r.status, etag: r.headers.get('etag'), body: await r.text() }))));
      burst.restore();
      expect({ path, queries: burst.n }).toEqual({ path, queries: one.n });
      expect(new Set(answers.map((a) => `${a.status} ${a.etag}`)).size).toBe(1);
      expect(answers[0].status).toBe(200);
    }
  });
});

describe('stale answers (fresh for 2 s, then stale while one request refreshes)', () => {
  let st: TestSystem;
  beforeAll(async () => {
    st = await startTestSystem({ api: true }, { CATALOG_CACHE_FRESH_S: '2', CATALOG_CACHE_STALE_S: '600' });
  });
  afterAll(async () => {
    await st?.stop();
  });
  const pastFresh = () => new Promise((r) => setTimeout(r, 2300));

  it('when an answer is past its fresh lifetime, then it is served once more while a single query refreshes it', async () => {
    const id = await publishedLesson(st, { title: '过期仍答课' });
    const search = `${st.url}/api/v1/lessons?q=${encodeURIComponent('过期仍答')}`;
    expect((await (await get(search)).json()).items[0].title).toBe('过期仍答课');
    await st.sys.db.query('UPDATE lessons SET title = $2 WHERE id = $1', [id, '过期仍答课（改）']);
    await pastFresh();
    const counter = countLessonQueries(st.sys);
    // the first asker after the fresh lifetime gets the stale answer without waiting for the refresh
    // it starts; those asking meanwhile get it too, then the refreshed one; one query for all of them
    expect((await (await get(search)).json()).items[0].title).toBe('过期仍答课');
    const answers = await Promise.all(Array.from({ length: 20 }, async () => (await (await get(search)).json()).items[0].title as string));
    expect(answers.every((t) => t === '过期仍答课' || t === '过期仍答课（改）')).toBe(true);
    expect(await eventually(search, (b) => b.items[0]?.title === '过期仍答课（改）')).toBe(true);
    counter.restore();
    expect(counter.n).toBe(1);
  });

  it('when a lesson is withdrawn while its answers are stale, then no answer shows it again', async () => {
    const id = await publishedLesson(st, { title: '撤回不陈旧课' });
    const search = `${st.url}/api/v1/lessons?q=${encodeURIComponent('撤回不陈旧')}`;
    const facets = `${st.url}/api/v1/facets?q=${encodeURIComponent('撤回不陈旧')}`;
    const detail = `${st.url}/api/v1/lessons/${id}`;
    expect((await (await get(search)).json()).items).toHaveLength(1);
    expect((await (await get(facets)).json()).total).toBe(1);
    expect((await get(detail)).status).toBe(200);
    await pastFresh();
    expect((await st.api('DELETE', `/api/v1/lessons/${id}/publications/portal`, { token: st.users.operator.token })).status).toBe(200);
    // the very next answers, with no wait: the stale entries were dropped, not kept for a refresh
    expect((await (await get(search)).json()).items).toHaveLength(0);
    expect((await (await get(facets)).json()).total).toBe(0);
    expect((await get(detail)).status).toBe(404);
  });
});

describe('a filtered search found by walking the newest lessons', () => {
  it('when a filtered search is paged two at a time, then the pages (from the walk) are exactly the one-page answer (from the search index), in order', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await publishedLesson(ts, { title: `逐页走查课${i}` }));
    await publishedLesson(ts, { title: '逐页走查课（数学以外）', subject: 'chinese' });
    const q = `q=${encodeURIComponent('逐页走查')}&subject=math`;
    const whole = await (await get(`${ts.url}/api/v1/lessons?${q}&limit=50`)).json();
    expect(whole.items.map((l: { id: string }) => l.id).sort()).toEqual([...ids].sort());
    const paged: string[] = [];
    let cursor: string | null = null;
    for (let n = 0; n < 5; n++) {
      const page: { items: { id: string }[]; nextCursor: string | null } = await (await get(`${ts.url}/api/v1/lessons?${q}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).json();
      paged.push(...page.items.map((l) => l.id));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    expect(paged).toEqual(whole.items.map((l: { id: string }) => l.id));
  });
});

describe('facet counts kept by the database', () => {
  /** The kept counts and a fresh count of the published lessons, both in the same order. */
  async function keptAndCounted(): Promise<[unknown[], unknown[]]> {
    const order = 'ORDER BY stage, grade, subject, type, edition';
    return Promise.all([
      ts.sys.db.query(`SELECT stage, grade, subject, type, edition, n FROM lesson_facet_counts WHERE n <> 0 ${order}`),
      ts.sys.db.query(`SELECT stage, grade, subject, type, edition, count(*)::int n FROM lessons WHERE portal_published_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5 ${order}`),
    ]);
  }

  it('when lessons are published, withdrawn, republished and reclassified, then the kept counts equal a count of the published lessons', async () => {
    const a = await publishedLesson(ts, { title: '计数甲课', subject: 'math' });
    const b = await publishedLesson(ts, { title: '计数乙课', subject: 'chinese' });
    let [kept, counted] = await keptAndCounted();
    expect(kept).toEqual(counted);
    const before = (await (await get(`${ts.url}/api/v1/facets`)).json()).total as number;
    expect((await ts.api('DELETE', `/api/v1/lessons/${a}/publications/portal`, { token: ts.users.operator.token })).status).toBe(200);
    [kept, counted] = await keptAndCounted();
    expect(kept).toEqual(counted);
    expect((await (await get(`${ts.url}/api/v1/facets`)).json()).total).toBe(before - 1);
    expect((await ts.api('POST', `/api/v1/lessons/${a}/publications`, { token: ts.users.operator.token, body: { channel: 'portal' } })).status).toBe(201);
    // one statement moving two published lessons between combinations (their counts swap)
    await ts.sys.db.query(`UPDATE lessons SET subject = CASE WHEN id = $1 THEN 'chinese' ELSE 'math' END WHERE id IN ($1, $2)`, [a, b]);
    [kept, counted] = await keptAndCounted();
    expect(kept).toEqual(counted);
    await ts.sys.services.access.invalidate(a);
    const facets = await (await get(`${ts.url}/api/v1/facets`)).json();
    expect(facets.total).toBe(before);
    expect(facets.total).toBe(counted.reduce((sum: number, r) => sum + (r as { n: number }).n, 0));
  });
});

// two API processes share one database: PostgreSQL (an embedded PGlite belongs to one process)
describe.skipIf(!inject('databaseUrl'))('two API processes', () => {
  it('when a lesson is published, edited or withdrawn through one process, then the other process drops its cached answers', async () => {
    const other = await startApiProcess(ts.sys.config);
    try {
      const id = await publishedLesson(ts, { title: '跨进程缓存课' });
      const search = `${other.url}/api/v1/lessons?q=${encodeURIComponent('跨进程缓存')}`;
      const detail = `${other.url}/api/v1/lessons/${id}`;
      expect((await (await get(search)).json()).items.map((l: { id: string }) => l.id)).toEqual([id]);
      expect((await get(detail)).status).toBe(200);
      // the other process really answers from its cache: a silent change stays unseen there
      await retitleSilently(id, '跨进程缓存课（改）');
      expect((await (await get(detail)).json()).title).toBe('跨进程缓存课');
      expect((await (await get(search)).json()).items[0].title).toBe('跨进程缓存课');

      // an edit announced in this process reaches the other (bounded wait, well below the entries' own 30 s)
      await ts.sys.services.access.invalidate(id);
      expect(await eventually(detail, (b) => b.title === '跨进程缓存课（改）')).toBe(true);
      expect(await eventually(search, (b) => b.items[0]?.title === '跨进程缓存课（改）')).toBe(true);

      // a withdrawal through the API of this process
      expect((await ts.api('DELETE', `/api/v1/lessons/${id}/publications/portal`, { token: ts.users.operator.token })).status).toBe(200);
      expect(await eventually(search, (b) => b.items.length === 0)).toBe(true);
      const until = Date.now() + 10_000;
      let status = 200;
      while (status !== 404 && Date.now() < until) status = (await get(detail)).status;
      expect(status).toBe(404);

      // a publication of a new lesson shows up in the other process's already cached list
      const list = `${other.url}/api/v1/lessons?q=${encodeURIComponent('跨进程新课')}`;
      expect((await (await get(list)).json()).items).toHaveLength(0);
      const fresh = await publishedLesson(ts, { title: '跨进程新课' });
      expect(await eventually(list, (b) => b.items.some((l: { id: string }) => l.id === fresh))).toBe(true);
    } finally {
      await other.stop();
    }
  });
});
