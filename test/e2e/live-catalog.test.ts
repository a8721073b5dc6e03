import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';
import { startPublisher, stopAllFfmpeg, type FfProc } from '../helpers/ffmpeg-rtmp.ts';
import { IngestEventLog } from '../helpers/ingest-events.ts';
import { eventually } from '../helpers/wait.ts';
import { approvedLiveLesson } from '../helpers/live-lesson.ts';
import { encodeFlvTags, MSG, publishFlvTags, realTime } from '../helpers/rtmp-client.ts';
import { LiveLedgerStore } from '../../src/infra/live-ledger.store.ts';
import { PubSub } from '../../src/infra/pubsub.ts';
import { KeyAnnouncements } from '../../src/infra/key-announcements.ts';
import { Metrics } from '../../src/api/metrics.ts';
import { startIngest } from '../../src/services/live-ingest.service.ts';

/**
 * The catalog side of live lessons with the real ingest (node-media-server child) and real ffmpeg
 * publishers: keys from the API decide who goes on air; sessions, reconnects, stop and the end of a
 * session as the catalog records them. (The media side is in live-pipeline.test.ts.)
 */

let ts: TestSystem;
beforeAll(async () => {
  ts = await startTestSystem({ api: true, ingest: true }, { LIVE_RECONNECT_WINDOW_S: '4', RTMP_IDLE_TIMEOUT_S: '3' });
});
afterEach(async () => {
  await stopAllFfmpeg();
});
afterAll(async () => {
  await stopAllFfmpeg();
  await ts?.stop();
});

async function liveLesson(opts: { approve?: boolean; startOffsetMin?: number } = {}): Promise<string> {
  const start = Date.now() + (opts.startOffsetMin ?? -5) * 60_000;
  const c = await ts.api('POST', '/api/v1/lessons', {
    token: ts.users.teacherA.token,
    body: lessonBody({ kind: 'live', type: 'live', title: '直播：认识钟表', scheduledStart: new Date(start).toISOString(), scheduledEnd: new Date(start + 45 * 60_000).toISOString() }),
  });
  expect(c.status).toBe(201);
  expect(c.body.status).toBe('scheduled');
  if (opts.approve !== false) {
    const r = await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } });
    expect(r.body.status).toBe('approved_for_air');
  }
  return c.body.id;
}

const obsUrl = (rtmpUrl: string, streamKey: string) => `${rtmpUrl.replace(/:\d+\//, `:${ts.sys.ingest!.port}/`)}/${streamKey}`;

async function keyOf(id: string): Promise<{ rtmpUrl: string; streamKey: string }> {
  const k = await ts.api('POST', `/api/v1/lessons/${id}/live`, { token: ts.users.teacherA.token });
  expect(k.status).toBe(200);
  expect(k.headers.get('cache-control')).toBe('no-store');
  return k.body;
}

const status = async (id: string) => (await ts.api('GET', `/api/v1/lessons/${id}`, { token: ts.users.operator.token })).body.status as string;
const onAirIds = async () => ((await ts.api('GET', '/api/v1/live')).body.items as { id: string }[]).map((i) => i.id);
const sessions = (id: string) => ts.sys.db.query<{ id: string; state: string; epoch: number; end_reason: string | null; asset_id: string | null }>('SELECT id, state, epoch, end_reason, asset_id FROM live_sessions WHERE lesson_id = $1 ORDER BY started_at', [id]);

/** The pid of the ingest's capture ffmpeg pulling the lesson (a child of this process), or 0. */
function captureFfmpegPid(lessonId: string): number {
  const ps = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).stdout;
  const line = ps.split('\n').find((x) => x.includes('ffmpeg') && x.includes(`/live/${lessonId}?`) && x.includes('seg-%05d.ts'));
  return line ? Number(line.trim().split(/\s+/)[0]) : 0;
}

async function refusedQuickly(p: FfProc): Promise<void> {
  const exit = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 8000))]);
  expect(exit, 'a refused publisher is disconnected').not.toBeNull();
}

