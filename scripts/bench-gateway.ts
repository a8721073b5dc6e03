// npm run bench:gateway: the playback gateway serving a published lesson (master playlist, media
// playlist, 1 MB segment) next to a bare node:http server serving the same bytes from memory, in the
// same run. 50 connections, bounded in time. Prints requests/s, p99 and the ratios, and what a request
// costs each server in CPU time (the servers' thread, user + system, from /proc): that figure hardly
// moves with the machine's other load, where throughput does.
// BENCH_CPU_PROF=<dir> also writes a V8 CPU profile of the servers' thread for each timed run
// (<dir>/<object>-gateway.cpuprofile, -bare), to open in Chrome DevTools or `npx speedscope`.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import autocannon from 'autocannon';
import { loadConfig } from '../config/load.ts';
import { startSystem } from '../src/system.ts';
import { dropBenchData } from './lib/bench-data.ts';
import { cpuSeconds } from './lib/cpu-time.ts';
import { hlsObjectKey, masterKey } from '../src/media/storage-keys.ts';
import type { PublicUser } from '../src/services/auth.service.ts';
import type { Principal } from '../src/domain/types.ts';

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;
const PROFILE_DIR = process.env.BENCH_CPU_PROF;

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'classcast-benchgw-'));
const schema = `benchgw_${Date.now().toString(36)}`;
const config = loadConfig(process.env, { NODE_ENV: 'test', LOG_LEVEL: 'warn', DATA_DIR: dataDir, DATABASE_SCHEMA: schema, HTTP_PORT: '0', QUEUE_PREFIX: schema });
const sys = await startSystem({ config, roles: { api: true, worker: false, ingest: false } });

