// npm run bench:catalog: the public catalog under load next to a trivial Express route, same run.
// Seeds 100,000 published lessons over the taxonomy, then drives GET /api/v1/lessons with mixed filters
// and Chinese searches from 50 connections (autocannon, bounded in time), and the same for a route
// returning a fixed JSON body of the same size, then the catalog again while a change is announced every
// second. Prints requests/s, p50/p99 and the ratios, and the latency of each query shape on a
// response-cache miss and on a hit. `--seconds N` (or BENCH_SECONDS) sets each run's length;
// `--miss-only` prints the latencies per query shape and skips the runs under load.
import { mkdtemp } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import express from 'express';
import autocannon from 'autocannon';
import { loadConfig } from '../config/load.ts';
import { startSystem } from '../src/system.ts';
import { dropBenchData } from './lib/bench-data.ts';
import { searchBigrams } from '../src/infra/text-search.ts';

const LESSONS = Number(process.env.BENCH_LESSONS ?? 100_000);
const secondsArg = process.argv.indexOf('--seconds');
const DURATION_S = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = 50;
const MISS_ONLY = process.argv.includes('--miss-only');

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'classcast-bench-'));
const schema = `bench_${Date.now().toString(36)}`;
const config = loadConfig(process.env, { NODE_ENV: 'test', LOG_LEVEL: 'warn', DATA_DIR: dataDir, DATABASE_SCHEMA: schema, HTTP_PORT: '0', QUEUE_PREFIX: schema, DATABASE_POOL_MAX: '20' });
process.stdout.write(`database: ${config.DATABASE_URL ? 'PostgreSQL' : 'PGlite (embedded)'}; seeding ${LESSONS} lessons...\n`);
const sys = await startSystem({ config, roles: { api: true, worker: false, ingest: false } });

