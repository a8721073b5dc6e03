import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPublisher, stopAllFfmpeg, type FfProc } from '../helpers/ffmpeg-rtmp.ts';
import { eventually, lessonStatus, startFleetRig, type FleetRig } from '../helpers/fleet.ts';
import { lessonBody } from '../helpers/system.ts';

/**
 * Issue 13, the live side: on a fleet of processes, lessons on air survive the RTMP child dying, Redis
 * restarting and their transcoding worker being killed. The smallest live ladder keeps the CPU low
 * (a 320x240 publisher: the fallback rung and audio). Bounded: two publishers, about a minute on air.
 * Issue 13.3 on the same fleet: 200 slow-loris connections on an API process and 200 on the RTMP port
 * while a teacher is on air and a student plays through the edge (400 sockets, about 30 s).
 */

let r: FleetRig;

beforeAll(async () => {
  r = await startFleetRig({ apis: 2, workers: 2, ingest: true, env: { LIVE_LADDER: '360p', LIVE_X264_PRESET: 'ultrafast', LIVE_RECONNECT_WINDOW_S: '60' } });
}, 300_000);

afterAll(async () => {
  await stopAllFfmpeg();
  await r?.stop();
});

async function liveLesson(title: string): Promise<{ lessonId: string; url: string }> {
  const t = r.ts;
  const start = Date.now() - 5 * 60_000;
  const c = await t.api('POST', '/api/v1/lessons', { token: t.users.teacherA.token, body: lessonBody({ kind: 'live', type: 'live', title, scheduledStart: new Date(start).toISOString(), scheduledEnd: new Date(start + 45 * 60_000).toISOString() }) });
  expect(c.status).toBe(201);
  expect((await t.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: t.users.reviewerA.token, body: { decision: 'approve' } })).status).toBe(200);
  const k = await t.api('POST', `/api/v1/lessons/${c.body.id}/live`, { token: t.users.teacherA.token });
  expect(k.status).toBe(200);
  return { lessonId: c.body.id as string, url: `${k.body.rtmpUrl}/${k.body.streamKey}` };
}

const sessions = (lessonId: string) => r.ts.sys.db.query<{ id: string; state: string; epoch: number; asset_id: string | null }>('SELECT id, state, epoch, asset_id FROM live_sessions WHERE lesson_id = $1 ORDER BY started_at', [lessonId]);
const liveAssets = (lessonId: string) => r.ts.sys.db.query<{ id: string; state: string; duration_s: number | null }>("SELECT id, state, duration_s FROM assets WHERE lesson_id = $1 AND origin = 'live'", [lessonId]);

/** The newest media sequence number of the live lesson's first rendition, through the edge. */
async function liveSequence(lessonId: string): Promise<number | undefined> {
  const m = await fetch(`${r.fleet.publicUrl}/live/${lessonId}/master.m3u8`);
  if (m.status !== 200) return undefined;
  const variant = (await m.text()).split('\n').find((l) => l && !l.startsWith('#'));
  if (!variant) return undefined;
  const media = await fetch(`${r.fleet.publicUrl}/live/${lessonId}/${variant}`);
  if (media.status !== 200) return undefined;
  const text = await media.text();
  const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? NaN);
  const count = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
  return Number.isFinite(seq) ? seq + count : undefined;
}

/** Waits until the live playlist grows past `than` (students keep getting new segments). */
async function liveAdvances(lessonId: string, than: number, timeoutMs = 90_000): Promise<number> {
  return eventually(async () => {
    const s = await liveSequence(lessonId);
    return s !== undefined && s > than ? s : undefined;
  }, timeoutMs, `the live playlist of ${lessonId} to grow past ${than}`);
}

