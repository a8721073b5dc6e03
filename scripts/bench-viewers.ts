// npm run bench:viewers [-- --viewers 2000 --students 100 --seconds 30 --segment-kb 200 --generators 2 --cpu-prof <dir>]
//
// Eight o'clock on Monday (issue 12): N viewers of one live lesson plus M students browsing the
// catalog, through the shipped nginx edge (deploy/nginx.conf) in front of two API processes, all
// started by the fleet launcher (scripts/lib/fleet.ts). Each viewer loads the master playlist, reloads
// its rung's live playlist as HLS players do (a target duration after the last load, half of one when
// it had not changed) and fetches each new segment; one in ten switches rungs halfway. A stall is a
// segment arriving after its playback deadline (playback starts three segments behind the live edge
// when the first one arrives). The same viewers are then run straight
// at the API processes, without the edge, to compare the API's CPU. Last, the lesson is stopped while
// it plays: how long until the gateway and the edge answer 404.
//
// The viewers and students run in their own processes (--generators, scripts/lib/viewer-load.ts), not
// in this one, which writes the live window and times the stop: with 2,000 viewers on its event loop
// the stop and its probes waited behind them (1.4 s measured that way in session 3). Each stall is
// printed with where its time went: the segment listed late (playlist age at the edge or gateway), the
// viewer's poll started late (the generator's own delay, with its event-loop delay), or a slow fetch.
//
// The live stream is synthetic: the bench opens a real live session through the catalog's own
// services (a live lesson approved for air, the ingest's "publisher on air" event) and writes a live
// window (master, two rungs, 2 s segments of MPEG-TS-sized filler) into storage every 2 s, as the live
// worker would; no encoder runs, so the machine's CPU goes to the read path being measured.
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startFleet } from './lib/fleet.ts';
import { cpuSeconds, machineCpuSeconds, treeCpuSeconds } from './lib/cpu-time.ts';
import { pct, startViewerLoad, type PhaseStats, type Rung } from './lib/viewer-load.ts';
import { loadConfig } from '../config/load.ts';
import { startSystem } from '../src/system.ts';
import { PubSub } from '../src/infra/pubsub.ts';
import { liveChannels } from '../src/services/live.service.ts';
import { livePrefix } from '../src/media/storage-keys.ts';
import { edgeLifetimeS } from '../src/api/gateway.routes.ts';
import type { PublicUser } from '../src/services/auth.service.ts';
import type { Principal } from '../src/domain/types.ts';

