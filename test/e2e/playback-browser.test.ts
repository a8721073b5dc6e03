import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';
import { runFfmpegCli } from '../helpers/media.ts';
import { eventually } from '../helpers/wait.ts';

/**
 * A recorded lesson end to end with every real part: upload through the API, the BullMQ worker's
 * ffmpeg ladder into S3, review, publication, then real players from the gateway: hls.js in headless
 * Chromium (from a portal on another origin) and ffmpeg decoding each rendition.
 */

let ts: TestSystem;
let browser: Browser | undefined;
let portal: http.Server | undefined;
let portalUrl = '';
let dir = '';
let lessonId = '';

beforeAll(async () => {
  ts = await startTestSystem({ api: true, worker: true });
  dir = await mkdtemp(path.join(os.tmpdir(), 'classcast-play-'));
  // 16 s, so that 5 s of playback and a switch fit with room to spare; 960x540 gives a ladder of three video renditions
  const media = { file: path.join(dir, 'lesson.mp4') };
  await runFfmpegCli(['-f', 'lavfi', '-t', '16', '-i', 'testsrc2=size=960x540:rate=25', '-f', 'lavfi', '-t', '16', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', media.file]);
  const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ title: '播放测试' }) });
  lessonId = c.body.id;
  const size = (await stat(media.file)).size;
  const up = await fetch(`${ts.url}/api/v1/lessons/${lessonId}/media?filename=lesson.mp4`, {
    method: 'PUT', headers: { authorization: `Bearer ${ts.users.teacherA.token}`, 'content-type': 'video/mp4', 'content-length': String(size) }, body: createReadStream(media.file) as unknown as BodyInit, duplex: 'half',
  } as RequestInit);
  expect(up.status).toBe(202);
  const progress: number[] = [];
  const done = await eventually(
    async () => {
      const d = (await ts.api('GET', `/api/v1/lessons/${lessonId}`, { token: ts.users.teacherA.token })).body;
      progress.push(d.processing?.progress ?? -1);
      return d;
    },
    (d) => d.status === 'in_review' || d.status === 'failed',
    240_000,
    'processing',
  );
  expect(done.status, JSON.stringify(done.processing)).toBe('in_review');
  expect(done.processing).toMatchObject({ state: 'ready', progress: 100, error: null });
  expect(progress.every((p, i) => i === 0 || p >= progress[i - 1] || p === -1)).toBe(true);
  expect((await ts.api('POST', `/api/v1/lessons/${lessonId}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } })).status).toBe(200);
  expect((await ts.api('POST', `/api/v1/lessons/${lessonId}/publications`, { token: ts.users.operator.token, body: { channel: 'portal' } })).status).toBe(201);

  // the portal, on another origin than the gateway
  const hlsJs = await readFile(createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js'));
  portal = http.createServer((req, res) => {
    if (req.url === '/hls.min.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(hlsJs);
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><video id="v" muted playsinline></video><script src="/hls.min.js"></script>');
  });
  await new Promise<void>((r) => portal!.listen(0, '127.0.0.1', () => r()));
  portalUrl = `http://127.0.0.1:${(portal.address() as import('node:net').AddressInfo).port}/`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--autoplay-policy=no-user-gesture-required'],
  });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  portal?.close();
  await ts?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a published lesson in real players', () => {
  it('when hls.js plays it in Chromium from another origin, then it plays for 5 s and switches between two renditions', async () => {
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(portalUrl);
    const src = `${ts.url}/play/${lessonId}/master.m3u8`;
    const result = await page.evaluate(
      async ({ src }) => {
        type H = { levels: { height: number; bitrate: number }[]; currentLevel: number; nextLevel: number; loadLevel: number; on: (e: string, f: (ev: string, d: any) => void) => void; loadSource: (s: string) => void; attachMedia: (v: HTMLVideoElement) => void };
        const HlsCtor = (window as unknown as { Hls: { new (c: object): H; Events: Record<string, string>; isSupported(): boolean } }).Hls;
        if (!HlsCtor.isSupported()) return { error: 'MSE not supported' };
        const video = document.getElementById('v') as HTMLVideoElement;
        const hls = new HlsCtor({ capLevelToPlayerSize: false, startLevel: 0 });
        const fragLevels: number[] = [];
        const switched: number[] = [];
        const fatal: string[] = [];
        hls.on(HlsCtor.Events.FRAG_LOADED, (_e, d) => fragLevels.push(d.frag.level));
        hls.on(HlsCtor.Events.LEVEL_SWITCHED, (_e, d) => switched.push(d.level));
        hls.on(HlsCtor.Events.ERROR, (_e, d) => { if (d.fatal) fatal.push(`${d.type}:${d.details}`); });
        const ready = new Promise<void>((r) => hls.on(HlsCtor.Events.MANIFEST_PARSED, () => r()));
        hls.loadSource(src);
        hls.attachMedia(video);
        await ready;
        await video.play();
        const until = (pred: () => boolean, ms: number) => new Promise<boolean>((resolve) => {
          const t0 = performance.now();
          const tick = () => (pred() ? resolve(true) : performance.now() - t0 > ms ? resolve(false) : setTimeout(tick, 100));
          tick();
        });
        await until(() => video.currentTime >= 2.5, 60_000);
        const first = hls.currentLevel;
        const target = hls.levels.findIndex((_, i) => i !== first && hls.levels[i].height > 0);
        hls.currentLevel = target;
        const switchedOk = await until(() => switched.includes(target) && fragLevels.includes(target), 60_000);
        const played = await until(() => video.currentTime >= 5.5, 60_000);
        return { levels: hls.levels.map((l) => l.height), first, target, switchedOk, played, currentTime: video.currentTime, fragLevels, fatal, paused: video.paused, decoded: (video as HTMLVideoElement & { getVideoPlaybackQuality(): { totalVideoFrames: number } }).getVideoPlaybackQuality().totalVideoFrames };
      },
      { src },
    );
    expect(errors).toEqual([]);
    expect(result).not.toHaveProperty('error');
    const r = result as { levels: number[]; first: number; target: number; switchedOk: boolean; played: boolean; currentTime: number; fragLevels: number[]; fatal: string[]; decoded: number };
    expect(r.fatal).toEqual([]);
    expect(r.levels.filter((h) => h > 0).length).toBeGreaterThanOrEqual(2);
    expect(r.target).not.toBe(r.first);
    expect(r.switchedOk, JSON.stringify(r)).toBe(true);
    expect(r.played, JSON.stringify(r)).toBe(true);
    expect(r.currentTime).toBeGreaterThanOrEqual(5);
    expect(new Set(r.fragLevels).size).toBeGreaterThanOrEqual(2);
    expect(r.decoded).toBeGreaterThan(100);
    await page.close();
  });

  it('when ffmpeg reads every rendition from the gateway, then each decodes to the end without errors', async () => {
    const master = await (await fetch(`${ts.url}/play/${lessonId}/master.m3u8`)).text();
    const variants = master.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(variants.length).toBeGreaterThanOrEqual(3);
    for (const v of variants) {
      const url = new URL(v, `${ts.url}/play/${lessonId}/master.m3u8`).toString();
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-xerror', '-i', url, '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d) => (err += d));
        p.on('close', (c) => resolve({ code: c, stderr: err }));
      });
      expect({ v, code, stderr: stderr.slice(-500) }).toEqual({ v, code: 0, stderr: '' });
    }
  });
});