/** Stops the lesson and checks its one recording: ready, playable through the preview link, every object there. */
async function oneWholeRecording(lessonId: string): Promise<void> {
  const stop = await r.ts.api('POST', `/api/v1/lessons/${lessonId}/live/stop`, { token: r.ts.users.reviewerA.token });
  expect(stop.status).toBe(200);
  const lesson = await lessonStatus(r, lessonId, 'in_review', 240_000);
  const assets = await liveAssets(lessonId);
  expect(assets).toHaveLength(1);
  expect(assets[0].state).toBe('ready');
  expect(assets[0].duration_s ?? 0).toBeGreaterThan(10);
  const s = await sessions(lessonId);
  expect(s).toHaveLength(1);
  expect(s[0].asset_id).toBe(assets[0].id);
  const base = String(lesson.preview?.hls ?? '').replace(/^https?:\/\/[^/]+/, r.fleet.publicUrl);
  const master = await fetch(base);
  expect(master.status).toBe(200);
  const dir = base.slice(0, base.lastIndexOf('/') + 1);
  for (const v of (await master.text()).split('\n').filter((l) => l && !l.startsWith('#'))) {
    const media = await fetch(dir + v);
    expect(media.status, v).toBe(200);
    const text = await media.text();
    expect(text).toContain('#EXT-X-ENDLIST');
    const vdir = dir + (v.includes('/') ? v.slice(0, v.lastIndexOf('/') + 1) : '');
    for (const seg of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      const h = await fetch(vdir + seg, { method: 'HEAD' });
      expect(h.status, `${v} ${seg}`).toBe(200);
    }
  }
}

