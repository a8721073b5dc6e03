import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishedLesson, startTestSystem, type TestSystem } from '../helpers/system.ts';
import type { PublicFilters } from '../../src/services/lessons.service.ts';
import { searchBigrams } from '../../src/infra/text-search.ts';

/**
 * Facet counts of a text search (read from the narrow rows and combination numbers the database keeps,
 * migration 012, or from the counts it keeps of terms found in many lessons, migration 014) against a
 * plain COUNT(*) ... GROUP BY over lessons with the same search and filters, on a few thousand lessons
 * with words of different frequency, through publications, withdrawals and edits by the API and by bulk
 * statements.
 */

let ts: TestSystem;
beforeAll(async () => {
  ts = await startTestSystem({ api: true });
});
afterAll(async () => {
  await ts?.stop();
});

const dims = ['stage', 'grade', 'subject', 'type', 'edition'] as const;
type Dim = (typeof dims)[number];

/** A small deterministic generator: the same data set on every run. */
function generator(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Inserts `n` lessons as the benchmark does (one statement per batch), a sixth of them not published.
 * Every text holds 的学习, all but one in forty 与复习; 方程 is in about half, 光合作用 in a fifth, 三角形 in a twentieth, 丝绸之路 in
 * one in a hundred; some hold 光合, 合作 and 作用 apart (every bigram of 光合作用, never the word), or
 * 光合作 and 合作用 apart, or 三角 and 角形 apart; some "100%" or "100x", some Latin capitals (found
 * lower-cased).
 */
async function seedLessons(n: number): Promise<void> {
  const rnd = generator(12);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const tax = await ts.sys.services.taxonomy.get();
  const school = (await ts.sys.db.query<{ id: string }>('SELECT id FROM schools WHERE code = $1', [ts.schools.A]))[0].id;
  // a few grades, subjects, editions and types, so that combinations repeat and filters match many
  const grades = tax.grade.filter((g) => ['g1', 'g3', 'g7', 'g10', 'v1'].includes(g.code));
  const subjects = ['chinese', 'math', 'biology', 'history'];
  const types = ['recorded', 'micro', 'special', 'special_life', 'special_mental'];
  const editions = ['pep', 'bnu', 'general'];
  for (let off = 0; off < n; off += 500) {
    const values: string[] = [];
    const params: unknown[] = [];
    for (let i = off; i < Math.min(n, off + 500); i++) {
      const parts = [`第${i}课`];
      if (rnd() < 0.5) parts.push('方程的解法');
      if (rnd() < 0.2) parts.push('植物的光合作用');
      if (rnd() < 0.05) parts.push('三角形');
      if (rnd() < 0.01) parts.push('丝绸之路');
      if (rnd() < 0.1) parts.push('光合细胞的合作与作用');
      if (rnd() < 0.05) parts.push('光合作物与合作用品');
      if (rnd() < 0.05) parts.push('三角尺与角形');
      if (rnd() < 0.05) parts.push(rnd() < 0.5 ? '折扣100%' : '编号100x');
      if (rnd() < 0.1) parts.push('Photosynthesis Lab');
      const title = parts.slice(0, 2).join(' ');
      const description = `${parts.slice(2).join('，')}的学习${i % 40 === 3 ? '' : '与复习'}`;
      const text = `${title}\n${description}`.toLowerCase();
      const grade = pick(grades);
      const published = rnd() < 5 / 6 ? new Date(Date.UTC(2026, 0, 1) + i * 60_000) : null;
      const p = params.length;
      values.push(`($${p + 1}, $${p + 2}, $${p + 3}, 'recorded', $${p + 4}, $${p + 5}, $${p + 6}, $${p + 7}, $${p + 8}, $${p + 9}, $${p + 10}, $${p + 11}, $${p + 12}, $${p + 13}, $${p + 14})`);
      params.push(randomUUID(), title, description, school, ts.users.teacherA.id, grade.stage, grade.code, pick(subjects), pick(types), pick(editions), published ? 'published' : 'draft', published, text, searchBigrams(text));
    }
    await ts.sys.db.query(
      `INSERT INTO lessons (id, title, description, kind, school_id, teacher_id, stage, grade, subject, type, edition, status, portal_published_at, search_text, search_bigrams) VALUES ${values.join(', ')}`,
      params,
    );
  }
}

/** The codes each filtered dimension accepts (a type includes its sub-types). */
async function codesOf(f: PublicFilters): Promise<Partial<Record<Dim, string[]>>> {
  const codes: Partial<Record<Dim, string[]>> = {};
  for (const d of dims) {
    if (!f[d]) continue;
    codes[d] = d === 'type'
      ? (await ts.sys.db.query<{ code: string }>("SELECT code FROM taxonomy WHERE kind = 'type' AND (code = ANY($1) OR parent = ANY($1))", [f.type])).map((r) => r.code)
      : f[d];
  }
  return codes;
}

/** Per dimension, [code, count] pairs in code order (and the total), as a plain COUNT(*) over lessons gives them. */
async function counted(f: PublicFilters): Promise<Record<Dim, [string, number][]> & { total: number }> {
  const codes = await codesOf(f);
  const terms = f.q ? f.q.split(' ').slice(0, 5) : [];
  // one statement: per dimension a GROUP BY under the other dimensions' filters, then the total
  const params: unknown[] = [];
  const termConds = terms.map((t) => { params.push(t); return `strpos(search_text, $${params.length}) > 0`; });
  const codeConds = new Map(dims.filter((d) => codes[d]).map((d) => { params.push(codes[d]); return [d, `${d} = ANY($${params.length})`]; }));
  const where = (except?: Dim) => ['portal_published_at IS NOT NULL', ...termConds, ...[...codeConds].filter(([d]) => d !== except).map(([, c]) => c)].join(' AND ');
  const rows = await ts.sys.db.query<{ dim: Dim | 'total'; code: string; n: number }>(
    [...dims.map((d) => `SELECT '${d}' dim, ${d} code, count(*)::int n FROM lessons WHERE ${where(d)} GROUP BY ${d}`), `SELECT 'total' dim, '' code, count(*)::int n FROM lessons WHERE ${where()}`].join(' UNION ALL '),
    params,
  );
  const out = { total: rows.find((r) => r.dim === 'total')!.n } as Record<Dim, [string, number][]> & { total: number };
  for (const d of dims) out[d] = rows.filter((r) => r.dim === d).map((r): [string, number] => [r.code, r.n]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return out;
}

/** The facets the catalog answers, in the same shape (the service itself: no response cache in between). */
async function answered(f: PublicFilters): Promise<Record<Dim, [string, number][]> & { total: number }> {
  const r = await ts.sys.services.lessons.facets(f);
  const out = { total: r.total } as Record<Dim, [string, number][]> & { total: number };
  for (const d of dims) out[d] = r[d].map((i): [string, number] => [i.code, i.count]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return out;
}

/** Searches (as the API hands them on: trimmed, lower-cased) of different frequency, and filters ('': none, the kept counts). */
const searches = ['', '学习', '的学习', '复习', '复', '与复习', '方程', '光合作用', '合作', '三角形', '丝绸之路', '诗', '第1', '100%', '100x', 'photosynthesis', '光合作用 方程', '学习 三角形 第2', '不存在的词'];
const filterSets: Omit<PublicFilters, 'q'>[] = [
  {},
  { stage: ['primary'] },
  { subject: ['math', 'biology'], edition: ['pep'] },
  { type: ['special'] },
  { stage: ['junior', 'senior'], grade: ['g7', 'g1'], subject: ['chinese'], type: ['micro', 'special_life'], edition: ['bnu', 'general'] },
];

/** Every search under every filter set (or some): the catalog's counts equal the plain count. */
async function expectAllCountsTrue(sets = filterSets): Promise<number> {
  let compared = 0;
  for (const q of searches) {
    for (const filters of sets) {
      const f = { ...filters, q: q || undefined };
      expect({ f, counts: await answered(f) }).toEqual({ f, counts: await counted(f) });
      compared++;
    }
  }
  return compared;
}

/** The terms whose counts the database keeps (migration 014), in code order. */
async function keptTerms(): Promise<string[]> {
  return (await ts.sys.db.query<{ term: string }>('SELECT term FROM lesson_search_terms')).map((r) => r.term).sort();
}

describe('facet counts of a text search', () => {
  it('when a few thousand lessons are searched with filters, then every count equals a COUNT(*) GROUP BY over the lessons, also after publications, withdrawals and edits', async () => {
    await seedLessons(3000);
    // the data set is what the test means it to be: a common word, a fifth, a rare one, decoys
    const share = async (term: string) => (await counted({ q: term })).total / (await counted({})).total;
    expect(await share('学习')).toBe(1);
    expect(await share('复习')).toBeGreaterThan(0.95);
    expect(await share('复习')).toBeLessThan(1);
    expect(await share('光合作用')).toBeGreaterThan(0.15);
    expect(await share('丝绸之路')).toBeLessThan(0.03);
    const withEveryBigram = (await ts.sys.db.query<{ n: number }>("SELECT count(*)::int n FROM lessons WHERE portal_published_at IS NOT NULL AND search_bigrams @> '{光合,合作,作用}'"))[0].n;
    expect((await counted({ q: '光合作用' })).total).toBeLessThan(withEveryBigram);
    expect((await counted({ q: '光合作用' })).total).toBeLessThan((await counted({ q: '光合作 合作用' })).total);
    expect((await counted({ q: '三角形' })).total).toBeLessThan((await counted({ q: '三角 角形' })).total);
    expect(await expectAllCountsTrue()).toBe(searches.length * filterSets.length);
    // one-term searches found in at least 2,000 lessons have their counts kept from their first search
    // on: the rest of the test checks what the database keeps through changes
    expect(await keptTerms()).toEqual(['复', '复习', '学习', '与复习', '的学习'].sort());

    // through the API: publish, withdraw, an accepted edit of text and grade, a republication
    const a = await publishedLesson(ts, { title: '光合作用与三角形', description: '学习丝绸之路' });
    const b = await publishedLesson(ts, { title: '方程', description: '学习' });
    const c = await publishedLesson(ts, { title: '诗词', description: '学习' });
    expect((await ts.api('DELETE', `/api/v1/lessons/${b}/publications/portal`, { token: ts.users.operator.token })).status).toBe(200);
    expect((await ts.api('PATCH', `/api/v1/lessons/${c}`, { token: ts.users.teacherA.token, body: { title: '光合作用的诗', grade: 'g1' } })).status).toBe(200);
    const pending = (await ts.api('GET', `/api/v1/lessons/${c}/edits`, { token: ts.users.teacherA.token })).body.pending.id as string;
    expect((await ts.api('POST', `/api/v1/lesson-edits/${pending}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } })).status).toBe(200);
    expect((await counted({ q: '光合作用的诗', grade: ['g1'] })).total).toBe(1);
    expect((await ts.api('DELETE', `/api/v1/lessons/${a}/publications/portal`, { token: ts.users.operator.token })).status).toBe(200);
    expect((await ts.api('POST', `/api/v1/lessons/${a}/publications`, { token: ts.users.operator.token, body: { channel: 'portal' } })).status).toBe(201);
    // filters apply to the counted combinations (no SQL of their own): after changes, three sets suffice
    const someSets = [filterSets[0], filterSets[1], filterSets[4]];
    await expectAllCountsTrue(someSets);

    // bulk statements: a tenth withdrawn, texts rewritten, lessons moved to other combinations (some
    // never counted before), drafts published, lessons deleted
    await ts.sys.db.query("UPDATE lessons SET portal_published_at = NULL WHERE portal_published_at IS NOT NULL AND title LIKE '第%1课%'");
    await ts.sys.db.query("UPDATE lessons SET search_text = replace(search_text, '三角形', '平行四边形') WHERE search_text LIKE '%三角形%' AND title LIKE '第%3%'");
    for (const r of await ts.sys.db.query<{ id: string; search_text: string }>("SELECT id, search_text FROM lessons WHERE search_text LIKE '%平行四边形%'")) {
      await ts.sys.db.query('UPDATE lessons SET search_bigrams = $2 WHERE id = $1', [r.id, searchBigrams(r.search_text)]);
    }
    await ts.sys.db.query("UPDATE lessons SET subject = 'geography', edition = 'sujiao' WHERE title LIKE '第%7课%'");
    await ts.sys.db.query("UPDATE lessons SET portal_published_at = now(), status = 'published' WHERE portal_published_at IS NULL AND title LIKE '第%5课%'");
    await ts.sys.db.query("DELETE FROM lessons WHERE title LIKE '第%9课%' AND id NOT IN (SELECT lesson_id FROM assets)");
    await expectAllCountsTrue(someSets);
    for (const q of ['平行四边形', '三角形 平行四边形']) {
      for (const filters of [{}, { subject: ['geography'] }]) expect(await answered({ ...filters, q })).toEqual(await counted({ ...filters, q }));
    }
    expect((await counted({ q: '平行四边形' })).total).toBeGreaterThan(0);

    // the route itself: the search as a student types it (capitals, spaces)
    const r = await ts.api('GET', `/api/v1/facets?stage=primary&q=${encodeURIComponent('  PhotoSynthesis   光合作用 ')}`);
    expect(r.status).toBe(200);
    const want = await counted({ stage: ['primary'], q: 'photosynthesis 光合作用' });
    expect(r.body.total).toBe(want.total);
    expect(r.body.total).toBeGreaterThan(0);
  });

  it('when lessons are listed with two filters or more, then the pages hold what a plain ORDER BY over the lessons gives, whether the combination has no lesson, many or a few', async () => {
    // the 40 oldest published lessons get a combination of their own: many, none of them among the newest
    await ts.sys.db.query("UPDATE lessons SET subject = 'math', edition = 'bubian' WHERE id IN (SELECT id FROM lessons WHERE portal_published_at IS NOT NULL ORDER BY portal_published_at, id LIMIT 40)");
    const sets: Omit<PublicFilters, 'q'>[] = [
      { stage: ['junior'], grade: ['g1'] },
      { stage: ['primary'], subject: ['math'] },
      { subject: ['math', 'biology'], edition: ['pep'] },
      { grade: ['g7'], subject: ['chinese'], type: ['micro'], edition: ['bnu'] },
      filterSets[4],
      { subject: ['math'], edition: ['bubian'] },
    ];
    const sizes: number[] = [];
    for (const f of sets) {
      const codes = await codesOf(f);
      const params: unknown[] = [];
      const conds = Object.entries(codes).map(([d, c]) => { params.push(c); return `${d} = ANY($${params.length})`; });
      const want = (await ts.sys.db.query<{ id: string }>(`SELECT id FROM lessons WHERE portal_published_at IS NOT NULL AND ${conds.join(' AND ')} ORDER BY portal_published_at DESC, id DESC`, params)).map((r) => r.id);
      const got: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await ts.sys.services.lessons.listPublic(f, cursor, 20, ts.url);
        got.push(...page.items.map((i) => i.id));
        cursor = page.nextCursor ?? undefined;
        if (!cursor) break;
      }
      expect({ f, ids: got }).toEqual({ f, ids: want });
      sizes.push(want.length);
    }
    // none; enough that the newest 2,000 of the catalog's lessons should hold a page (catalog.repo.ts),
    // and do; fewer; as many, but all older than the newest 2,000
    const published = (await counted({})).total;
    expect(sizes[0]).toBe(0);
    expect(sizes[1] * 2000).toBeGreaterThanOrEqual(21 * published);
    expect(sizes[3]).toBeGreaterThan(0);
    expect(sizes[3] * 2000).toBeLessThan(21 * published);
    expect(sizes[5]).toBe(40);
    expect(40 * 2000).toBeGreaterThanOrEqual(21 * published);
    expect(published).toBeGreaterThan(2040);
  });

  it('when a term would be kept while a writer of its lessons has not committed, then it is kept by a later search and its counts stay exact through writes', async () => {
    // in all but one in forty texts of the first case's seed and not searched there: in enough
    // published lessons to be kept (2,000, catalog.repo.ts)
    const term = '习与复';
    const exact = async (f: Omit<PublicFilters, 'q'> = {}) => expect(await answered({ ...f, q: term })).toEqual(await counted({ ...f, q: term }));
    expect(await keptTerms()).not.toContain(term);
    expect((await counted({ q: term })).total).toBeGreaterThanOrEqual(2000);

    // a transaction moves lessons with the term to another subject and stays open while it is searched
    let commit!: () => void;
    const committing = new Promise<void>((r) => { commit = r; });
    let written!: () => void;
    const wrote = new Promise<void>((r) => { written = r; });
    const writer = ts.sys.db.tx(async (q) => {
      await q.query("UPDATE lessons SET subject = 'history' WHERE subject = 'math' AND title LIKE '第%2课%'");
      written();
      await committing;
    });
    await wrote;
    try {
      await exact();
      expect(await keptTerms()).not.toContain(term);
    } finally {
      commit();
      await writer;
    }
    await exact({ subject: ['history'] });
    for (const f of [{}, filterSets[1], filterSets[2]]) await exact(f);
    expect(await keptTerms()).toContain(term);

    // writes after: out of some lessons, into drafts now published, then every lesson withdrawn
    await ts.sys.db.query(`UPDATE lessons SET search_text = replace(search_text, '${term}', '') WHERE title LIKE '第%24课%'`);
    await ts.sys.db.query("UPDATE lessons SET portal_published_at = now(), status = 'published' WHERE portal_published_at IS NULL AND title LIKE '第%8课%'");
    for (const f of [{}, filterSets[1], filterSets[2]]) await exact(f);
    await ts.sys.db.query('UPDATE lessons SET portal_published_at = NULL WHERE portal_published_at IS NOT NULL');
    await exact();
    expect((await answered({ q: term })).total).toBe(0);
  });
});
