import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';
import { eventually } from '../helpers/fleet.ts';
import { LiveWorkersStore, type LiveWorkerBeat } from '../../src/infra/live-workers.store.ts';
import { LiveSlots } from '../../workers/live-slots.ts';
import { jobIds, queueNames } from '../../src/jobs/job-types.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { createRedis } from '../../src/infra/redis.ts';

/**
 * Live capacity (issue 11 item 3) against real PostgreSQL and Redis: workers' heartbeats (one that
 * stops beating drops out), sessions on air transcoded or captured only with the true reason, the same
 * reason in the teacher's live status, the gauges on /metrics, and the 15-minute capacity report.
 * Sessions are opened through the catalog (LiveService.onPublishStart, as the ingest does) so no
 * encoder is needed; workers are stood in for by their heartbeats.
 */

let ts: TestSystem;
let store: LiveWorkersStore;
beforeAll(async () => {
  ts = await startTestSystem({ api: true }, { LIVE_FLEET_SLOTS: '1' });
  store = new LiveWorkersStore(ts.sys.redis, ts.sys.config.QUEUE_PREFIX);
});
afterAll(async () => {
  await ts?.stop();
});


const liveLesson = async (title: string, startMs = Date.now() - 60_000, minutes = 45): Promise<string> => {
  const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ kind: 'live', type: 'live', title, scheduledStart: new Date(startMs).toISOString(), scheduledEnd: new Date(startMs + minutes * 60_000).toISOString() }) });
  expect(c.status).toBe(201);
  expect((await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } })).status).toBe(200);
  return c.body.id;
};
/** A lesson goes on air as the ingest reports it: a session and its live job. */
const onAir = async (title: string): Promise<{ lessonId: string; sessionId: string }> => {
  const lessonId = await liveLesson(title);
  const s = await ts.sys.services.live.onPublishStart(lessonId);
  return { lessonId, sessionId: s!.sessionId };
};
const beat = (workerId: string, slots: number, sessions: LiveWorkerBeat['sessions'] = [], ttlS = 30) =>
  store.beat({ workerId, host: 'test-host', pid: 1, slots, sessions, startedAt: Date.now(), at: Date.now() }, ttlS);