describe('live lessons when parts fail', () => {
  it("when the ingest's RTMP child is killed with two publishers on air, then they reconnect into the same sessions and each lesson has one recording", async () => {
    const a = await liveLesson('直播一：断线重连');
    const b = await liveLesson('直播二：断线重连');
    const pubs: Record<string, FfProc> = { [a.lessonId]: startPublisher(a.url, { durationS: 300 }), [b.lessonId]: startPublisher(b.url, { durationS: 300 }) };
    const seqA = await liveAdvances(a.lessonId, 1, 120_000);
    const seqB = await liveAdvances(b.lessonId, 1, 120_000);
    const before = { a: (await sessions(a.lessonId))[0], b: (await sessions(b.lessonId))[0] };

    // the node-media-server child of the ingest process dies; its supervisor starts a new one on the same port
    const children = spawnSync('ps', ['-o', 'pid=', '--ppid', String(r.fleet.ingest!.pid)], { encoding: 'utf8' }).stdout.split('\n').map((x) => Number(x.trim())).filter((x) => x > 0);
    expect(children.length).toBeGreaterThanOrEqual(1);
    for (const pid of children) process.kill(pid, 'SIGKILL');
    // OBS reconnects by itself: here each publisher is started again once its connection dropped
    for (const [lessonId, p] of Object.entries(pubs)) {
      await eventually(async () => p.proc.exitCode !== null || p.proc.signalCode !== null, 30_000, 'the publisher to notice the drop');
      const url = lessonId === a.lessonId ? a.url : b.url;
      pubs[lessonId] = await eventually(async () => {
        const again = startPublisher(url, { durationS: 300 });
        const early = await Promise.race([again.exited.then(() => true), new Promise<false>((res) => setTimeout(() => res(false), 4000))]);
        return early ? undefined : again;
      }, 60_000, 'a publisher reconnected');
    }
    await liveAdvances(a.lessonId, seqA, 120_000);
    await liveAdvances(b.lessonId, seqB, 120_000);
    const after = { a: await sessions(a.lessonId), b: await sessions(b.lessonId) };
    expect(after.a.map((s) => s.id)).toEqual([before.a.id]);
    expect(after.b.map((s) => s.id)).toEqual([before.b.id]);
    expect(after.a[0].epoch).toBeGreaterThan(before.a.epoch);
    expect(after.b[0].epoch).toBeGreaterThan(before.b.epoch);
    await oneWholeRecording(a.lessonId);
    await oneWholeRecording(b.lessonId);
    for (const p of Object.values(pubs)) await p.stop();
  }, 600_000);

  it('when the S3 server is unreachable for 30 s during a live lesson, then the gateway answers 503 with Retry-After meanwhile, the lesson goes on afterwards, no playlist names a missing object and the recording keeps the time on air', async () => {
    const l = await liveLesson('直播四：存储中断');
    const pub = startPublisher(l.url, { durationS: 300 });
    const onAirAt = Date.now();
    try {
      let seq = await liveAdvances(l.lessonId, 2, 120_000);
      const downAt = Date.now();
      await r.fleet.s3.kill('SIGKILL');
      try {
        const during = await eventually(async () => {
          const res = await fetch(`${r.fleet.publicUrl}/live/${l.lessonId}/master.m3u8?t=${Date.now()}`);
          await res.arrayBuffer();
          return res.status === 503 ? res : undefined;
        }, 20_000, 'the gateway to say storage is away');
        expect(Number(during.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(pub.proc.exitCode).toBeNull();
        await new Promise((res) => setTimeout(res, Math.max(0, 30_000 - (Date.now() - downAt))));
      } finally {
        await r.fleet.s3.start();
      }
      seq = await liveAdvances(l.lessonId, seq + 2, 120_000);
      // every object the live playlists name is there (nothing named before it was stored)
      const m = await (await fetch(`${r.fleet.publicUrl}/live/${l.lessonId}/master.m3u8`)).text();
      for (const v of m.split('\n').filter((x) => x && !x.startsWith('#'))) {
        const text = await (await fetch(`${r.fleet.publicUrl}/live/${l.lessonId}/${v}`)).text();
        const vdir = v.includes('/') ? v.slice(0, v.lastIndexOf('/') + 1) : '';
        for (const seg of text.split('\n').filter((x) => x && !x.startsWith('#'))) {
          expect((await fetch(`${r.fleet.publicUrl}/live/${l.lessonId}/${vdir}${seg}`, { method: 'HEAD' })).status, `${v} ${seg}`).toBe(200);
        }
      }
      const airS = (Date.now() - onAirAt) / 1000;
      await oneWholeRecording(l.lessonId);
      const rec = (await liveAssets(l.lessonId))[0];
      process.stderr.write(`[live S3 outage] on air ${airS.toFixed(1)} s, recording ${rec.duration_s} s\n`);
      // the 30 s without storage are in the recording: segments were kept and uploaded afterwards
      expect(rec.duration_s ?? 0).toBeGreaterThan(30);
    } finally {
      await pub.stop();
    }
  }, 600_000);

  it('when Redis restarts and then the worker transcoding a live lesson is SIGKILLed, then the lesson goes on for its students and its recording is whole', async () => {
    const l = await liveLesson('直播三：后台故障');
    const pub = startPublisher(l.url, { durationS: 300 });
    try {
      let seq = await liveAdvances(l.lessonId, 1, 120_000);
      await r.fleet.redis.restart();
      seq = await liveAdvances(l.lessonId, seq + 1, 120_000);
      expect(pub.proc.exitCode).toBeNull();
      const sessionId = (await sessions(l.lessonId))[0]?.id ?? '-';
      const holder = r.fleet.workers.find((w) => w.running && w.output().split('\n').some((x) => x.includes('"queue":"live"') && x.includes('"job started"') && x.includes(sessionId)));
      expect(holder, 'a worker runs the live job').toBeDefined();
      await holder!.kill('SIGKILL');
      try {
        seq = await liveAdvances(l.lessonId, seq + 1, 120_000);
        expect(pub.proc.exitCode).toBeNull();
      } finally {
        await holder!.start();
      }
      await oneWholeRecording(l.lessonId);
    } finally {
      await pub.stop();
    }
  }, 600_000);
});

interface Loris {
  sockets: net.Socket[];
  closedByServer(): number;
  stop(): void;
}

/** `n` connections that each send a first few bytes, then one more byte every `everyMs`, never finishing. */
function loris(port: number, n: number, first: Buffer, next: () => Buffer, everyMs: number): Loris {
  const sockets: net.Socket[] = [];
  let closed = 0;
  let stopping = false;
  const timer = setInterval(() => {
    for (const s of sockets) if (!s.destroyed && s.writable) s.write(next());
  }, everyMs);
  for (let i = 0; i < n; i++) {
    const s = net.connect(port, '127.0.0.1', () => s.write(first));
    s.on('error', () => undefined);
    s.on('close', () => {
      if (!stopping) closed += 1;
    });
    sockets.push(s);
  }
  return {
    sockets,
    closedByServer: () => closed,
    stop: () => {
      stopping = true;
      clearInterval(timer);
      for (const s of sockets) s.destroy();
    },
  };
}

/** A student's player: reloads the live media playlist through the edge and fetches each new segment. */
function student(base: string, lessonId: string): { stop: () => Promise<{ segments: number; errors: string[]; lastSequence: number }> } {
  let on = true;
  let segments = 0;
  let lastSequence = -1;
  const errors: string[] = [];
  const seen = new Set<string>();
  const loop = (async () => {
    while (on) {
      try {
        const master = await fetch(`${base}/live/${lessonId}/master.m3u8`);
        if (master.status !== 200) throw new Error(`master ${master.status}`);
        const variant = (await master.text()).split('\n').find((l) => l && !l.startsWith('#'))!;
        const media = await fetch(`${base}/live/${lessonId}/${variant}`);
        if (media.status !== 200) throw new Error(`media playlist ${media.status}`);
        const text = await media.text();
        lastSequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? -1);
        const dir = variant.includes('/') ? variant.slice(0, variant.lastIndexOf('/') + 1) : '';
        for (const uri of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
          if (seen.has(uri)) continue;
          seen.add(uri);
          const seg = await fetch(`${base}/live/${lessonId}/${dir}${uri}`);
          const body = await seg.arrayBuffer();
          if (seg.status !== 200 || body.byteLength === 0) errors.push(`segment ${uri}: ${seg.status}`);
          else segments += 1;
        }
      } catch (err) {
        errors.push((err as Error).message);
      }
      await new Promise((res) => setTimeout(res, 1000));
    }
  })();
  return {
    stop: async () => {
      on = false;
      await loop;
      return { segments, errors, lastSequence };
    },
  };
}

describe('slow and hostile clients', () => {
  it('when 200 slow-loris connections hold an API process and 200 the RTMP port, then the publisher stays on air, a student keeps playing, and the ingest drops the loris', async () => {
    const t = r.ts;
    const { lessonId, url } = await liveLesson('慢速攻击下的直播');
    const publisher = startPublisher(url, { durationS: 240 });
    // on air, and the live lesson plays through the edge
    await eventually(async () => ((await t.api('GET', '/api/v1/live')).body.items as { id: string }[]).some((i) => i.id === lessonId), 60_000, 'the lesson on air');
    await eventually(async () => (await fetch(`${r.fleet.publicUrl}/live/${lessonId}/master.m3u8`)).status === 200, 120_000, 'the live playlist');
    const player = student(r.fleet.publicUrl, lessonId);
    const before = await eventually(async () => {
      const v = await fetch(`${r.fleet.publicUrl}/live/${lessonId}/master.m3u8`);
      return v.status === 200 ? v.text() : undefined;
    }, 30_000, 'master');
    expect(before).toContain('#EXT-X-STREAM-INF');

    // 200 on an API process: headers that never end (a byte every 2 s)
    const apiPort = Number(new URL(r.fleet.apiUrls[0]).port);
    const httpLoris = loris(apiPort, 200, Buffer.from('GET /api/v1/lessons HTTP/1.1\r\nHost: 127.0.0.1\r\n'), () => Buffer.from('X'), 2000);
    // 200 on the RTMP port: a handshake that never completes (C0 then a byte every 2 s)
    const rtmpPort = Number(new URL(r.fleet.rtmpUrl!.replace('rtmp:', 'http:')).port);
    const rtmpLoris = loris(rtmpPort, 200, Buffer.from([0x03]), () => Buffer.from([0x00]), 2000);
    try {
      const seqBefore = (await eventually(async () => {
        const res = await fetch(`${r.fleet.apiUrls[0]}/live/${lessonId}/master.m3u8`);
        return res.status === 200 ? res : undefined;
      }, 30_000, 'the attacked API process still serving')).status;
      expect(seqBefore).toBe(200);
      // the ingest drops every loris connection (per-address pending cap at once, handshake timeout for the rest)
      await eventually(async () => rtmpLoris.closedByServer() === 200, 60_000, 'the ingest to drop all 200 RTMP loris connections');
      // meanwhile: the attacked API process answers, the publisher is on air, the student plays
      const direct = await fetch(`${r.fleet.apiUrls[0]}/api/v1/lessons`);
      expect(direct.status).toBe(200);
      await direct.text();
      expect(publisher.proc.exitCode).toBeNull();
      expect(((await t.api('GET', '/api/v1/live')).body.items as { id: string }[]).map((i) => i.id)).toContain(lessonId);
      // the HTTP loris are still held open (headers time out after headersTimeout), yet nothing suffers
      expect(httpLoris.closedByServer()).toBeLessThan(200);
      const mid = await player.stop();
      expect(mid.errors).toEqual([]);
      expect(mid.segments).toBeGreaterThanOrEqual(3);
      // a new publisher can still connect (the per-address cap is free again)
      const rtmpOk = await eventually(async () => new Promise<boolean>((resolve) => {
        const s = net.connect(rtmpPort, '127.0.0.1', () => {
          s.write(Buffer.concat([Buffer.from([0x03]), Buffer.alloc(1536)]));
        });
        s.once('data', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
        s.once('close', () => resolve(false));
      }), 20_000, 'an RTMP handshake answered');
      expect(rtmpOk).toBe(true);
    } finally {
      httpLoris.stop();
      rtmpLoris.stop();
      await publisher.stop();
    }
  }, 400_000);
});
