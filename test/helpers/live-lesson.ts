import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { Config } from '../../config/config.schema.ts';
import type { Roles } from '../../src/system.ts';
import { lessonBody, startTestSystem, type TestSystem } from './system.ts';
import { stopAllFfmpeg } from './ffmpeg-rtmp.ts';
import { eventually } from './wait.ts';

export { eventually };

/**
 * The system of a live e2e file, started once for the file (beforeAll) and stopped after it, every
 * publisher stopped after each test: API, ingest and an in-process worker with the small 360p live
 * ladder, a 4 s reconnect window and a 3 s idle timeout, unless `over` says otherwise.
 * `keepPublishers`: publishers live on from one test to the next (cases that go on with what an
 * earlier case put on air) and are stopped after the file. LIVE_TEST_LOG=1 prints the system's logs.
 * The value stands for the running system (use it inside hooks and tests, not at the file's top level).
 */
export function useLiveSystem(over: Partial<Record<keyof Config, string>> = {}, o: { roles?: Partial<Roles>; keepPublishers?: boolean } = {}): TestSystem {
  let ts: TestSystem | undefined;
  beforeAll(async () => {
    ts = await startTestSystem(o.roles ?? { api: true, ingest: true, worker: true }, {
      LIVE_RECONNECT_WINDOW_S: '4', RTMP_IDLE_TIMEOUT_S: '3', LIVE_LADDER: '360p', ...(process.env.LIVE_TEST_LOG ? { LOG_LEVEL: 'info' } : {}), ...over,
    });
  });
  afterEach(async () => {
    if (!o.keepPublishers) await stopAllFfmpeg();
  });
  afterAll(async () => {
    await stopAllFfmpeg();
    await ts?.stop();
  });
  return new Proxy({} as TestSystem, {
    get(_, key) {
      if (!ts) throw new Error(`the live test system is not running (read .${String(key)} in a hook or a test)`);
      return ts[key as keyof TestSystem];
    },
  });
}

/** A live lesson of teacher A approved for air now; `url` is what its publisher sends to (this system's ingest). */
export async function approvedLiveLesson(ts: TestSystem, title: string): Promise<{ id: string; url: string; streamKey: string }> {
  const start = Date.now() - 5 * 60_000;
  const c = await ts.api('POST', '/api/v1/lessons', {
    token: ts.users.teacherA.token,
    body: lessonBody({ kind: 'live', type: 'live', title, scheduledStart: new Date(start).toISOString(), scheduledEnd: new Date(start + 45 * 60_000).toISOString() }),
  });
  expect(c.status).toBe(201);
  expect((await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } })).body.status).toBe('approved_for_air');
  const k = await ts.api('POST', `/api/v1/lessons/${c.body.id}/live`, { token: ts.users.teacherA.token });
  return { id: c.body.id, url: `${(k.body.rtmpUrl as string).replace(/:\d+\//, `:${ts.sys.ingest!.port}/`)}/${k.body.streamKey}`, streamKey: String(k.body.streamKey) };
}

/** The current asset of a lesson, as the live tests look at recordings. */
export interface LessonAsset {
  id: string;
  state: string;
  error: string | null;
  duration_s: number | null;
  hls_root: string | null;
  media: Record<string, any> | null;
}

/** Small readers of a live system's lessons that most live e2e files use. */
export function liveReaders(ts: TestSystem) {
  return {
    /** The lesson's status as the operator sees it. */
    status: async (id: string) => (await ts.api('GET', `/api/v1/lessons/${id}`, { token: ts.users.operator.token })).body.status as string,
    /** A gateway path's text; throws unless 200 (so `eventually` waits for it). */
    gateway: async (p: string): Promise<string> => {
      const r = await fetch(`${ts.url}${p}`);
      if (r.status !== 200) throw new Error(`GET ${p}: ${r.status}`);
      return r.text();
    },
    /** The lesson's current asset. */
    assetOf: async (id: string): Promise<LessonAsset> => (await ts.sys.db.query<LessonAsset>(
      'SELECT a.id, a.state, a.error, a.duration_s, a.hls_root, a.media FROM lessons l JOIN assets a ON a.id = l.current_asset_id WHERE l.id = $1', [id]))[0],
  };
}

/** Variant URIs of a master playlist. */
export const variantUris = (master: string): string[] => master.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

/**
 * ffmpeg decodes `url`'s first stream of `kind` (all of it, or only `seconds`); resolves with its
 * exit code and how many frames it decoded (for sound: 1024-sample AAC frames at 48 kHz, from the
 * time decoded). Killed after 90 s.
 */
export function decode(url: string, seconds?: number, kind: 'v' | 'a' = 'v'): Promise<{ code: number | null; frames: number; stderr: string }> {
  return new Promise((resolve) => {
    const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-rw_timeout', '15000000', '-i', url, ...(seconds ? ['-t', String(seconds)] : []), '-map', `0:${kind}:0`, '-f', 'null', '-', '-progress', 'pipe:1'];
    const p = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let frames = 0;
    let err = '';
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      // keep a tail so a key=value split across two reads is still seen whole
      out += d.toString();
      for (const m of out.matchAll(/frame=(\d+)/g)) frames = Math.max(frames, Number(m[1]));
      if (kind === 'a') for (const m of out.matchAll(/out_time_us=(\d+)/g)) frames = Math.max(frames, Math.floor(Number(m[1]) / 21_333));
      out = out.slice(-200);
    });
    p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    const kill = setTimeout(() => p.kill('SIGKILL'), 90_000);
    p.once('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, frames, stderr: err });
    });
  });
}