const capacity = async () => {
  const r = await ts.api('GET', '/api/v1/ops/capacity', { token: ts.users.operator.token });
  expect(r.status).toBe(200);
  return r.body;
};
const itemOf = (snap: any, sessionId: string) => snap.items.find((i: any) => i.sessionId === sessionId);
const metricsOf = async (url: string) => (await fetch(`${url}/metrics`)).text();
const gaugeIn = (metrics: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
const teacherStatus = async (lessonId: string) => (await ts.api('GET', `/api/v1/lessons/${lessonId}/live/status`, { token: ts.users.teacherA.token })).body;

describe('live workers\' heartbeats', () => {
  it('when two workers beat and one stops beating (killed), then both are listed until the silent one\'s beat expires, and a worker that stops on purpose leaves at once', async () => {
    const slots = new LiveSlots(store, 2, 3, createLogger('silent'));
    slots.start();
    // the other worker beats once with a short life and then says nothing, like a SIGKILLed process
    await beat('killed-worker', 1, [], 3);
    const both = await eventually(() => store.alive().then((w) => w.length === 2 && w), 10_000, 'two workers');
    expect(both.map((w) => [w.workerId, w.slots]).sort()).toEqual([['killed-worker', 1], [slots.workerId, 2]].sort());
    const slot = slots.take({ sessionId: '00000000-0000-4000-8000-000000000001', lessonId: '00000000-0000-4000-8000-000000000002' });
    slot.watch(() => ({ state: 'transcoding' }));
    const one = await eventually(() => store.alive().then((w) => w.length === 1 && w), 15_000, 'the silent worker to expire');
    expect(one[0]).toMatchObject({ workerId: slots.workerId, slots: 2, sessions: [{ sessionId: '00000000-0000-4000-8000-000000000001', state: 'transcoding' }] });
    slot.release();
    await eventually(() => store.alive().then((w) => w[0]?.sessions.length === 0), 10_000, 'the slot released');
    await slots.stop();
    expect(await store.alive()).toEqual([]);
  }, 40_000);
});

describe('sessions on air without a transcoder', () => {
  it('when lessons go on air, then each says whether a transcoder carries it and, if not, the true reason, to operators, the teacher and /metrics', async () => {
    // nobody alive: the first lesson is captured only because no live worker is alive
    const a = await onAir('容量一');
    let snap = await capacity();
    expect(snap.workers).toEqual([]);
    expect(itemOf(snap, a.sessionId)).toMatchObject({ lessonId: a.lessonId, title: '容量一', transcoded: false, reason: 'no_live_worker', transcoder: null });
    expect((await teacherStatus(a.lessonId)).transcode).toEqual({ transcoded: false, reason: 'no_live_worker', ahead: null, sourceProblem: null });

    // one worker with one slot takes the first: the second and third wait behind the busy slot
    const b = await onAir('容量二');
    const c = await onAir('容量三');
    // a stand-in worker takes jobs off the live queue as a live worker does (they stay active)
    const taker = new Worker(queueNames.live, null, { connection: createRedis(ts.sys.redisUrl, { forBullmq: true }), prefix: ts.sys.config.QUEUE_PREFIX });
    try {
      expect((await taker.getNextJob('w1-token'))?.id).toBe(jobIds.live(a.sessionId));
      await beat('w1', 1, [{ sessionId: a.sessionId, lessonId: a.lessonId, since: Date.now(), state: 'transcoding' }]);
      snap = await capacity();
      expect(snap.slots).toEqual({ total: 1, used: 1, free: 0 });
      expect(itemOf(snap, a.sessionId)).toMatchObject({ transcoded: true, reason: null, transcoder: { workerId: 'w1', host: 'test-host', state: 'transcoding' } });
      expect(itemOf(snap, b.sessionId)).toMatchObject({ transcoded: false, reason: 'slots_busy', ahead: 0 });
      expect(itemOf(snap, c.sessionId)).toMatchObject({ transcoded: false, reason: 'slots_busy', ahead: 1 });
      expect(snap.sessions).toMatchObject({ onAir: 3, transcoded: 1, captureOnly: 2, byReason: { slots_busy: 2, no_live_worker: 0 } });
      expect(snap.jobs.waiting).toBe(2);
      expect(snap.jobs.oldestWaitS).toBeGreaterThanOrEqual(0);
      expect((await teacherStatus(c.lessonId)).transcode).toEqual({ transcoded: false, reason: 'slots_busy', ahead: 1, sourceProblem: null });

      // the gauges say the same (read from Redis and the database, not this process's memory)
      const metrics = await metricsOf(ts.url);
      const gauge = (name: string) => gaugeIn(metrics, name);
      expect(gauge('classcast_live_sessions_on_air')).toBe(3);
      expect(gauge('classcast_live_sessions_transcoded')).toBe(1);
      expect(gauge('classcast_live_sessions_capture_only')).toBe(2);
      expect(gauge('classcast_live_jobs_waiting')).toBe(2);
      expect(gauge('classcast_live_slots_total')).toBe(1);
      expect(gauge('classcast_live_slots_used')).toBe(1);
      expect(gauge('classcast_live_workers_alive')).toBe(1);
      expect(metrics).toMatch(/^classcast_live_sessions_capture_only_by_reason\{reason="slots_busy"\} 2$/m);
      expect(gauge('classcast_live_jobs_oldest_wait_seconds')).toBeGreaterThanOrEqual(0);

      // a worker took the second's job and died (its job is active, nobody alive holds it): waiting for stall recovery
      expect((await taker.getNextJob('dead-worker-token'))?.id).toBe(jobIds.live(b.sessionId));
      snap = await capacity();
      expect(itemOf(snap, b.sessionId)).toMatchObject({ transcoded: false, reason: 'worker_lost' });
      expect(itemOf(snap, c.sessionId)).toMatchObject({ reason: 'slots_busy', ahead: 0 });
      expect(snap.jobs.waiting).toBe(2);
    } finally {
      await taker.close();
    }

    // a transcoder holds the third but its source cannot be transcoded
    await beat('w2', 1, [{ sessionId: c.sessionId, lessonId: c.lessonId, since: Date.now(), state: 'source_unusable', problem: 'undecodable' }]);
    snap = await capacity();
    expect(itemOf(snap, c.sessionId)).toMatchObject({ transcoded: false, reason: 'source_unusable', sourceProblem: 'undecodable', transcoder: { workerId: 'w2' } });
    expect((await teacherStatus(c.lessonId)).transcode).toMatchObject({ transcoded: false, reason: 'source_unusable', sourceProblem: 'undecodable' });

    // a session whose live job is gone (failed for good) will get no transcoder
    const d = await onAir('容量四');
    await ts.sys.queues.queue(queueNames.live).remove(jobIds.live(d.sessionId));
    await ts.sys.db.query("UPDATE live_sessions SET started_at = now() - interval '1 minute' WHERE id = $1", [d.sessionId]);
    snap = await capacity();
    expect(itemOf(snap, d.sessionId)).toMatchObject({ transcoded: false, reason: 'transcoder_failed' });

    // a free slot: the waiting job is about to be taken
    await beat('w3', 2);
    const e = await onAir('容量五');
    expect(itemOf(await capacity(), e.sessionId)).toMatchObject({ transcoded: false, reason: 'transcoder_starting' });

    // an ended session is no longer on air; the teacher of a lesson without a session gets null
    await ts.sys.services.live.endSession(a.sessionId, 'test');
    expect(itemOf(await capacity(), a.sessionId)).toBeUndefined();
    expect((await teacherStatus(a.lessonId)).transcode).toBeNull();
    for (const w of ['w1', 'w2', 'w3']) await store.remove(w);
  }, 60_000);
});

describe('the live capacity report', () => {
  it('when more approved live lessons overlap a 15-minute window of the next 3 days than the fleet has slots, then the window is listed with its lessons and the shortfall', async () => {
    // tomorrow 10:00-10:40 (Shanghai) three lessons, one of them 10:30-11:10; the day after, one alone
    const day = Math.floor((Date.now() + 86_400_000) / 86_400_000) * 86_400_000 + 2 * 3600_000; // 10:00 +08:00
    const x = await liveLesson('报告一', day, 40);
    const y = await liveLesson('报告二', day, 40);
    const z = await liveLesson('报告三', day + 30 * 60_000, 40);
    await liveLesson('报告四', day + 86_400_000, 40);
    // no live worker alive: the configured figure (LIVE_FLEET_SLOTS=1)
    const r1 = (await ts.api('GET', '/api/v1/reports/live-capacity', { token: ts.users.operator.token })).body;
    expect(r1.capacity).toEqual({ slots: 1, source: 'configured' });
    expect(r1.over.maxShortfall).toBeGreaterThanOrEqual(2);
    expect(r1.over.windows).toBeGreaterThanOrEqual(3);
    const spans = r1.windows.filter((w: any) => w.lessons.some((l: any) => [x, y, z].includes(l.lessonId)));
    // 10:00-10:30 two lessons (two quarters, one span), 10:30-10:45 three, from 10:45 the third alone fits
    expect(spans.map((w: any) => [w.from, w.to, w.demand, w.capacity, w.shortfall])).toEqual([
      [iso(day), iso(day + 30 * 60_000), 2, 1, 1],
      [iso(day + 30 * 60_000), iso(day + 45 * 60_000), 3, 1, 2],
    ]);
    expect(spans[1].lessons.map((l: any) => l.title).sort()).toEqual(['报告一', '报告三', '报告二'].sort());
    expect(spans[1].lessons[0]).toMatchObject({ school: '甲小学', teacher: 'teacherA' });

    // workers alive with three slots: nothing over capacity any more
    await beat('r1', 2);
    await beat('r2', 1);
    const r2 = (await ts.api('GET', '/api/v1/reports/live-capacity', { token: ts.users.admin.token })).body;
    expect(r2.capacity).toEqual({ slots: 3, source: 'workers' });
    expect(r2.windows.filter((w: any) => w.lessons.some((l: any) => [x, y, z].includes(l.lessonId)))).toEqual([]);
    for (const w of ['r1', 'r2']) await store.remove(w);
  }, 60_000);
});

/** `2030-01-07T10:00:00+08:00` of an instant. */
function iso(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().replace(/\.\d{3}Z$/, '+08:00');
}

describe('several API processes', () => {
  it('when two API processes answer, then their capacity gauges agree with each other and with /ops/capacity (read from Redis and PostgreSQL, not process memory)', async () => {
    const other = await startTestSystem({ api: true }, { DATABASE_SCHEMA: ts.sys.config.DATABASE_SCHEMA, QUEUE_PREFIX: ts.sys.config.QUEUE_PREFIX, LIVE_FLEET_SLOTS: '1' });
    try {
      const snap = await capacity();
      const [m1, m2] = await Promise.all([metricsOf(ts.url), metricsOf(other.url)]);
      const names = ['classcast_live_sessions_on_air', 'classcast_live_sessions_transcoded', 'classcast_live_sessions_capture_only', 'classcast_live_jobs_waiting', 'classcast_live_slots_total', 'classcast_live_slots_used', 'classcast_live_workers_alive'];
      for (const name of names) expect(gaugeIn(m2, name), name).toBe(gaugeIn(m1, name));
      expect(snap.sessions.onAir).toBeGreaterThan(0);
      expect(gaugeIn(m2, 'classcast_live_sessions_on_air')).toBe(snap.sessions.onAir);
      expect(gaugeIn(m2, 'classcast_live_sessions_capture_only')).toBe(snap.sessions.captureOnly);
      // the report's gauges, in the process that had never made the report
      const report = (await other.api('GET', '/api/v1/reports/live-capacity', { token: other.users.operator.token })).body;
      expect(report.over.maxShortfall).toBeGreaterThanOrEqual(2);
      expect(gaugeIn(m2, 'classcast_live_capacity_shortfall_max')).toBe(report.over.maxShortfall);
      expect(gaugeIn(m2, 'classcast_live_capacity_windows_over')).toBeGreaterThan(0);
    } finally {
      await other.sys.stop();
    }
  }, 60_000);
});

describe('a SIGKILLed worker process', () => {
  it('when a live worker process is killed without a word, then it is listed until its heartbeat expires, then no longer counted, and the session it carried says its worker was lost', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(ts.sys.config)) env[k] = String(v);
    Object.assign(env, { LOG_LEVEL: 'silent', LIVE_WORKER_TTL_S: '3', LIVE_CONCURRENCY: '2', HTTP_PORT: '0' });
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../helpers/live-worker.entry.ts', import.meta.url))], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('ready')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`worker exited early (${code})`)));
      });
      // it takes the live jobs the sessions above left waiting
      const seen = await eventually(() => capacity().then((s) => {
        const w = s.workers.find((x: any) => x.pid === child.pid);
        const onAir = w?.sessions.find((x: any) => itemOf(s, x.sessionId));
        return onAir && { w, held: onAir.sessionId as string, s };
      }), 15_000, 'the child worker\'s heartbeat with a session on air');
      expect(seen.w).toMatchObject({ slots: 2 });
      const held = seen.held;
      expect(itemOf(seen.s, held)).toMatchObject({ transcoded: true });
      await beat('standby', 1, [], 60);
      child.kill('SIGKILL');
      const after = await eventually(() => capacity().then((s) => !s.workers.some((w: any) => w.pid === child.pid) && s), 20_000, 'the killed worker to drop out');
      // its session waits for stall recovery: the true reason, not "busy"
      expect(itemOf(after, held)).toMatchObject({ transcoded: false, reason: 'worker_lost' });
      await store.remove('standby');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 90_000);
});

describe('a worker process', () => {
  it('when the worker role runs, then it advertises LIVE_CONCURRENCY live slots, and leaves the fleet when it stops', async () => {
    const worker = await startTestSystem({ worker: true }, { QUEUE_PREFIX: ts.sys.config.QUEUE_PREFIX, LIVE_CONCURRENCY: '3' });
    try {
      const snap = await eventually(() => capacity().then((s) => s.workers.length === 1 && s), 10_000, 'the worker\'s heartbeat');
      // (it also takes the live jobs the sessions above left waiting: its slots in use are theirs)
      expect(snap.workers[0]).toMatchObject({ slots: 3, pid: process.pid, host: expect.any(String) });
      expect(snap.slots.total).toBe(3);
      expect(snap.slots.used).toBe(snap.workers[0].sessions.length);
    } finally {
      await worker.stop();
    }
    expect((await capacity()).workers).toEqual([]);
  }, 60_000);
});
