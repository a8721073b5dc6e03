import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPublisher, stopAllFfmpeg } from '../helpers/ffmpeg-rtmp.ts';
import { eventually, startFleetRig, type FleetRig } from '../helpers/fleet.ts';
import { lessonBody } from '../helpers/system.ts';

/**
 * Issue 13.3: 200 slow-loris connections on an API process and 200 on the RTMP port, on a fleet of
 * processes, while a teacher is on air and a student plays the live lesson through the edge. Bounded:
 * 400 sockets, about 30 s of trickling; only 127.0.0.1.
 */

let r: FleetRig;

beforeAll(async () => {
  // one worker with the smallest live ladder: the live lesson a student can play, at little CPU
  r = await startFleetRig({ apis: 2, workers: 1, ingest: true, env: { LIVE_LADDER: '360p', LIVE_X264_PRESET: 'ultrafast' } });
}, 300_000);

afterAll(async () => {
  await stopAllFfmpeg();
  await r?.stop();
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
    const start = Date.now() - 5 * 60_000;
    const c = await t.api('POST', '/api/v1/lessons', { token: t.users.teacherA.token, body: lessonBody({ kind: 'live', type: 'live', title: '慢速攻击下的直播', scheduledStart: new Date(start).toISOString(), scheduledEnd: new Date(start + 45 * 60_000).toISOString() }) });
    expect(c.status).toBe(201);
    const lessonId = c.body.id as string;
    expect((await t.api('POST', `/api/v1/lessons/${lessonId}/review`, { token: t.users.reviewerA.token, body: { decision: 'approve' } })).status).toBe(200);
    const k = await t.api('POST', `/api/v1/lessons/${lessonId}/live`, { token: t.users.teacherA.token });
    expect(k.status).toBe(200);
    const publisher = startPublisher(`${k.body.rtmpUrl}/${k.body.streamKey}`, { durationS: 240 });
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