try {
  const s = sys.services;
  await s.schools.createDistrict('bench', '基准区');
  const schoolIds: string[] = [];
  for (let i = 0; i < 20; i++) schoolIds.push((await s.schools.createSchool({ code: `bench-${i}`, name: `基准学校${i}`, districtCode: 'bench', stage: (['primary', 'junior', 'senior', 'vocational'] as const)[i % 4] })).id);
  const teacher = await s.auth.createUser({ username: 'bench-teacher', password: 'bench-password-1', role: 'teacher', schoolCode: 'bench-0' });

  const tax = await s.taxonomy.get();
  const grades = tax.grade.map((g) => [g.code, g.stage!]);
  const words = ['分数', '古诗', '三角形', '春天', '光合作用', '牛顿定律', '化学反应', '丝绸之路', '长江', '英语语法', '函数', '方程', '细胞', '电路', '诗词鉴赏', '心理健康', '防疫', '生命教育', '爱国主义', '编程'];
  const started = Date.now();
  const batch = 2000;
  for (let off = 0; off < LESSONS; off += batch) {
    const n = Math.min(batch, LESSONS - off);
    const rows: unknown[] = [];
    const values: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = off + i;
      const [grade, stage] = grades[k % grades.length];
      const subject = tax.subject[(k * 7) % tax.subject.length].code;
      const type = tax.type[(k * 3) % tax.type.length].code;
      const edition = tax.edition[(k * 5) % tax.edition.length].code;
      const title = `${words[k % words.length]}${words[(k * 13) % words.length]}第${k}课`;
      const desc = `${words[(k * 17) % words.length]}与${words[(k * 19) % words.length]}的学习`;
      const id = randomUUID();
      const at = new Date(Date.UTC(2026, 0, 1) + k * 60_000);
      const p = rows.length;
      values.push(`($${p + 1}, $${p + 2}, $${p + 3}, 'recorded', $${p + 4}, $${p + 5}, $${p + 6}, $${p + 7}, $${p + 8}, $${p + 9}, $${p + 10}, 'published', $${p + 11}, $${p + 12}, $${p + 13})`);
      const text = `${title}\n${desc}`.toLowerCase();
      rows.push(id, title, desc, schoolIds[k % schoolIds.length], teacher.id, stage, grade, subject, type, edition, at, text, searchBigrams(text));
    }
    await sys.db.query(
      `INSERT INTO lessons (id, title, description, kind, school_id, teacher_id, stage, grade, subject, type, edition, status, portal_published_at, search_text, search_bigrams) VALUES ${values.join(',')}`,
      rows,
    );
  }
  await sys.db.query('ANALYZE lessons');
  await sys.db.query('ANALYZE lesson_search_cells');
  process.stdout.write(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

  const queries = [
    '/api/v1/lessons',
    '/api/v1/lessons?stage=primary',
    '/api/v1/lessons?stage=junior&subject=math',
    '/api/v1/lessons?grade=g3&edition=pep',
    '/api/v1/lessons?subject=chinese&type=recorded&limit=50',
    `/api/v1/lessons?q=${encodeURIComponent('光合作用')}`,
    `/api/v1/lessons?q=${encodeURIComponent('三角形')}&stage=primary`,
    `/api/v1/lessons?q=${encodeURIComponent('第123')}`,
    '/api/v1/lessons?type=special',
    `/api/v1/lessons?q=${encodeURIComponent('长江')}&subject=geography`,
  ];
  const sample = await fetch(`${sys.apiUrl}${queries[0]}`).then((r) => r.text());
  const someId = (JSON.parse(sample) as { items: { id: string }[] }).items[0]?.id;
  // cache-miss latency per query shape: the response cache is emptied (as a publication does) before each request
  // (and its echo from Redis waited for: it clears the cache once more, which would restart the request)
  let changes = 0;
  s.access.onChange(() => { changes++; });
  const dropAll = async () => {
    const seen = changes;
    await s.access.invalidate('*');
    for (let i = 0; i < 1000 && changes < seen + 2; i++) await new Promise((r) => setTimeout(r, 2));
  };
  const timed = async (q: string, miss: boolean): Promise<number> => {
    if (miss) await dropAll();
    const t0 = performance.now();
    await fetch(`${sys.apiUrl}${q}`).then((r) => r.text());
    return performance.now() - t0;
  };
  process.stdout.write('     miss      hit  query (mean of 5 each)\n');
  // facets: from the kept counts, and searches of a word in all (学习, 的学习), a fifth (光合作用) and
  // 0.1% (第123) of the lessons, of one character (no bigram: 诗, in about 40%), of two words, with filters
  const facets = ['', 'stage=primary&q=光合作用', 'q=光合作用', 'q=学习', 'q=的学习', 'subject=math&edition=pep&q=光合作用 函数', 'q=诗', 'type=special&q=第123']
    .map((f) => `/api/v1/facets${f ? `?${f.replace(/q=(.*)$/, (_, t: string) => `q=${encodeURIComponent(t)}`)}` : ''}`);
  for (const q of [...queries, ...facets, `/api/v1/lessons/${someId}`]) {
    let miss = 0;
    let hit = 0;
    for (let i = 0; i < 5; i++) miss += await timed(q, true);
    for (let i = 0; i < 5; i++) hit += await timed(q, false);
    process.stdout.write(`  ${(miss / 5).toFixed(1).padStart(7)} ${(hit / 5).toFixed(1).padStart(8)} ms  ${decodeURIComponent(q)}\n`);
  }

  if (MISS_ONLY) process.stdout.write(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  else await underLoad(sample, queries);
} finally {
  await sys.stop();
  await dropBenchData(config, schema, dataDir, Boolean(process.env.BENCH_KEEP));
}

/** The catalog list (`queries`), a trivial route with the same body, and the list while changes are announced, under load. */
async function underLoad(sample: string, queries: string[]): Promise<void> {
  const s = sys.services;
  // the baseline: a trivial Express route with a fixed body of the same size
  const app = express();
  app.get('/fixed', (_req, res) => {
    res.type('application/json').send(sample);
  });
  const base = http.createServer(app);
  await new Promise<void>((r) => base.listen(0, '127.0.0.1', () => r()));
  const baseUrl = `http://127.0.0.1:${(base.address() as import('node:net').AddressInfo).port}`;

  const clientThread = process.env.BENCH_CLIENT_THREAD !== '0';
  const run = (url: string, paths: string[], duration = DURATION_S) =>
    autocannon({ url, connections: CONNECTIONS, duration, ...(clientThread ? { workers: 1 } : {}), requests: paths.map((p) => ({ method: 'GET', path: p })) });

  // both servers get the same short warm-up first (code and cache), so neither is measured cold
  await run(sys.apiUrl!, queries, 1);
  await run(baseUrl, ['/fixed'], 1);
  const catalog = await run(sys.apiUrl!, queries);
  const trivial = await run(baseUrl, ['/fixed']);
  // the same load while a change is announced every second (as publications do): every answer is
  // dropped each time and its next askers share one query per key
  const announcing = setInterval(() => void s.access.invalidate('*'), 1000);
  const changing = await run(sys.apiUrl!, queries);
  clearInterval(announcing);
  base.close();

  const fmt = (r: autocannon.Result) => `${r.requests.average.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, errors ${r.errors + r.non2xx}`;
  process.stdout.write([
    '',
    `body size ${sample.length} bytes; ${CONNECTIONS} connections; ${DURATION_S} s each`,
    `catalog list (mixed filters + search): ${fmt(catalog)}`,
    `trivial Express route (same body):     ${fmt(trivial)}`,
    `catalog list, a change every second:   ${fmt(changing)}`,
    `ratio catalog/trivial: throughput ${(catalog.requests.average / trivial.requests.average).toFixed(3)}, p50 latency ${(catalog.latency.p50 / Math.max(trivial.latency.p50, 0.001)).toFixed(2)}x, p99 latency ${(catalog.latency.p99 / Math.max(trivial.latency.p99, 0.001)).toFixed(2)}x`,
    `ratio with a change every second/trivial: throughput ${(changing.requests.average / trivial.requests.average).toFixed(3)}`,
    `load generator ${clientThread ? 'in its own thread' : "on the server's event loop (BENCH_CLIENT_THREAD=0)"}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    '',
  ].join('\n'));
}
