import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { loadConfig } from '../config/load.ts';
import { startSystem } from '../src/system.ts';
const schema = process.env.SCHEMA!;
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'rp-'));
const config = loadConfig(process.env, { NODE_ENV: 'test', LOG_LEVEL: 'warn', DATA_DIR: dataDir, DATABASE_SCHEMA: schema, HTTP_PORT: '0', QUEUE_PREFIX: schema, DATABASE_POOL_MAX: '20' });
const sys = await startSystem({ config, roles: { api: true, worker: false, ingest: false } });
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
let gcMs = 0, gcMax = 0, gcN = 0;
new PerformanceObserver((l) => { for (const e of l.getEntries()) { gcMs += e.duration; gcMax = Math.max(gcMax, e.duration); gcN++; } }).observe({ entryTypes: ['gc'] });
const mode = process.env.MODE ?? 'warm';
const run = (d: number) => autocannon({ url: sys.apiUrl!, connections: 50, duration: d, workers: process.env.W === '0' ? undefined : 1, requests: queries.map((p) => ({ method: 'GET', path: p })) } as any);
if (mode === 'warm') await run(2);
const h = monitorEventLoopDelay({ resolution: 5 }); h.enable();
gcMs = 0; gcMax = 0; gcN = 0;
let inv: NodeJS.Timeout | undefined;
if (process.env.INVALIDATE) inv = setInterval(() => { void sys.services.access.invalidate('*'); }, Number(process.env.INVALIDATE));
const r = await run(Number(process.env.SECS ?? 5));
clearInterval(inv);
h.disable();
console.log(`${mode}: ${r.requests.average} req/s p50 ${r.latency.p50} p90 ${r.latency.p90} p99 ${r.latency.p99} max ${r.latency.max}; loop delay p50 ${(h.percentile(50)/1e6).toFixed(1)} p99 ${(h.percentile(99)/1e6).toFixed(1)} max ${(h.max/1e6).toFixed(1)} ms; gc ${gcN} total ${gcMs.toFixed(0)} ms max ${gcMax.toFixed(1)}`);
await sys.stop();