describe('live lessons through the ingest', () => {
  it('when an approved lesson publishes with its key, then it is on air, listed publicly, and its key never appears in the public answers', async () => {
    const id = await liveLesson();
    const { rtmpUrl, streamKey } = await keyOf(id);
    expect(streamKey).toMatch(new RegExp(`^${id}\\?key=[A-Za-z0-9_-]{20,}$`));
    // asking again gives the same key (OBS keeps working)
    expect((await keyOf(id)).streamKey).toBe(streamKey);
    startPublisher(obsUrl(rtmpUrl, streamKey), { durationS: 60 });
    await eventually(() => status(id), (s) => s === 'on_air', 15_000, 'on air');
    expect(await onAirIds()).toContain(id);
    const pub = await ts.api('GET', `/api/v1/lessons/${id}`);
    expect(pub.status).toBe(200);
    expect(pub.body.live).toEqual({ onAir: true, hls: expect.stringMatching(new RegExp(`/live/${id}/master\\.m3u8$`)) });
    const secret = streamKey.split('key=')[1];
    expect(JSON.stringify(pub.body)).not.toContain(secret);
    expect(JSON.stringify((await ts.api('GET', '/api/v1/live')).body)).not.toContain(secret);
  });

  it('when a lesson is not approved, out of its window or the key is wrong, then the publisher is refused and no session starts', async () => {
    const unapproved = await liveLesson({ approve: false });
    const k1 = await keyOf(unapproved);
    await refusedQuickly(startPublisher(obsUrl(k1.rtmpUrl, k1.streamKey)));
    const later = await liveLesson({ startOffsetMin: 600 });
    const k2 = await keyOf(later);
    await refusedQuickly(startPublisher(obsUrl(k2.rtmpUrl, k2.streamKey)));
    const ok = await liveLesson();
    const k3 = await keyOf(ok);
    await refusedQuickly(startPublisher(obsUrl(k3.rtmpUrl, `${ok}?key=wrong-key-wrong-key-wrong`)));
    for (const id of [unapproved, later, ok]) expect(await sessions(id)).toEqual([]);
    expect(await status(unapproved)).toBe('scheduled');
    expect(await status(ok)).toBe('approved_for_air');
  });

  it('when a live plan is approved and the teacher starts OBS at once, then the publish is accepted (the ingest learned of the approval before the API answered)', async () => {
    const id = await liveLesson({ approve: false });
    const k = await keyOf(id);
    const events = new IngestEventLog(ts.sys.ingest!);
    const r = await ts.api('POST', `/api/v1/lessons/${id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } });
    expect(r.body.status).toBe('approved_for_air');
    const p = startPublisher(obsUrl(k.rtmpUrl, k.streamKey));
    await events.wait('publishStart', (e) => e.lessonId === id, 15_000);
    expect(events.of('refused', (e) => e.lessonId === id)).toEqual([]);
    await eventually(() => status(id), (s) => s === 'on_air', 15_000, 'on air');
    expect(p.proc.exitCode).toBeNull();
  });

  it('when the teacher rotates the key, then the old key is refused as soon as the rotation answered and the new one works', async () => {
    const id = await liveLesson();
    const old = await keyOf(id);
    const rot = await ts.api('POST', `/api/v1/lessons/${id}/live/rotate-key`, { token: ts.users.teacherA.token });
    expect(rot.body.streamKey).not.toBe(old.streamKey);
    // the rotation answers once every ingest has the new key
    await refusedQuickly(startPublisher(obsUrl(old.rtmpUrl, old.streamKey)));
    expect(await sessions(id)).toEqual([]);
    startPublisher(obsUrl(rot.body.rtmpUrl, rot.body.streamKey));
    await eventually(() => status(id), (s) => s === 'on_air', 15_000, 'on air with the new key');
  });

  it('when the publisher drops and comes back within the window, then it is the same session; after the window the session ends into a recording', async () => {
    const id = await liveLesson();
    const k = await keyOf(id);
    const p1 = startPublisher(obsUrl(k.rtmpUrl, k.streamKey));
    await eventually(() => sessions(id), (s) => s.length === 1 && s[0].state === 'on_air', 15_000, 'session on air');
    p1.proc.kill('SIGKILL');
    await eventually(() => sessions(id), (s) => s[0]?.state === 'reconnecting', 10_000, 'reconnecting');
    startPublisher(obsUrl(k.rtmpUrl, k.streamKey));
    const resumed = await eventually(() => sessions(id), (s) => s[0]?.state === 'on_air' && s[0].epoch === 2, 15_000, 'resumed');
    expect(resumed).toHaveLength(1);
    await stopAllFfmpeg();
    const ended = await eventually(() => sessions(id), (s) => s[0]?.state === 'ended', 20_000, 'session ended after the window');
    expect(ended).toHaveLength(1);
    expect(ended[0].end_reason).toBe('publisher did not reconnect');
    expect(await status(id)).toBe('processing');
    const asset = (await ts.sys.db.query<{ origin: string; hls_root: string; state: string }>('SELECT origin, hls_root, state FROM assets WHERE id = $1', [ended[0].asset_id]))[0];
    expect(asset).toEqual({ origin: 'live', hls_root: `live/${ended[0].id}/`, state: 'processing' });
    expect(await onAirIds()).not.toContain(id);
  });

  it('when a reviewer stops a lesson whose publisher has gone while the capture\'s ffmpeg gets no CPU (a loaded host), then the capture still ends with every second that reached the ingest', async () => {
    const l = await approvedLiveLesson(ts, '直播：收尾不丢秒');
    const url = new URL(l.url);
    // 5 s: the capture's last segment is a partial one (2 + 2 + 1 s), the one a killed ffmpeg never finishes
    const tags = realTime(await encodeFlvTags({ seconds: 5 }));
    const lastVideo = tags.filter((t) => t.type === MSG.video).at(-1)!;
    const sentS = (lastVideo.timestamp + 1000 / 30) / 1000;
    const pub = await publishFlvTags(Number(url.port), `${url.pathname.split('/').pop()}${url.search}`, tags, { hold: true });
    expect(pub.status).toBe('NetStream.Publish.Start');
    const [session] = await eventually(() => sessions(l.id), (s) => s[0]?.state === 'on_air', 15_000, 'on air');
    const capturePid = await eventually(async () => captureFfmpegPid(l.id), (pid) => pid > 0, 15_000, 'the capture\'s ffmpeg');
    await pub.sent;
    // the host is starved as the lesson ends: the capture's ffmpeg stands still from the publisher's
    // last tag until 8 s after the stop (the ingest ends its pull when the publisher goes; unstarved, it
    // would have ended by itself before the stop). The capture gives an ended session's ffmpeg 12 s
    // before SIGTERM and SIGKILL; one left to its own read timeout needs 10 s more after it moves
    // again, and was killed with its last segment unwritten
    process.kill(capturePid, 'SIGSTOP');
    try {
      pub.stop();
      await pub.done;
      await eventually(() => sessions(l.id), (s) => s[0]?.state === 'reconnecting', 10_000, 'reconnecting');
      const stop = await ts.api('POST', `/api/v1/lessons/${l.id}/live/stop`, { token: ts.users.reviewerA.token, body: { reason: '下课' } });
      expect(stop.status).toBe(200);
      // the fault's length, not a wait for an event
      await new Promise((r) => setTimeout(r, 8000));
    } finally {
      process.kill(capturePid, 'SIGCONT');
    }
    await eventually(() => ts.sys.redis.exists(`${ts.sys.config.QUEUE_PREFIX}:live:${session.id}:capture-ended`), (n) => n === 1, 30_000, 'the capture ended');
    const capture = await new LiveLedgerStore(ts.sys.storage, session.id, 'capture').load();
    const capturedS = (capture?.slots ?? []).reduce((t, x) => t + x.parts[0].durationS, 0);
    expect(Math.abs(capturedS - sentS), `captured ${capturedS} s of ${sentS} s sent: ${JSON.stringify(capture?.slots.map((x) => x.parts[0].durationS))}`).toBeLessThanOrEqual(0.1);
  });

  it('when an ingest shuts down (a deploy) with a publisher on air, then its capture keeps every second that reached it, and the publisher reconnecting to another ingest goes on in the same session and capture', async () => {
    const l = await approvedLiveLesson(ts, '直播：重启不丢秒');
    const name = `${new URL(l.url).pathname.split('/').pop()}${new URL(l.url).search}`;
    const sentOf = (tags: { type: number; timestamp: number }[]) => (tags.filter((t) => t.type === MSG.video).at(-1)!.timestamp + 1000 / 30) / 1000;
    // the ingest being deployed: a second ingest role over this system's catalog, storage and Redis
    const { config } = ts.sys;
    const pubsub = new PubSub(ts.sys.redisUrl, ts.sys.redis, config.QUEUE_PREFIX);
    const closing = await startIngest({
      config: { ...config, RTMP_PORT: 0 }, log: ts.sys.log, live: ts.sys.services.live, pubsub, announcements: new KeyAnnouncements(ts.sys.redis, pubsub, config.QUEUE_PREFIX),
      metrics: new Metrics(), workerPlayToken: ts.sys.ingest!.workerPlayToken, storage: ts.sys.storage, redis: ts.sys.redis,
    });
    const events = new IngestEventLog(closing);
    // 3 s: the capture's last segment is a partial one (2 + 1 s), the one a killed ffmpeg never finishes
    const first = realTime(await encodeFlvTags({ seconds: 3 }));
    let session: { id: string };
    try {
      // the encoder is on air to the end: it has sent all it has and its connection is open
      const pub = await publishFlvTags(closing.port, name, first, { hold: true });
      expect(pub.status).toBe('NetStream.Publish.Start');
      [session] = await eventually(() => sessions(l.id), (s) => s[0]?.state === 'on_air', 15_000, 'on air');
      await events.wait('playStart', (e) => e.lessonId === l.id, 15_000);
      await pub.sent;
      await closing.stop();
    } finally {
      await closing.stop();
      await pubsub.close();
    }
    const capturedAt = async () => ((await new LiveLedgerStore(ts.sys.storage, session.id, 'capture').load())?.slots ?? []).map((x) => x.parts[0].durationS);
    const firstSlots = await capturedAt();
    const firstS = firstSlots.reduce((t, d) => t + d, 0);
    expect(Math.abs(firstS - sentOf(first)), `captured ${JSON.stringify(firstSlots)} of ${sentOf(first)} s sent`).toBeLessThanOrEqual(0.1);
    // the catalog knows the publisher is gone and waits for it
    expect(await sessions(l.id)).toMatchObject([{ id: session.id, state: 'reconnecting' }]);

    const second = realTime(await encodeFlvTags({ seconds: 2 }));
    const pub = await publishFlvTags(ts.sys.ingest!.port, name, second);
    expect(pub.status).toBe('NetStream.Publish.Start');
    await eventually(() => sessions(l.id), (s) => s[0]?.state === 'on_air' && s[0]?.epoch === 2, 15_000, 'on air again');
    await pub.done;
    expect((await ts.api('POST', `/api/v1/lessons/${l.id}/live/stop`, { token: ts.users.reviewerA.token, body: { reason: '下课' } })).status).toBe(200);
    await eventually(() => ts.sys.redis.exists(`${config.QUEUE_PREFIX}:live:${session.id}:capture-ended`), (n) => n === 1, 30_000, 'the capture ended');
    const slots = await capturedAt();
    expect(await sessions(l.id)).toMatchObject([{ id: session.id, state: 'ended' }]);
    expect(slots.slice(0, firstSlots.length), 'the other ingest continued the ledger').toEqual(firstSlots);
    const secondS = slots.slice(firstSlots.length).reduce((t, d) => t + d, 0);
    expect(Math.abs(secondS - sentOf(second)), `captured ${JSON.stringify(slots)} of ${sentOf(first)} + ${sentOf(second)} s sent`).toBeLessThanOrEqual(0.1);
  });

  it('when the publisher\'s connection breaks and it reconnects within the window while the capture\'s ffmpeg gets no CPU (a loaded host), then the capture holds every second of both connections', async () => {
    const l = await approvedLiveLesson(ts, '直播：重连不丢秒');
    const url = new URL(l.url);
    const name = `${url.pathname.split('/').pop()}${url.search}`;
    const port = Number(url.port);
    const sentOf = (tags: { type: number; timestamp: number }[]) => (tags.filter((t) => t.type === MSG.video).at(-1)!.timestamp + 1000 / 30) / 1000;
    const events = new IngestEventLog(ts.sys.ingest!);
    // 5 s: the first connection's last segment is a partial one (2 + 2 + 1 s), the one a killed ffmpeg never finishes
    const first = realTime(await encodeFlvTags({ seconds: 5 }));
    const second = realTime(await encodeFlvTags({ seconds: 3 }));
    const pub1 = await publishFlvTags(port, name, first, { hold: true });
    expect(pub1.status).toBe('NetStream.Publish.Start');
    const [session] = await eventually(() => sessions(l.id), (s) => s[0]?.state === 'on_air', 15_000, 'on air');
    const capturePid = await eventually(async () => captureFfmpegPid(l.id), (pid) => pid > 0, 15_000, 'the capture\'s ffmpeg');
    await pub1.sent;
    // the host is starved across the drop: the capture's ffmpeg stands still until 4 s after the
    // reconnect. It was signalled at the reconnect (SIGTERM, SIGKILL 3 s later) and lost its last
    // partial segment and what it had not read yet
    process.kill(capturePid, 'SIGSTOP');
    let pub2: Awaited<ReturnType<typeof publishFlvTags>>;
    let pulls: Set<string>;
    try {
      // the encoder's process dies: no orderly close
      pub1.cut();
      await pub1.done;
      await eventually(() => sessions(l.id), (s) => s[0]?.state === 'reconnecting', 10_000, 'reconnecting');
      pub2 = await publishFlvTags(port, name, second, { hold: true });
      expect(pub2.status).toBe('NetStream.Publish.Start');
      await eventually(() => sessions(l.id), (s) => s[0]?.state === 'on_air' && s[0]?.epoch === 2, 15_000, 'on air again');
      pulls = new Set(events.of('playStart', (e) => e.lessonId === l.id).map((e) => e.ev.sessionId));
      // the fault's length, not a wait for an event
      await new Promise((r) => setTimeout(r, 4000));
    } finally {
      try {
        process.kill(capturePid, 'SIGCONT');
      } catch {
        // killed meanwhile (the fault this test is about)
      }
    }
    // the lesson goes on until the capture pulls the new connection (a teacher teaches on)
    await events.wait('playStart', (e) => e.lessonId === l.id && !pulls.has(e.sessionId), 20_000);
    await pub2.sent;
    pub2.stop();
    await pub2.done;
    expect((await ts.api('POST', `/api/v1/lessons/${l.id}/live/stop`, { token: ts.users.reviewerA.token, body: { reason: '下课' } })).status).toBe(200);
    await eventually(() => ts.sys.redis.exists(`${ts.sys.config.QUEUE_PREFIX}:live:${session.id}:capture-ended`), (n) => n === 1, 30_000, 'the capture ended');
    const capture = await new LiveLedgerStore(ts.sys.storage, session.id, 'capture').load();
    const slots = (capture?.slots ?? []).map((x) => x.parts[0].durationS);
    const capturedS = slots.reduce((t, d) => t + d, 0);
    const sentS = sentOf(first) + sentOf(second);
    expect(Math.abs(capturedS - sentS), `captured ${JSON.stringify(slots)} of ${sentOf(first)} + ${sentOf(second)} s sent`).toBeLessThanOrEqual(0.1);
  });

  it('when a reviewer stops a live lesson, then the publisher is cut off within 2 s, the session ends and the key is refused afterwards', async () => {
    const id = await liveLesson();
    const k = await keyOf(id);
    const p = startPublisher(obsUrl(k.rtmpUrl, k.streamKey));
    await eventually(() => status(id), (s) => s === 'on_air', 15_000, 'on air');
    // another school's reviewer and a teacher cannot stop it
    expect((await ts.api('POST', `/api/v1/lessons/${id}/live/stop`, { token: ts.users.reviewerB.token })).status).toBe(404);
    expect((await ts.api('POST', `/api/v1/lessons/${id}/live/stop`, { token: ts.users.teacherA.token })).status).toBe(403);
    const stop = await ts.api('POST', `/api/v1/lessons/${id}/live/stop`, { token: ts.users.reviewerA.token, body: { reason: '内容与计划不符' } });
    expect(stop.status).toBe(200);
    expect(stop.body.status).toBe('processing');
    // the kick reaches the ingest over Redis pub/sub; the bound here only keeps a broken build from hanging
    const exit = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
    expect(exit, 'the publisher was disconnected').not.toBeNull();
    expect((await sessions(id))[0].state).toBe('ended');
    expect((await sessions(id))[0].end_reason).toBe('stopped');
    await refusedQuickly(startPublisher(obsUrl(k.rtmpUrl, k.streamKey)));
    expect(await sessions(id)).toHaveLength(1);
    expect((await ts.api('POST', `/api/v1/lessons/${id}/live/stop`, { token: ts.users.operator.token })).status).toBe(409);
    const audit = await ts.api('GET', `/api/v1/audit?entity=lesson&entityId=${id}`, { token: ts.users.operator.token });
    expect(audit.body.items.find((a: { action: string }) => a.action === 'live_stopped').reason).toBe('内容与计划不符');
  });
});