try {
  const s = sys.services;
  await s.schools.createDistrict('benchgw', '基准区');
  await s.schools.createSchool({ code: 'benchgw-1', name: '基准学校', districtCode: 'benchgw', stage: 'primary' });
  const teacher = await s.auth.createUser({ username: 'benchgw-teacher', password: 'bench-password-1', role: 'teacher', schoolCode: 'benchgw-1' });
  const reviewer = await s.auth.createUser({ username: 'benchgw-reviewer', password: 'bench-password-1', role: 'reviewer', schoolCode: 'benchgw-1' });
  const operator = await s.auth.createUser({ username: 'benchgw-op', password: 'bench-password-1', role: 'operator' });
  const p = (u: PublicUser): Principal => ({ userId: u.id, username: u.username, role: u.role, schoolId: u.schoolId, districtId: u.districtId });
  const lesson = await s.lessons.create(p(teacher), { title: '基准课', kind: 'recorded', stage: 'primary', grade: 'g1', subject: 'math', type: 'recorded', edition: 'pep' });
  const { Readable } = await import('node:stream');
  const up = await s.uploads.putMedia(p(teacher), lesson.id, Readable.from([Buffer.from('source')]), { filename: 'a.mp4' });
  await s.results.apply({ kind: 'transcode', key: `transcode:${up.assetId}`, subjectId: up.assetId, ok: true, data: { durationS: 3600 } });
  await s.review.decide(p(reviewer), lesson.id, 'approve', undefined);
  await s.publications.publish(p(operator), lesson.id, 'portal');

  // a realistic hour-long 6 s ladder: 4 video renditions + audio in the master, 600 segments per playlist
  const master = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-INDEPENDENT-SEGMENTS',
    ...['1280x720', '854x480', '640x360', '426x240'].flatMap((r, i) => [`#EXT-X-STREAM-INF:BANDWIDTH=${3_000_000 >> i},AVERAGE-BANDWIDTH=${2_400_000 >> i},CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=${r},FRAME-RATE=30.000`, `r${i}/index.m3u8`]),
    '#EXT-X-STREAM-INF:BANDWIDTH=72000,AVERAGE-BANDWIDTH=66000,CODECS="mp4a.40.2"', 'audio/index.m3u8', ''].join('\n');
  const media = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:6', '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-MEDIA-SEQUENCE:0',
    ...Array.from({ length: 600 }, (_, i) => `#EXTINF:6.000000,\nseg-${String(i).padStart(5, '0')}.ts`), '#EXT-X-ENDLIST', ''].join('\n');
  const segment = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < segment.length; i++) segment[i] = i % 188 === 0 ? 0x47 : (i * 13) & 0xff;
  const st = sys.storage;
  await st.putBuffer(st.mediaBucket, masterKey(up.assetId), master, 'application/vnd.apple.mpegurl');
  await st.putBuffer(st.mediaBucket, hlsObjectKey(up.assetId, 'r0/index.m3u8'), media, 'application/vnd.apple.mpegurl');
  await st.putBuffer(st.mediaBucket, hlsObjectKey(up.assetId, 'r0/seg-00000.ts'), segment, 'video/mp2t');

  // the baseline: node:http with the same bytes from memory (playlists pre-gzipped, as a CDN would hold them)
  const files: Record<string, { body: Buffer; type: string; gz: boolean }> = {
    '/master.m3u8': { body: gzipSync(master), type: 'application/vnd.apple.mpegurl', gz: true },
    '/r0/index.m3u8': { body: gzipSync(media), type: 'application/vnd.apple.mpegurl', gz: true },
    '/r0/seg-00000.ts': { body: segment, type: 'video/mp2t', gz: false },
  };
  const bare = http.createServer((req, res) => {
    const f = files[req.url ?? ''];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f.type, 'content-length': f.body.length, ...(f.gz ? { 'content-encoding': 'gzip' } : {}) });
    res.end(f.body);
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
  const bareUrl = `http://127.0.0.1:${(bare.address() as import('node:net').AddressInfo).port}`;

  // By default the load generator runs in its own thread: on the servers' event loop its own cost per
  // request is added to both sides and pulls every ratio towards 1 (BENCH_CLIENT_THREAD=0 measures
  // that way, as the figures in issue 12 were). Beside throughput, the servers' event-loop busy time
  // per request: what a request costs the server, whatever else the machine is doing.
  const clientThread = process.env.BENCH_CLIENT_THREAD !== '0';
  const profiler = PROFILE_DIR ? new Session() : undefined;
  if (profiler && PROFILE_DIR) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await mkdir(PROFILE_DIR, { recursive: true });
  }
  // the servers' thread: the main one (its thread id is the process id); the client's is another
  const serverCpu = () => cpuSeconds(process.pid, process.pid);
  const run = async (url: string, duration = DURATION_S, profileAs?: string) => {
    if (profiler && profileAs) await profiler.post('Profiler.start');
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = serverCpu();
    const r = await autocannon({ url, connections: CONNECTIONS, duration, ...(clientThread ? { workers: 1 } : {}), headers: { 'accept-encoding': 'gzip' } });
    const cpuUs = ((serverCpu() - cpu0) * 1e6) / Math.max(1, r.requests.total);
    const busyUs = (performance.eventLoopUtilization(elu0).active * 1000) / Math.max(1, r.requests.total);
    let profiled: ReturnType<typeof profileSplit> | undefined;
    if (profiler && profileAs && PROFILE_DIR) {
      const { profile } = await profiler.post('Profiler.stop');
      await writeFile(path.join(PROFILE_DIR, `${profileAs}.cpuprofile`), JSON.stringify(profile));
      profiled = profileSplit(profile, r.requests.total);
    }
    return Object.assign(r, { busyUsPerRequest: busyUs, cpuUsPerRequest: cpuUs, profiled });
  };
  // both servers get the same short warm-up first, so neither is measured while its code is still cold
  for (const rel of ['master.m3u8', 'r0/index.m3u8', 'r0/seg-00000.ts']) {
    await run(`${sys.apiUrl}/play/${lesson.id}/${rel}`, 1);
    await run(`${bareUrl}/${rel}`, 1);
  }
  const rows: string[] = [];
  const profiledRow = (gw: Awaited<ReturnType<typeof run>>, base: Awaited<ReturnType<typeof run>>) => (gw.profiled && base.profiled
    ? [`${''.padEnd(30)} CPU profile per request: gateway ${gw.profiled.busyUs.toFixed(1)} us (${gw.profiled.writevUs.toFixed(1)} in the socket write), bare ${base.profiled.busyUs.toFixed(1)} us (${base.profiled.writevUs.toFixed(1)}); outside the write: gateway ${(gw.profiled.busyUs - gw.profiled.writevUs).toFixed(1)} us, bare ${(base.profiled.busyUs - base.profiled.writevUs).toFixed(1)} us`]
    : []);
  for (const [name, rel] of [['master playlist', 'master.m3u8'], ['media playlist (600 segments)', 'r0/index.m3u8'], ['1 MB segment', 'r0/seg-00000.ts']]) {
    const file = rel.replace(/\W+/g, '-');
    const gw = await run(`${sys.apiUrl}/play/${lesson.id}/${rel}`, DURATION_S, `${file}-gateway`);
    const base = await run(`${bareUrl}/${rel}`, DURATION_S, `${file}-bare`);
    const errors = gw.errors + gw.non2xx;
    rows.push(
      `${name.padEnd(30)} gateway ${gw.requests.average.toFixed(0).padStart(6)} req/s p99 ${String(gw.latency.p99).padStart(5)} ms (errors ${errors}) | bare ${base.requests.average.toFixed(0).padStart(6)} req/s p99 ${String(base.latency.p99).padStart(5)} ms | ratio ${(gw.requests.average / base.requests.average).toFixed(3)} throughput, ${(gw.latency.p99 / Math.max(base.latency.p99, 1)).toFixed(2)}x p99`,
      ...profiledRow(gw, base),
      `${''.padEnd(30)} server CPU per request: gateway ${gw.cpuUsPerRequest.toFixed(1)} us, bare ${base.cpuUsPerRequest.toFixed(1)} us, bare/gateway ${(base.cpuUsPerRequest / gw.cpuUsPerRequest).toFixed(3)} (event loop busy: ${gw.busyUsPerRequest.toFixed(1)} / ${base.busyUsPerRequest.toFixed(1)} us)`,
    );
  }
  bare.close();
  profiler?.disconnect();
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  process.stdout.write(`\n${CONNECTIONS} connections, ${DURATION_S} s each, load generator ${clientThread ? 'in its own thread' : 'on the servers\' event loop'}; storage: ${config.S3_ENDPOINT ? 'S3 endpoint' : 'embedded s3rver'}; load average at the end ${load}${PROFILE_DIR ? `; CPU profiles in ${PROFILE_DIR}` : ''}\n${rows.join('\n')}\n`);
} finally {
  await sys.stop();
  await dropBenchData(config, schema, dataDir);
}

/**
 * A V8 CPU profile's sampled time outside idle, per request, and the part of it in the socket write
 * (writev: the kernel's loopback send, which also wakes the client and varies most with the machine's
 * load); the rest is the server's own code per request.
 */
function profileSplit(profile: import('node:inspector').Profiler.Profile, requests: number): { busyUs: number; writevUs: number } {
  const names = new Map(profile.nodes.map((n) => [n.id, n.callFrame.functionName]));
  let busy = 0;
  let writev = 0;
  const deltas = profile.timeDeltas ?? [];
  (profile.samples ?? []).forEach((id, i) => {
    const dt = deltas[i + 1] ?? 0;
    const name = names.get(id);
    if (name === '(idle)') return;
    busy += dt;
    if (name === 'writev' || name === 'writeBuffer' || name === 'writeUtf8String') writev += dt;
  });
  const n = Math.max(1, requests);
  return { busyUs: busy / n, writevUs: writev / n };
}
