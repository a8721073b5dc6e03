// npm run bench:viewers [-- --viewers 2000 --students 100 --seconds 30 --segment-kb 200]
//
// Eight o'clock on Monday (issue 12): N viewers of one live lesson plus M students browsing the
// catalog, through the shipped nginx edge (deploy/nginx.conf) in front of two API processes, all
// started by the fleet launcher (scripts/lib/fleet.ts). Each viewer loads the master playlist, polls
// its rung's live playlist every target duration and fetches each new segment; one in ten switches
// rungs halfway. A stall is a segment arriving after its playback deadline (playback starts three
// segments behind the live edge when the first one arrives). The same viewers are then run straight
// at the API processes, without the edge, to compare the API's CPU. Last, the lesson is stopped while
// it plays: how long until the gateway and the edge answer 404.
//
// The live stream is synthetic: the bench opens a real live session through the catalog's own
// services (a live lesson approved for air, the ingest's "publisher on air" event) and writes a live
// window (master, two rungs, 2 s segments of MPEG-TS-sized filler) into storage every 2 s, as the live
// worker would; no encoder runs, so the machine's CPU goes to the read path being measured.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { startFleet } from './lib/fleet.ts';
import { cpuSeconds } from './lib/cpu-time.ts';
import { loadConfig } from '../config/load.ts';
import { startSystem } from '../src/system.ts';
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
  },
});
const VIEWERS = Number(args.viewers);
const STUDENTS = Number(args.students);
const SECONDS = Number(args.seconds);
const SEGMENT_KB = Number(args['segment-kb']);
const TARGET_S = 2;
const WINDOW = 6;
const rungs = [{ name: '720p', bw: 2_800_000, kb: SEGMENT_KB }, { name: '360p', bw: 900_000, kb: Math.max(1, Math.round(SEGMENT_KB / 3)) }];
const edgeLifetimes = `live playlists ${edgeLifetimeS('live', true, TARGET_S)} s (half the ${TARGET_S} s target duration, background updates), segments ${edgeLifetimeS('live', false)} s (X-Accel-Expires from the gateway)`;

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
interface Got { status: number; headers: http.IncomingHttpHeaders; body: Buffer }
/** One GET on a kept-alive connection, bounded at 10 s. */
function get(url: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : NaN);


