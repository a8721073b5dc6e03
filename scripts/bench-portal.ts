// npm run bench:portal: the lesson page of a recorded lesson in Debian's Chromium, on an emulated 3G
// link (CDP Network.emulateNetworkConditions: 1.6 Mb/s down, 150 ms RTT) next to the same page
// unthrottled, in the same run: bytes transferred before the first media request (HTML, scripts,
// styles, API answers, images; compressed as sent) and the time from navigation to the first video
// frame presented. The budget (issue 9) is 250 KB before the first media request.
import { startWorkerRole } from '../workers/role.ts';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { loadConfig } from '../config/load.ts';
import { startSystem } from '../src/system.ts';
import type { PublicUser } from '../src/services/auth.service.ts';
import type { Principal } from '../src/domain/types.ts';
import { ensureWebBuild } from './build-web.mjs';

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const BUDGET = 250 * 1024;
const threeG = { offline: false, latency: 150, downloadThroughput: (1.6e6 / 8), uploadThroughput: (0.75e6 / 8) };

await ensureWebBuild();
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'classcast-benchportal-'));
const schema = `benchportal_${Date.now().toString(36)}`;
const config = loadConfig(process.env, { NODE_ENV: 'test', LOG_LEVEL: 'warn', DATA_DIR: dataDir, DATABASE_SCHEMA: schema, HTTP_PORT: '0', QUEUE_PREFIX: schema, S3_BUCKET_PREFIX: schema.replace(/_/g, '-') });
const sys = await startSystem({ config, roles: { api: true, worker: true, ingest: false }, startWorkers: startWorkerRole });
let browser: Browser | undefined;

try {
  const s = sys.services;
  await s.schools.createDistrict('benchportal', '基准区');
  await s.schools.createSchool({ code: 'benchportal-1', name: '基准小学', districtCode: 'benchportal', stage: 'primary' });
  const mk = (username: string, role: 'teacher' | 'reviewer' | 'operator', schoolCode?: string) => s.auth.createUser({ username, password: 'bench-password-1', role, schoolCode });
  const p = (u: PublicUser): Principal => ({ userId: u.id, username: u.username, role: u.role, schoolId: u.schoolId, districtId: u.districtId });
  const teacher = p(await mk('benchportal-t', 'teacher', 'benchportal-1'));
  const reviewer = p(await mk('benchportal-r', 'reviewer', 'benchportal-1'));
  const operator = p(await mk('benchportal-o', 'operator'));

  // a 20 s 1280x720 lesson with speech-like tone, transcoded by the real worker into the real ladder
  const src = path.join(dataDir, 'lesson.mp4');
  const ff = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', '-f', 'lavfi', '-t', '20', '-i', 'testsrc2=size=1280x720:rate=25', '-f', 'lavfi', '-t', '20', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', src]);
  if (ff.status !== 0) throw new Error(`ffmpeg: ${ff.stderr}`);
  const lesson = await s.lessons.create(teacher, { title: '基准课：分数的初步认识', description: '认识几分之一。', kind: 'recorded', stage: 'primary', grade: 'g3', subject: 'math', type: 'recorded', edition: 'pep' });
  await s.uploads.putMedia(teacher, lesson.id, createReadStream(src) as unknown as Readable, { filename: 'lesson.mp4', contentLength: (await stat(src)).size });
  const deadline = Date.now() + 600_000;
  for (;;) {
    const l = await s.lessons.row(lesson.id);
    if (l.status === 'in_review') break;
    if (l.status === 'failed' || Date.now() > deadline) throw new Error(`transcode did not finish: ${l.status}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  await s.review.decide(reviewer, lesson.id, 'approve', undefined);
  await s.publications.publish(operator, lesson.id, 'portal');
  const pageUrl = `${sys.apiUrl}/lessons/${lesson.id}`;

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });

  const once = async (throttled: boolean): Promise<{ bytes: number; requests: number; firstFrameMs: number }> => {
    const ctx = await browser!.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, locale: 'zh-CN' });
    const page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    if (throttled) await cdp.send('Network.emulateNetworkConditions', threeG);
    const started = new Map<string, { ts: number; media: boolean }>();
    const done = new Map<string, number>();
    let firstMedia = Infinity;
    cdp.on('Network.requestWillBeSent', (e) => {
      const media = /\/(play|live)\/[^?]*\.(m3u8|ts|m4s|mp4|aac)(\?|$)/.test(e.request.url);
      if (media) firstMedia = Math.min(firstMedia, e.timestamp);
      started.set(e.requestId, { ts: e.timestamp, media });
    });
    cdp.on('Network.loadingFinished', (e) => done.set(e.requestId, e.encodedDataLength));
    await page.goto(pageUrl, { waitUntil: 'commit' });
    // first presented video frame, in ms since navigation start (requestVideoFrameCallback's clock)
    // (a string, not a function: tsx would add helpers to a function's text that the page lacks)
    const firstFrameMs = await page.evaluate<number>(`new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no video frame within 120 s')), 120000);
      const hook = (v) => v.requestVideoFrameCallback((now) => { clearTimeout(t); resolve(now); });
      const v = document.querySelector('video');
      if (v) return hook(v);
      new MutationObserver((_, obs) => {
        const found = document.querySelector('video');
        if (found) { obs.disconnect(); hook(found); }
      }).observe(document, { childList: true, subtree: true });
    })`);
    await new Promise((r) => setTimeout(r, 300)); // let loadingFinished of the earliest requests arrive
    let bytes = 0;
    let requests = 0;
    for (const [id, st] of started) {
      if (st.media || st.ts >= firstMedia) continue;
      bytes += done.get(id) ?? 0;
      requests++;
    }
    await ctx.close();
    return { bytes, requests, firstFrameMs };
  };

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const runs: Record<'fast' | 'slow', { bytes: number; requests: number; firstFrameMs: number }[]> = { fast: [], slow: [] };
  for (let i = 0; i < RUNS; i++) {
    runs.fast.push(await once(false));
    runs.slow.push(await once(true));
  }
  const row = (name: string, r: typeof runs.fast) =>
    `${name.padEnd(34)} ${(median(r.map((x) => x.bytes)) / 1024).toFixed(1).padStart(8)} KB  ${String(median(r.map((x) => x.requests))).padStart(4)} requests  ${median(r.map((x) => x.firstFrameMs)).toFixed(0).padStart(7)} ms to first frame`;
  console.log(`bench:portal  lesson page, 360x740 phone, cache disabled, ${RUNS} run(s) each, medians`);
  console.log(row('unthrottled', runs.fast));
  console.log(row('3G (1.6 Mb/s down, 150 ms RTT)', runs.slow));
  const slowBytes = median(runs.slow.map((x) => x.bytes));
  console.log(`before the first media request: ${(slowBytes / 1024).toFixed(1)} KB of the ${BUDGET / 1024} KB budget (${slowBytes <= BUDGET ? 'within' : 'OVER'})`);
  console.log(`time to first frame, 3G / unthrottled: ${(median(runs.slow.map((x) => x.firstFrameMs)) / median(runs.fast.map((x) => x.firstFrameMs))).toFixed(2)}x`);
} finally {
  await browser?.close();
  await sys.stop();
  await rm(dataDir, { recursive: true, force: true });
}
