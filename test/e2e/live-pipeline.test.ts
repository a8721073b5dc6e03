import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';
import { startPublisher, stopAllFfmpeg, type FfProc } from '../helpers/ffmpeg-rtmp.ts';
import { decode, eventually, variantUris } from '../helpers/live-lesson.ts';
import { RawRtmpClient } from '../helpers/rtmp-client.ts';
import type { Config } from '../../config/config.schema.ts';
import { jobIds } from '../../src/jobs/job-types.ts';

/**
 * The media side of live lessons, end to end: a real RTMP publisher into the ingest, the `live` job
 * on a worker (in process, or in child processes for the failover), live HLS through the gateway,
 * reconnects and failovers as discontinuities, and the recording through review and publication.
 * Sources are 640x360 (live ladder 360p + 240p fallback + audio-only) to keep two shared cores free.
 * LIVE_TEST_LOG=1 prints the logs of the system and of the worker processes.
 */

const here = path.dirname(fileURLToPath(import.meta.url));

interface Seg {
  msn: number;
  uri: string;
  durationS: number;
  pdtMs: number | null;
  pdtText: string | null;
  discontinuity: boolean;
}

interface Snapshot {
  target: number;
  mediaSequence: number;
  discontinuitySequence: number;
  endlist: boolean;
  playlistType: string | null;
  segments: Seg[];
}

/** Reads a media playlist line by line (every tag we wrote stays visible). */
function readPlaylist(text: string): Snapshot {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  expect(lines[0]).toBe('#EXTM3U');
  const tag = (name: string) => lines.find((l) => l.startsWith(`#${name}:`))?.slice(name.length + 2);
  const mediaSequence = Number(tag('EXT-X-MEDIA-SEQUENCE') ?? 0);
  const segments: Seg[] = [];
  let pending: Partial<Seg> = {};
  for (const l of lines) {
    if (l === '#EXT-X-DISCONTINUITY') pending.discontinuity = true;
    else if (l.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      pending.pdtText = l.slice(25);
      pending.pdtMs = Date.parse(pending.pdtText);
    } else if (l.startsWith('#EXTINF:')) pending.durationS = Number(l.slice(8).split(',')[0]);
    else if (!l.startsWith('#')) {
      segments.push({ msn: mediaSequence + segments.length, uri: l, durationS: pending.durationS ?? NaN, pdtMs: pending.pdtMs ?? null, pdtText: pending.pdtText ?? null, discontinuity: !!pending.discontinuity });
      pending = {};
    }
  }
  return {
    target: Number(tag('EXT-X-TARGETDURATION')),
    mediaSequence,
    discontinuitySequence: Number(tag('EXT-X-DISCONTINUITY-SEQUENCE') ?? 0),
    endlist: lines.includes('#EXT-X-ENDLIST'),
    playlistType: tag('EXT-X-PLAYLIST-TYPE') ?? null,
    segments,
  };
}

/** A running lesson's helpers on one test system. */
function lessonKit(ts: TestSystem) {
  const liveLesson = async (): Promise<string> => {
    const start = Date.now() - 5 * 60_000;
    const c = await ts.api('POST', '/api/v1/lessons', {
      token: ts.users.teacherA.token,
      body: lessonBody({ kind: 'live', type: 'live', title: '直播：认识钟表', scheduledStart: new Date(start).toISOString(), scheduledEnd: new Date(start + 45 * 60_000).toISOString() }),
    });
    expect(c.status).toBe(201);
    const r = await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } });
    expect(r.body.status).toBe('approved_for_air');
    return c.body.id;
  };
  const publishUrl = async (id: string): Promise<string> => {
    const k = await ts.api('POST', `/api/v1/lessons/${id}/live`, { token: ts.users.teacherA.token });
    expect(k.status).toBe(200);
    return `${(k.body.rtmpUrl as string).replace(/:\d+\//, `:${ts.sys.ingest!.port}/`)}/${k.body.streamKey}`;
  };
  const status = async (id: string) => (await ts.api('GET', `/api/v1/lessons/${id}`, { token: ts.users.operator.token })).body.status as string;
  const sessions = (id: string) =>
    ts.sys.db.query<{ id: string; state: string; epoch: number; asset_id: string | null }>('SELECT id, state, epoch, asset_id FROM live_sessions WHERE lesson_id = $1 ORDER BY started_at', [id]);
  const gatewayText = async (p: string): Promise<string> => {
    const res = await fetch(`${ts.url}${p}`);
    if (res.status !== 200) throw new Error(`GET ${p}: ${res.status}`);
    return res.text();
  };
  const stored = async (key: string): Promise<string> => (await ts.sys.storage.getBuffer(ts.sys.storage.mediaBucket, key)).toString('utf8');
  const asset = async (assetId: string) =>
    (await ts.sys.db.query<{ state: string; error: string | null; duration_s: number | null; media: Record<string, any> | null; hls_root: string }>('SELECT state, error, duration_s, media, hls_root FROM assets WHERE id = $1', [assetId]))[0];
  return { liveLesson, publishUrl, status, sessions, gatewayText, stored, asset };
}