/** Requests the API processes have answered so far (their Prometheus counter). */
async function apiRequests(urls: string[]): Promise<number> {
  let n = 0;
  for (const u of urls) {
    const text = (await get(`${u}/metrics`)).body.toString();
    for (const line of text.split('\n')) if (line.startsWith('classcast_http_requests_total{')) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

process.stdout.write(`starting the fleet (2 API processes, nginx edge)...\n`);
const fleet = await startFleet({ apis: 2, workers: 0, ingest: false, edge: true, logLevel: 'warn' });
const config = loadConfig(fleet.env, { LOG_LEVEL: 'warn', DATA_DIR: `${fleet.dir}/bench` });
const sys = await startSystem({ config, roles: { api: false, worker: false, ingest: false } });
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
  const written = new Map<number, number>();
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
    written.set(n, Date.now());
  };
  for (let i = 0; i < 3; i++) await writeNext();
  writer = setInterval(() => void writeNext().catch((err) => process.stderr.write(`live writer: ${(err as Error).message}\n`)), TARGET_S * 1000);

  /** One phase: N viewers and M students against `base` (the edge, or the APIs round-robin) for `seconds`. */
  const phase = async (bases: string[], seconds: number, opts: { withdrawAt?: () => boolean } = {}) => {
    const stats = { viewerRequests: 0, viewerErrors: 0, stalls: 0, segments: 0, hits: 0, withCacheStatus: 0, ages: [] as number[], studentRequests: 0, studentErrors: 0, errorSamples: new Set<string>() };
    const until = Date.now() + seconds * 1000;
    const note = (r: Got) => {
      const c = r.headers['x-cache-status'];
      if (c) {
        stats.withCacheStatus++;
        if (c === 'HIT' || c === 'REVALIDATED' || c === 'UPDATING') stats.hits++;
      }
    };
    const viewer = async (i: number) => {
      const base = bases[i % bases.length];
      await sleep(Math.random() * TARGET_S * 1000);
      let rung = i % 10 === 9 ? rungs[1] : rungs[0];
      const switchAt = i % 10 === 3 ? Date.now() + (seconds * 1000) / 2 : Infinity;
      const fail = (what: string) => {
        if (opts.withdrawAt?.()) return;
        stats.viewerErrors++;
        if (stats.errorSamples.size < 5) stats.errorSamples.add(what);
      };
      try {
        const m = await get(`${base}/live/${lesson.id}/master.m3u8`);
        stats.viewerRequests++;
        note(m);
        if (m.status !== 200) return fail(`master ${m.status}`);
      } catch (err) {
        return fail(`master ${(err as Error).message}`);
      }
      let last = -1;
      let clock0 = 0;
      let startSeq = 0;
      let lateMs = 0;
      while (Date.now() < until) {
        const polled = Date.now();
        if (Date.now() > switchAt) rung = rung === rungs[0] ? rungs[1] : rungs[0];
        try {
          const r = await get(`${base}/live/${lesson.id}/${rung.name}/index.m3u8`);
          stats.viewerRequests++;
          note(r);
          if (r.status !== 200) {
            fail(`playlist ${r.status}`);
            if (opts.withdrawAt?.()) return;
          } else {
            const text = r.body.toString();
            const media = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
            const count = text.split('\n').filter((l) => l.endsWith('.ts')).length;
            const newest = media + count - 1;
            const at = written.get(newest);
            if (at) stats.ages.push(Date.now() - at);
            if (last < 0) {
              last = newest - 3;
              startSeq = last + 1;
            }
            for (let k = Math.max(last + 1, media); k <= newest; k++) {
              const sr = await get(`${base}/live/${lesson.id}/${rung.name}/seg-${k}.ts`);
              stats.viewerRequests++;
              note(sr);
              if (sr.status !== 200) {
                fail(`segment ${sr.status}`);
                continue;
              }
              stats.segments++;
              if (!clock0) clock0 = Date.now();
              const due = clock0 + lateMs + (k - startSeq) * TARGET_S * 1000;
              if (Date.now() > due) {
                stats.stalls++;
                lateMs += Date.now() - due;
              }
              last = k;
            }
          }
        } catch (err) {
          fail((err as Error).message);
        }
        await sleep(Math.max(0, TARGET_S * 1000 - (Date.now() - polled)));
      }
    };
    const stages = ['primary', 'junior', 'senior'];
    const student = async (i: number) => {
      const base = bases[i % bases.length];
      while (Date.now() < until) {
        const paths = [`/api/v1/lessons?stage=${stages[i % 3]}`, '/api/v1/facets', `/api/v1/lessons/${lesson.id}`, `/api/v1/lessons?q=${encodeURIComponent('直播')}`];
        try {
          const r = await get(`${base}${paths[Math.floor(Math.random() * paths.length)]}`);
          stats.studentRequests++;
          note(r);
          // the stopped live lesson's detail is 404 afterwards, as it should be
          if (r.status !== 200 && !opts.withdrawAt?.()) stats.studentErrors++;
        } catch {
          if (!opts.withdrawAt?.()) stats.studentErrors++;
        }
        await sleep(1000 + Math.random() * 2000);
      }
    };
    const apiPids = fleet.apis.map((a) => a.pid!);
    const cpu0 = apiPids.reduce((a, pid) => a + cpuSeconds(pid), 0);
    const req0 = await apiRequests(fleet.apiUrls);
    const t0 = Date.now();
    await Promise.all([...Array.from({ length: VIEWERS }, (_, i) => viewer(i)), ...Array.from({ length: STUDENTS }, (_, i) => student(i))]);
    const elapsed = (Date.now() - t0) / 1000;
    const cpu = apiPids.reduce((a, pid) => a + cpuSeconds(pid), 0) - cpu0;
    const apiReqs = (await apiRequests(fleet.apiUrls)) - req0;
    return { ...stats, elapsed, cpu, apiReqs };
  };

  const line = (name: string, r: Awaited<ReturnType<typeof phase>>) => [
    `${name}: ${r.elapsed.toFixed(1)} s`,
    `  viewer requests ${r.viewerRequests}, viewer errors ${r.viewerErrors}${r.errorSamples.size ? ` (${[...r.errorSamples].join('; ')})` : ''}, segments ${r.segments}, stalls ${r.stalls}`,
    `  student requests ${r.studentRequests}, student errors ${r.studentErrors}`,
    `  requests reaching the API: ${(r.apiReqs / r.elapsed).toFixed(1)}/s (of ${((r.viewerRequests + r.studentRequests) / r.elapsed).toFixed(1)}/s sent)`,
    ...(r.withCacheStatus ? [`  edge hit ratio ${(r.hits / r.withCacheStatus).toFixed(3)}`] : []),
    `  live playlist age as served: p50 ${pct(r.ages, 50)} ms, p99 ${pct(r.ages, 99)} ms`,
    `  API CPU ${r.cpu.toFixed(2)} s = ${((r.cpu / r.elapsed) * 100).toFixed(1)}% of a core, ${((r.cpu / r.elapsed / Math.max(VIEWERS, 1)) * 1000 * 100).toFixed(1)}% of a core per 1000 viewers`,
  ].join('\n');

  process.stdout.write(`${VIEWERS} viewers (segments ${rungs.map((r) => `${r.name} ${r.kb} KB`).join(', ')}), ${STUDENTS} students, ${SECONDS} s per phase; edge lifetimes: ${edgeLifetimes}\n`);
  // what the API processes use with nobody watching (sweeps, metrics, Redis), taken off below
  const idlePids = fleet.apis.map((a) => a.pid!);
  const idle0 = idlePids.reduce((a, pid) => a + cpuSeconds(pid), 0);
  await sleep(5000);
  const idleCores = (idlePids.reduce((a, pid) => a + cpuSeconds(pid), 0) - idle0) / 5;
  const direct = await phase(fleet.apiUrls, Math.max(5, SECONDS / 2));
  process.stdout.write(`${line('without the edge (viewers straight at the two API processes)', direct)}\n`);

  // with the edge; the lesson is stopped two thirds in, while it plays
  let stoppedAt = 0;
  const withdraw = (async () => {
    await sleep(SECONDS * 667);
    const probe = async (base: string) => {
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        const r = await get(`${base}/live/${lesson.id}/${rungs[0].name}/index.m3u8`).catch(() => undefined);
        if (r?.status === 404) return Date.now() - stoppedAt;
        await sleep(20);
      }
      return NaN;
    };
    stoppedAt = Date.now();
    await s.live.stop(reviewer, lesson.id, 'bench: stopped while it plays');
    const [gw1, gw2, edgeGone] = await Promise.all([probe(fleet.apiUrls[0]), probe(fleet.apiUrls[1]), probe(fleet.edgeUrl!)]);
    return { gw: Math.max(gw1, gw2), edgeGone };
  })();
  const viaEdge = await phase([fleet.edgeUrl!], SECONDS, { withdrawAt: () => stoppedAt > 0 });
  process.stdout.write(`${line('through the edge (until the stop, errors after it not counted)', viaEdge)}\n`);
  const w = await withdraw;
  const perK = (r: typeof direct) => (r.cpu / r.elapsed / Math.max(VIEWERS, 1)) * 1000;
  const netPerK = (r: typeof direct) => (Math.max(0, r.cpu / r.elapsed - idleCores) / Math.max(VIEWERS, 1)) * 1000;
  process.stdout.write([
    `API CPU per 1000 viewers: ${perK(direct).toFixed(3)} core without the edge, ${perK(viaEdge).toFixed(3)} core with it`,
    `  less the idle API processes' ${idleCores.toFixed(3)} core: ${netPerK(direct).toFixed(3)} without the edge, ${netPerK(viaEdge).toFixed(3)} with it`,
    `stopped while playing: 404 at both API gateways after ${w.gw} ms, at the edge after ${w.edgeGone} ms (edge lifetime of a live playlist: ${edgeLifetimeS('live', true, TARGET_S)} s; nginx counts whole seconds)`,
    '',
  ].join('\n'));
} finally {
  if (writer) clearInterval(writer);
  agent.destroy();
  await sys.stop();
  await fleet.stop();
}