const { values: args } = parseArgs({
  options: {
    viewers: { type: 'string', default: '2000' },
    students: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '30' },
    'segment-kb': { type: 'string', default: '200' },
    generators: { type: 'string', default: '2' },
    // V8 CPU profiles of the API processes over the whole run (written when they stop)
    'cpu-prof': { type: 'string' },
  },
});
const VIEWERS = Number(args.viewers);
const STUDENTS = Number(args.students);
const SECONDS = Number(args.seconds);
const SEGMENT_KB = Number(args['segment-kb']);
const GENERATORS = Math.max(1, Number(args.generators));
const TARGET_S = 2;
const WINDOW = 6;
const rungs: Rung[] = [{ name: '720p', bw: 2_800_000, kb: SEGMENT_KB }, { name: '360p', bw: 900_000, kb: Math.max(1, Math.round(SEGMENT_KB / 3)) }];
const edgeLifetimes = `live playlists ${edgeLifetimeS('live', true, TARGET_S)} s (half the ${TARGET_S} s target duration, background updates), segments ${edgeLifetimeS('live', false)} s (X-Accel-Expires from the gateway)`;

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
/** One GET on a kept-alive connection, bounded at 10 s: its status. */
function getStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Requests the API processes have answered so far (their Prometheus counter). */
async function apiRequests(urls: string[]): Promise<number> {
  let n = 0;
  for (const u of urls) {
    const text = await new Promise<string>((resolve, reject) => {
      http.get(`${u}/metrics`, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      }).on('error', reject);
    });
    for (const line of text.split('\n')) if (line.startsWith('classcast_http_requests_total{')) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

process.stdout.write(`starting the fleet (2 API processes, nginx edge) and ${GENERATORS} load generator processes...\n`);
const fleet = await startFleet({ apis: 2, workers: 0, ingest: false, edge: true, logLevel: 'warn', ...(args['cpu-prof'] ? { apiNodeFlags: ['--cpu-prof', `--cpu-prof-dir=${path.resolve(args['cpu-prof'])}`] } : {}) });
const config = loadConfig(fleet.env, { LOG_LEVEL: 'warn', DATA_DIR: `${fleet.dir}/bench` });
const sys = await startSystem({ config, roles: { api: false, worker: false, ingest: false } });
const load = await startViewerLoad(GENERATORS);
// the stop's announcement as every API process receives it (the gateway's gate closes on it)
const announcements = new PubSub(sys.redisUrl, sys.redis, config.QUEUE_PREFIX);
let writer: NodeJS.Timeout | undefined;
try {
  const s = sys.services;
  await s.schools.createDistrict('benchv', '基准区');
  await s.schools.createSchool({ code: 'benchv-1', name: '基准学校', districtCode: 'benchv', stage: 'primary' });
  const mk = (username: string, role: 'teacher' | 'reviewer') => s.auth.createUser({ username, password: 'bench-password-1', role, schoolCode: 'benchv-1' });
  const p = (u: PublicUser): Principal => ({ userId: u.id, username: u.username, role: u.role, schoolId: u.schoolId, districtId: u.districtId });
  const teacher = p(await mk('benchv-teacher', 'teacher'));
  const reviewer = p(await mk('benchv-reviewer', 'reviewer'));
  const now = Date.now();
  const lesson = await s.lessons.create(teacher, { title: '直播基准课', kind: 'live', stage: 'primary', grade: 'g1', subject: 'math', type: 'live', edition: 'pep', scheduledStart: new Date(now).toISOString(), scheduledEnd: new Date(now + 3 * 3600_000).toISOString() });
  await s.review.decide(reviewer, lesson.id, 'approve', undefined);
  const session = await s.live.onPublishStart(lesson.id, '127.0.0.1');
  if (!session) throw new Error('the live session did not open');
  const root = livePrefix(session.sessionId);

  // the synthetic live window, written as the live worker would: segments first, then playlists
  const st = sys.storage;
  let seq = 0;
  const master = ['#EXTM3U', '#EXT-X-VERSION:3', ...rungs.flatMap((r) => [`#EXT-X-STREAM-INF:BANDWIDTH=${r.bw},CODECS="avc1.64001f,mp4a.40.2"`, `${r.name}/index.m3u8`]), ''].join('\n');
  await st.putBuffer(st.mediaBucket, `${root}master.m3u8`, master, 'application/vnd.apple.mpegurl');
  const fillers = new Map(rungs.map((r) => {
    const b = Buffer.alloc(Math.floor((r.kb * 1024) / 188) * 188 || 188);
    for (let i = 0; i < b.length; i += 188) b[i] = 0x47;
    return [r.name, b];
  }));
  const writeNext = async () => {
    const n = seq++;
    await Promise.all(rungs.map((r) => st.putBuffer(st.mediaBucket, `${root}${r.name}/seg-${n}.ts`, fillers.get(r.name)!, 'video/mp2t')));
    const first = Math.max(0, n - WINDOW + 1);
    for (const r of rungs) {
      const lines = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${TARGET_S}`, `#EXT-X-MEDIA-SEQUENCE:${first}`];
      for (let k = first; k <= n; k++) lines.push(`#EXTINF:${TARGET_S}.000,`, `seg-${k}.ts`);
      await st.putBuffer(st.mediaBucket, `${root}${r.name}/index.m3u8`, `${lines.join('\n')}\n`, 'application/vnd.apple.mpegurl');
    }
    load.written([[n, Date.now()]]);
  };
  for (let i = 0; i < 3; i++) await writeNext();
  writer = setInterval(() => void writeNext().catch((err) => process.stderr.write(`live writer: ${(err as Error).message}\n`)), TARGET_S * 1000);

  /** One phase: the viewers and students (in the generator processes) against `bases` (the edge, or the APIs round-robin) for `seconds`. */
  const phase = async (bases: string[], seconds: number, withdraw = false) => {
    const apiPids = fleet.apis.map((a) => a.pid!);
    const cpu0 = apiPids.reduce((a, pid) => a + cpuSeconds(pid), 0);
    const parts0 = partsCpu();
    const req0 = await apiRequests(fleet.apiUrls);
    const t0 = Date.now();
    const stats = await load.run({ bases, seconds, lessonId: lesson.id, rungs, targetS: TARGET_S, withdraw }, VIEWERS, STUDENTS);
    const elapsed = (Date.now() - t0) / 1000;
    const cpu = apiPids.reduce((a, pid) => a + cpuSeconds(pid), 0) - cpu0;
    const parts1 = partsCpu();
    const cores = (k: keyof typeof parts0) => (parts1[k] - parts0[k]) / elapsed;
    const apiReqs = (await apiRequests(fleet.apiUrls)) - req0;
    return { ...stats, elapsed, cpu, apiReqs, cores: { api: cores('api'), edge: cores('edge'), storage: cores('storage'), redis: cores('redis'), generators: cores('generators'), bench: cores('bench'), machine: cores('machine'), others: cores('machine') - cores('api') - cores('edge') - cores('storage') - cores('redis') - cores('generators') - cores('bench') } };
  };

  /** CPU seconds so far of each part of the run, and the whole machine's busy seconds. */
  function partsCpu() {
    const sum = (pids: (number | undefined)[], f = cpuSeconds) => pids.reduce<number>((a, pid) => a + (pid ? f(pid) : 0), 0);
    return {
      api: sum(fleet.apis.map((a) => a.pid)), edge: sum([fleet.edge?.pid], treeCpuSeconds), storage: sum([fleet.s3.pid]), redis: sum([fleet.redis.pid]),
      generators: sum(load.pids), bench: cpuSeconds(process.pid), machine: machineCpuSeconds().busy,
    };
  }
  const ms = (x: number) => (Number.isNaN(x) ? '-' : `${Math.round(x)}`);
  const spread = (xs: number[]) => `p50 ${ms(pct(xs, 50))} / p90 ${ms(pct(xs, 90))} / max ${ms(pct(xs, 100))}`;
  const line = (name: string, r: Awaited<ReturnType<typeof phase>>) => {
    const of = (xs: PhaseStats['timings'], k: keyof PhaseStats['timings'][number]) => spread(xs.map((t) => t[k]));
    return [
      `${name}: ${r.elapsed.toFixed(1)} s`,
      `  viewer requests ${r.viewerRequests}, viewer errors ${r.viewerErrors}${r.errorSamples.length ? ` (${r.errorSamples.join('; ')})` : ''}, segments ${r.segments}, stalls ${r.stalls}`,
      `  student requests ${r.studentRequests}, student errors ${r.studentErrors}`,
      `  requests reaching the API: ${(r.apiReqs / r.elapsed).toFixed(1)}/s (of ${((r.viewerRequests + r.studentRequests) / r.elapsed).toFixed(1)}/s sent)`,
      ...(r.withCacheStatus ? [`  edge hit ratio ${(r.hits / r.withCacheStatus).toFixed(3)}`] : []),
      `  live playlist age as served: p50 ${pct(r.ages, 50)} ms, p99 ${pct(r.ages, 99)} ms`,
      `  API CPU ${r.cpu.toFixed(2)} s = ${((r.cpu / r.elapsed) * 100).toFixed(1)}% of a core, ${((r.cpu / r.elapsed / Math.max(VIEWERS, 1)) * 1000 * 100).toFixed(1)}% of a core per 1000 viewers`,
      `  load generators (${GENERATORS} processes): event-loop delay p99 ${r.loopDelayP99Ms.toFixed(0)} ms, max ${r.loopDelayMaxMs.toFixed(0)} ms`,
      `  CPU in cores: API ${r.cores.api.toFixed(2)}, edge ${r.cores.edge.toFixed(2)}, storage ${r.cores.storage.toFixed(2)}, redis ${r.cores.redis.toFixed(2)}, load generators ${r.cores.generators.toFixed(2)}, this bench ${r.cores.bench.toFixed(2)}; the machine ${r.cores.machine.toFixed(2)} of ${os.cpus().length} busy (${r.cores.others.toFixed(2)} by everything else: PostgreSQL, other work); load average ${os.loadavg()[0].toFixed(2)}`,
      `  where a segment's time went, ms (listed after written | poll late | playlist request | segment request | vs deadline):`,
      `    all ${r.timings.length}: ${of(r.timings, 'listedAfterMs')} | ${of(r.timings, 'pollLateMs')} | ${of(r.timings, 'playlistMs')} | ${of(r.timings, 'fetchMs')} | ${of(r.timings, 'lateMs')}`,
      ...(r.stalled.length ? [`    stalled ${r.stalled.length}: ${of(r.stalled, 'listedAfterMs')} | ${of(r.stalled, 'pollLateMs')} | ${of(r.stalled, 'playlistMs')} | ${of(r.stalled, 'fetchMs')} | ${of(r.stalled, 'lateMs')}`] : []),
    ].join('\n');
  };

  process.stdout.write(`${VIEWERS} viewers (segments ${rungs.map((r) => `${r.name} ${r.kb} KB`).join(', ')}), ${STUDENTS} students, ${SECONDS} s per phase; edge lifetimes: ${edgeLifetimes}\n`);
  // what the API processes use with nobody watching (sweeps, metrics, Redis), taken off below
  const idlePids = fleet.apis.map((a) => a.pid!);
  const idle0 = idlePids.reduce((a, pid) => a + cpuSeconds(pid), 0);
  await sleep(5000);
  const idleCores = (idlePids.reduce((a, pid) => a + cpuSeconds(pid), 0) - idle0) / 5;
  const direct = await phase(fleet.apiUrls, Math.max(5, SECONDS / 2));
  process.stdout.write(`${line('without the edge (viewers straight at the two API processes)', direct)}\n`);

  // with the edge; the lesson is stopped two thirds in, while it plays. Each of the two gateways and
  // the edge is asked back to back (every 5 ms) from this process, which runs no viewers: a 404 is
  // bracketed between the last 200's request and the 404's answer.
  let announcedAt = 0;
  await announcements.subscribe(liveChannels.kick, (id) => {
    if (id === lesson.id && !announcedAt) announcedAt = Date.now();
  });
  const stopping = (async () => {
    await sleep(SECONDS * 667);
    const url = (base: string) => `${base}/live/${lesson.id}/${rungs[0].name}/index.m3u8`;
    const probe = async (base: string) => {
      let lastOk = Date.now(); // when the last request answered 200 was sent
      const deadline = lastOk + 120_000;
      while (Date.now() < deadline) {
        const sent = Date.now();
        const status = await getStatus(url(base)).catch(() => 0);
        if (status === 404) return { at: Date.now(), after: lastOk };
        if (status === 200) lastOk = sent;
        await sleep(5);
      }
      return { at: NaN, after: NaN };
    };
    // a probe is running when the stop is asked, so the first 404 is not a connection's first request
    const probes = [...fleet.apiUrls, fleet.edgeUrl!].map((b) => probe(b));
    await sleep(50);
    const asked = Date.now();
    load.stopped(asked);
    await s.live.stop(reviewer, lesson.id, 'bench: stopped while it plays');
    const returned = Date.now();
    const [gw1, gw2, edge] = await Promise.all(probes);
    return { asked, returned, gw: [gw1, gw2], edge };
  })();
  const viaEdge = await phase([fleet.edgeUrl!], SECONDS, true);
  process.stdout.write(`${line('through the edge (until the stop, errors after it not counted)', viaEdge)}\n`);
  const w = await stopping;
  const perK = (r: typeof direct) => (r.cpu / r.elapsed / Math.max(VIEWERS, 1)) * 1000;
  const netPerK = (r: typeof direct) => (Math.max(0, r.cpu / r.elapsed - idleCores) / Math.max(VIEWERS, 1)) * 1000;
  const announced = announcedAt ? announcedAt - w.asked : NaN;
  const gone = (g: { at: number; after: number }) => `after ${g.at - w.asked} ms (closed between ${Math.max(0, g.after - w.asked)} and ${g.at - w.asked} ms; ${g.at - w.asked - announced} ms after the announcement)`;
  const bothGateways = Math.max(w.gw[0].at, w.gw[1].at) - w.asked;
  process.stdout.write([
    `API CPU per 1000 viewers: ${perK(direct).toFixed(3)} core without the edge, ${perK(viaEdge).toFixed(3)} core with it`,
    `  less the idle API processes' ${idleCores.toFixed(3)} core: ${netPerK(direct).toFixed(3)} without the edge, ${netPerK(viaEdge).toFixed(3)} with it`,
    `stopped while playing: times from the reviewer's stop being asked. Its announcement (Redis, as every API process hears it) came after ${announced} ms, the stop call returned after ${w.returned - w.asked} ms. Probes every 5 ms from this process (no viewers on its event loop); each 404 is bracketed between the last 200's request and the 404's answer:`,
    `  gateway 1: 404 ${gone(w.gw[0])}`,
    `  gateway 2: 404 ${gone(w.gw[1])}`,
    `  gone at both gateways within ${bothGateways} ms of the stop (${bothGateways - announced} ms of its announcement)`,
    `  edge: 404 ${gone(w.edge)}; the edge's lifetime of a live playlist is ${edgeLifetimeS('live', true, TARGET_S)} s (nginx counts whole seconds)`,
    '',
  ].join('\n'));
} finally {
  if (writer) clearInterval(writer);
  agent.destroy();
  await load.stop();
  await announcements.close();
  await sys.stop();
  await fleet.stop();
}