/** Every rendition of a recording is VOD with ENDLIST and the same discontinuity positions. */
async function recordingPlaylists(kit: ReturnType<typeof lessonKit>, root: string): Promise<Record<string, Snapshot>> {
  const master = await kit.stored(`${root}master.m3u8`);
  const out: Record<string, Snapshot> = {};
  for (const uri of variantUris(master)) out[uri] = readPlaylist(await kit.stored(`${root}${uri}`));
  return out;
}

function expectSameSlots(lists: Snapshot[]): void {
  const ref = lists[0];
  for (const l of lists) {
    expect(l.mediaSequence).toBe(ref.mediaSequence);
    expect(l.discontinuitySequence).toBe(ref.discontinuitySequence);
    expect(l.segments.map((s) => [s.msn, s.uri, s.discontinuity, s.pdtText])).toEqual(ref.segments.map((s) => [s.msn, s.uri, s.discontinuity, s.pdtText]));
  }
}

describe('live pipeline with an in-process worker', () => {
  let ts: TestSystem;
  let kit: ReturnType<typeof lessonKit>;
  beforeAll(async () => {
    // the transcoder's own recording is what these tests look at (live-capture.test.ts: the capture's)
    ts = await startTestSystem({ api: true, ingest: true, worker: true }, { LIVE_RECORDING_MAX_GAP_S: '600', LIVE_RECONNECT_WINDOW_S: '8', RTMP_IDLE_TIMEOUT_S: '3', LIVE_LADDER: '360p', LIVE_CONCURRENCY: '2', ...(process.env.LIVE_TEST_LOG ? { LOG_LEVEL: 'info' } : {}) });
    kit = lessonKit(ts);
  });
  afterEach(async () => {
    await stopAllFfmpeg();
  });
  afterAll(async () => {
    await stopAllFfmpeg();
    await ts?.stop();
  });

  it('when a lesson is on air, then the gateway serves a sliding live window with PROGRAM-DATE-TIME that ffmpeg plays; stopped, it becomes a recording that plays after review and publication', async () => {
    const id = await kit.liveLesson();
    startPublisher(await kit.publishUrl(id), { size: '640x360', durationS: 120 });
    await eventually(() => kit.status(id), (s) => s === 'on_air', 20_000, 'on air');

    // the capture's source-only master comes first; the transcoder's ladder replaces it
    const master = await eventually(() => kit.gatewayText(`/live/${id}/master.m3u8`), (m) => !variantUris(m).includes('source/index.m3u8'), 45_000, 'the live ladder at the gateway');
    const uris = variantUris(master);
    expect(uris.sort()).toEqual(['240p/index.m3u8', '360p/index.m3u8', 'audio/index.m3u8']);
    expect(master).toContain('#EXT-X-INDEPENDENT-SEGMENTS');
    expect(master).toMatch(/RESOLUTION=640x360,FRAME-RATE=25\.000/);
    expect(master).toMatch(/CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/);
    expect(master).toMatch(/CODECS="mp4a\.40\.2"\n/);

    // A player decodes some seconds from the live edge while we watch the window slide.
    const viewing = decode(`${ts.url}/live/${id}/master.m3u8`, 6);
    const snapshots: Record<string, Snapshot[]> = Object.fromEntries(uris.map((u) => [u, []]));
    await eventually(async () => {
      for (const u of uris) snapshots[u].push(readPlaylist(await kit.gatewayText(`/live/${id}/${u}`)));
      return snapshots[uris[0]][snapshots[uris[0]].length - 1];
    }, (s) => s.mediaSequence >= 4, 60_000, 'the window to slide');
    const played = await viewing;
    expect(played.code, played.stderr).toBe(0);
    expect(played.frames).toBeGreaterThan(100);

    const seen = new Map<number, string>();
    for (const u of uris) {
      let last: Snapshot | undefined;
      for (const s of snapshots[u]) {
        expect(s.target).toBe(2);
        expect(s.endlist).toBe(false);
        expect(s.playlistType).toBeNull();
        // at least three target durations from the first playlist on; six segments once the lesson has them
        expect(s.segments.reduce((a, x) => a + x.durationS, 0)).toBeGreaterThanOrEqual(5.5);
        expect(s.segments.length).toBeLessThanOrEqual(6);
        if (s.mediaSequence > 0) expect(s.segments.length).toBe(6);
        if (last) {
          expect(s.mediaSequence).toBeGreaterThanOrEqual(last.mediaSequence);
          expect(s.discontinuitySequence).toBeGreaterThanOrEqual(last.discontinuitySequence);
        }
        for (const [i, seg] of s.segments.entries()) {
          expect(seg.pdtText).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          expect(Math.round(seg.durationS)).toBeLessThanOrEqual(2);
          // PDT advances by the picture's duration: exact for video, within one AAC frame for audio-only
          if (i > 0) expect(Math.abs(seg.pdtMs! - s.segments[i - 1].pdtMs! - s.segments[i - 1].durationS * 1000)).toBeLessThanOrEqual(u.startsWith('audio') ? 25 : 0.5);
          // one media sequence number is one segment, in every rendition and every reload
          const name = seg.uri;
          expect(seen.get(seg.msn) ?? name).toBe(name);
          seen.set(seg.msn, name);
          expect(seg.uri).toMatch(/^r\d{4}-\d{5}\.ts$/);
        }
        last = s;
      }
    }
    const nowish = snapshots[uris[0]].at(-1)!.segments.at(-1)!.pdtMs!;
    expect(Math.abs(Date.now() - nowish)).toBeLessThan(60_000);

    // Stop: the session ends, the worker turns it into the recording, the lesson waits for review.
    const stop = await ts.api('POST', `/api/v1/lessons/${id}/live/stop`, { token: ts.users.reviewerA.token });
    expect(stop.status).toBe(200);
    await eventually(() => kit.status(id), (s) => s === 'in_review', 60_000, 'the recording to be ready');
    const [session] = await kit.sessions(id);
    const a = await kit.asset(session.asset_id!);
    expect(a.state).toBe('ready');
    expect(a.hls_root).toBe(`live/${session.id}/`);
    expect(a.media).toMatchObject({
      masterKey: `live/${session.id}/master.m3u8`,
      posterKey: `live/${session.id}/poster.jpg`,
      storyboardImageKey: `live/${session.id}/storyboard.jpg`,
      storyboardVttKey: `live/${session.id}/storyboard.vtt`,
      discontinuities: 0,
      validation: { violations: [] },
    });
    expect(a.duration_s).toBeGreaterThan(10);
    const rec = await recordingPlaylists(kit, a.hls_root);
    for (const p of Object.values(rec)) {
      expect(p.endlist).toBe(true);
      expect(p.playlistType).toBe('VOD');
      expect(p.mediaSequence).toBe(0);
    }
    expectSameSlots(Object.values(rec));
    // every segment a viewer was shown live is in the recording under the same sequence number
    const recorded = new Map(rec['360p/index.m3u8'].segments.map((s) => [s.msn, s.uri]));
    for (const [msn, uri] of seen) expect(recorded.get(msn)).toBe(uri);
    const poster = await ts.sys.storage.stat(ts.sys.storage.mediaBucket, a.media!.posterKey);
    expect(poster!.size).toBeGreaterThan(1000);
    expect(await kit.stored(a.media!.storyboardVttKey)).toMatch(/^WEBVTT\n\n00:00:00\.000 --> /);

    // Review and publication: then it plays at /play like any recorded lesson.
    const preview = await ts.api('GET', `/api/v1/lessons/${id}`, { token: ts.users.reviewerA.token });
    expect(preview.body.preview.hls).toMatch(/\/preview\/.+\/master\.m3u8$/);
    expect((await fetch(`${ts.url}/play/${id}/master.m3u8`)).status).toBe(404);
    const approve = await ts.api('POST', `/api/v1/lessons/${id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } });
    expect(approve.status).toBe(200);
    const pub = await ts.api('POST', `/api/v1/lessons/${id}/publications`, { token: ts.users.operator.token, body: { channel: 'portal' } });
    expect(pub.status).toBe(201);
    const vod = await decode(`${ts.url}/play/${id}/master.m3u8`);
    expect(vod.code, vod.stderr).toBe(0);
    expect(vod.frames).toBeGreaterThan(a.duration_s! * 25 * 0.9);
    expect((await fetch(`${ts.url}/play/${id}/poster.jpg`)).status).toBe(200);
  }, 240_000);

  it('when the publisher drops and reconnects within the window, then viewers get a discontinuity, not an end, and the session is one recording', async () => {
    const id = await kit.liveLesson();
    const url = await kit.publishUrl(id);
    const first = startPublisher(url, { size: '640x360', durationS: 120 });
    await eventually(() => kit.gatewayText(`/live/${id}/360p/index.m3u8`), (t) => readPlaylist(t).segments.length >= 4, 60_000, 'four live segments');
    first.proc.kill('SIGKILL');
    await eventually(() => kit.sessions(id), (s) => s[0]?.state === 'reconnecting', 15_000, 'reconnecting');
    const second: FfProc = startPublisher(url, { size: '640x360', durationS: 120 });
    const withBreak = await eventually(
      () => kit.gatewayText(`/live/${id}/360p/index.m3u8`),
      (t) => {
        const s = readPlaylist(t);
        const at = s.segments.findIndex((x) => x.discontinuity);
        return at >= 0 && s.segments.length - at >= 2;
      },
      60_000,
      'a discontinuity in the live playlist',
    );
    expect(readPlaylist(withBreak).endlist).toBe(false);
    await second.stop();
    // The publisher does not come back: the session ends after the window into one recording.
    await eventually(() => kit.status(id), (s) => s === 'in_review', 90_000, 'the recording to be ready');
    const all = await kit.sessions(id);
    expect(all).toHaveLength(1);
    expect(all[0].epoch).toBe(2);
    const a = await kit.asset(all[0].asset_id!);
    expect(a.media).toMatchObject({ validation: { violations: [] } });
    expect(a.media!.discontinuities).toBeGreaterThanOrEqual(1);
    const rec = Object.values(await recordingPlaylists(kit, a.hls_root));
    expectSameSlots(rec);
    const breaks = rec[0].segments.filter((s) => s.discontinuity);
    expect(breaks.length).toBe(a.media!.discontinuities);
    for (const b of breaks) {
      const prev = rec[0].segments[b.msn - 1];
      expect(b.pdtMs!).toBeGreaterThanOrEqual(prev.pdtMs! + Math.round(prev.durationS * 1000));
    }
  }, 240_000);

  it('when a session ends before any media arrived, then the recording fails with a message for the teacher', async () => {
    const id = await kit.liveLesson();
    // a publisher that sends nothing (a lesson of sound alone is a recording: live-encoders.test.ts)
    const url = new URL(await kit.publishUrl(id));
    const c = await RawRtmpClient.open(Number(url.port));
    try {
      await c.handshake();
      await c.connect('live');
      expect(await c.publish(`${url.pathname.split('/').pop()}${url.search}`)).toBe('NetStream.Publish.Start');
      await eventually(() => kit.status(id), (s) => s === 'on_air', 20_000, 'on air');
      await eventually(() => kit.sessions(id), (s) => s.length === 1, 5000, 'session');
      expect((await ts.api('POST', `/api/v1/lessons/${id}/live/stop`, { token: ts.users.operator.token })).status).toBe(200);
      await eventually(() => kit.status(id), (s) => s === 'failed', 60_000, 'the recording to fail');
      const [session] = await kit.sessions(id);
      expect((await kit.asset(session.asset_id!)).error).toBe('the live lesson ended before any video arrived');
    } finally {
      c.destroy();
    }
  }, 120_000);
});

describe('live worker failover', () => {
  let ts: TestSystem;
  let kit: ReturnType<typeof lessonKit>;
  const children: ChildProcess[] = [];
  const token = randomBytes(24).toString('base64url');
  beforeAll(async () => {
    ts = await startTestSystem({ api: true, ingest: true }, { LIVE_RECORDING_MAX_GAP_S: '600', LIVE_RECONNECT_WINDOW_S: '8', RTMP_IDLE_TIMEOUT_S: '3', LIVE_LADDER: '360p', RTMP_WORKER_PLAY_TOKEN: token, ...(process.env.LIVE_TEST_LOG ? { LOG_LEVEL: 'info' } : {}) });
    kit = lessonKit(ts);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await stopAllFfmpeg();
    await ts?.stop();
  });

  /** A worker process (`classcast worker`) on the same Redis, storage and ingest. */
  function startWorker(): Promise<ChildProcess> {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(ts.sys.config as Config)) env[k] = String(v);
    Object.assign(env, { LOG_LEVEL: process.env.LIVE_TEST_LOG ? 'info' : 'warn', RTMP_PORT: String(ts.sys.ingest!.port), RTMP_PULL_HOST: '127.0.0.1', RTMP_WORKER_PLAY_TOKEN: token, HTTP_PORT: '0' });
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, '../helpers/live-worker.entry.ts')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        if (process.env.LIVE_TEST_LOG) process.stdout.write(c);
        out += c.toString();
        if (out.includes('ready')) resolve(child);
      });
      child.once('exit', (code) => reject(new Error(`worker exited early (${code})`)));
    });
  }

  it('when a worker is stopped (SIGTERM) or killed (SIGKILL) mid-stream, then a standby worker takes the session over: viewers see a discontinuity within a bounded time and the recording keeps what was uploaded', async () => {
    const first = await startWorker();
    const id = await kit.liveLesson();
    startPublisher(await kit.publishUrl(id), { size: '640x360', durationS: 200 });
    const live = () => kit.gatewayText(`/live/${id}/360p/index.m3u8`);
    const before = await eventually(live, (t) => readPlaylist(t).segments.length >= 5, 60_000, 'five live segments');
    const [session] = await kit.sessions(id);
    const job = await ts.sys.queues.queue('live').getJob(jobIds.live(session.id));
    expect(await job!.getState()).toBe('active');
    const shown = new Map<number, string>();
    const remember = (t: string) => {
      for (const s of readPlaylist(t).segments) shown.set(s.msn, s.uri);
      return t;
    };
    remember(before);

    /** Waits for a discontinuity after `msn` in the live playlist (the next worker's first run). */
    const breakAfter = async (msn: number, what: string) => {
      const t = await eventually(live, (x) => readPlaylist(remember(x)).segments.some((s) => s.discontinuity && s.msn > msn), 45_000, what);
      const snap = readPlaylist(t);
      expect(snap.endlist).toBe(false);
      return snap.segments.find((s) => s.discontinuity && s.msn > msn)!;
    };

    // 1. A deploy stops the first worker: it hands the session over at once instead of waiting for its end.
    const second = await startWorker();
    let last = readPlaylist(await live()).segments.at(-1)!.msn;
    first.kill('SIGTERM');
    const exited = await Promise.race([new Promise((r) => first.once('exit', r)).then(() => true), new Promise((r) => setTimeout(() => r(false), 30_000))]);
    expect(exited, 'a stopping worker does not wait for the live session to end').toBe(true);
    const handover = await breakAfter(last - 1, 'the discontinuity of the second worker');

    // 2. The second worker dies without warning: the third takes the stalled job over.
    await eventually(live, (t) => readPlaylist(remember(t)).segments.at(-1)!.msn >= handover.msn + 2, 30_000, 'two more segments');
    await startWorker();
    last = readPlaylist(await live()).segments.at(-1)!.msn;
    second.kill('SIGKILL');
    const killedAt = Date.now();
    await new Promise((r) => second.once('exit', r));
    const failover = await breakAfter(last - 1, 'the discontinuity of the standby worker');
    if (process.env.LIVE_TEST_LOG) console.log(`failover: discontinuity listed ${Date.now() - killedAt} ms after the SIGKILL`);
    expect(failover.uri.slice(0, 5)).not.toBe(handover.uri.slice(0, 5));

    await eventually(live, (t) => readPlaylist(remember(t)).segments.at(-1)!.msn >= failover.msn + 2, 30_000, 'two more segments');
    expect((await ts.api('POST', `/api/v1/lessons/${id}/live/stop`, { token: ts.users.reviewerA.token })).status).toBe(200);
    await eventually(() => kit.status(id), (s) => s === 'in_review', 90_000, 'the recording to be ready');
    const a = await kit.asset((await kit.sessions(id))[0].asset_id!);
    expect(a.media).toMatchObject({ validation: { violations: [] } });
    const rec = Object.values(await recordingPlaylists(kit, a.hls_root));
    expectSameSlots(rec);
    // everything viewers were shown is in the recording, under the same sequence numbers
    const recorded = new Map(rec[0].segments.map((s) => [s.msn, s.uri]));
    for (const [msn, uri] of shown) expect(recorded.get(msn)).toBe(uri);
    expect(rec[0].segments.filter((s) => s.discontinuity).map((s) => s.msn)).toEqual(expect.arrayContaining([handover.msn, failover.msn]));
  }, 240_000);
});
