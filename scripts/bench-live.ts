/**
 * npm run bench:live
 *
 * 1. Delay from capture to playable: a 720p30 publisher whose every frame carries its capture time
 *    (wall-clock ms as a 48-block barcode: 44 bits + 4 bits checksum) goes through the whole system
 *    (ingest, live job with the default ladder, storage, gateway). A poller lists the gateway's 720p
 *    live playlist every 50 ms and fetches each new segment; decoding the segments back gives, per
 *    frame, the delay from its capture to the moment its segment was listed AND fetched. Baseline, same
 *    run, same publisher: a plain `ffmpeg -c copy` HLS pull from the ingest to local disk (the floor
 *    that 2 s segmenting alone imposes). Median, p95, ratio.
 * 2. Ingest CPU per relayed 720p publisher (each with one worker-like pull), for 1, 2 and 4 streams,
 *    against the CPU the publishing ffmpeg spends remuxing the same stream (same run).
 * 3. Live ladders one worker sustains at real time: N concurrent live-ladder ffmpegs (the worker's own
 *    argv, default ladder, 720p30 input), N = 1.. until one falls behind; CPU per ladder against a
 *    single 720p rendition encoded with the same settings (same run). Then the same with the top rung
 *    passed through (issue 11 item 2: the source copied, the lower rungs keyed at its keyframes), and
 *    the cores one lesson needs either way, their ratio and the goal (at most 0.35 of a core).
 *
 * 4. Part 1's delay with one lesson on air, then while a second lesson is on air too
 *    (scripts/lib/bench-live-second-lesson.ts).
 *
 * Bounded: BENCH_LIVE_SECONDS (default 40) for parts 1 and 4 (each phase), BENCH_LIVE_WINDOW_S (default
 * 15) windows for parts 2 and 3, at most BENCH_LIVE_MAX_LADDERS (default 4) of anything. Runs with embedded Redis/S3/PGlite in a temp dir; everything is removed afterwards.
 */
import { startWorkerRole } from '../workers/role.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/load.ts';
import { probeVideoPackets, runFfprobe } from '../src/infra/ffmpeg.runner.ts';
import { buildTranscodeArgs, planTranscode, type TranscodePlan, type VideoRendition } from '../src/media/ffmpeg-args.ts';
import { liveLadderSpec } from '../src/media/live-args.ts';
import { decidePassthrough, passthroughSource, scanVideoPackets, withPassthrough } from '../src/media/passthrough.ts';
import { parseProbe } from '../src/media/probe.ts';
import { startSystem, type System } from '../src/system.ts';
import { partSecondLesson, summariseSecondLesson } from './lib/bench-live-second-lesson.ts';

const SECONDS = Number(process.env.BENCH_LIVE_SECONDS ?? 40);
/** x264 preset of part 3 (the worker's default unless set). */
const PRESET = process.env.BENCH_LIVE_PRESET ?? 'veryfast';
/** Parts to run (1, 2, 3, 4), e.g. BENCH_LIVE_PARTS=1,3. */
const PARTS = (process.env.BENCH_LIVE_PARTS ?? '1,2,3,4').split(',').map(Number);
/** Measuring window of parts 2 and 3 (seconds) and the most ladders part 3 runs at once; small values check the script runs. */
const WINDOW_MS = Number(process.env.BENCH_LIVE_WINDOW_S ?? 15) * 1000;
const MAX_LADDERS = Number(process.env.BENCH_LIVE_MAX_LADDERS ?? 4);
const W = 1280;
const H = 720;
const FPS = 30;
const BITS = 44;
const BLOCK_W = 24;
const BAR_Y = 16;
const BAR_H = 32;
const CLK_TCK = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const fmtS = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

// ---------------------------------------------------------------------------------------------
// The barcode.

function drawBarcode(y: Buffer, ms: number): void {
  const bits: number[] = [];
  let v = BigInt(ms);
  for (let i = 0; i < BITS; i++) {
    bits.push(Number(v & 1n));
    v >>= 1n;
  }
  const sum = bits.reduce((a, b) => a + b, 0) & 15;
  for (let i = 0; i < 4; i++) bits.push((sum >> i) & 1);
  bits.forEach((b, i) => {
    const val = b ? 235 : 16;
    for (let row = BAR_Y; row < BAR_Y + BAR_H; row++) y.fill(val, row * W + i * BLOCK_W, row * W + (i + 1) * BLOCK_W);
  });
}

/** Reads the capture time back from a gray crop (48 blocks x 24 px, BAR_H rows); null when the checksum fails. */
function readBarcode(crop: Buffer, width: number): number | null {
  const bits: number[] = [];
  for (let i = 0; i < BITS + 4; i++) {
    let acc = 0;
    let n = 0;
    for (let row = 8; row < BAR_H - 8; row++) {
      for (let x = i * BLOCK_W + 6; x < (i + 1) * BLOCK_W - 6; x++) {
        acc += crop[row * width + x];
        n++;
      }
    }
    bits.push(acc / n > 125 ? 1 : 0);
  }
  const sum = bits.slice(0, BITS).reduce((a, b) => a + b, 0) & 15;
  const check = bits.slice(BITS).reduce((a, b, i) => a + (b << i), 0);
  if (sum !== check) return null;
  let v = 0n;
  for (let i = BITS - 1; i >= 0; i--) v = (v << 1n) | BigInt(bits[i]);
  return Number(v);
}

/** Capture times of every frame of an MPEG-TS segment (decoded by ffmpeg, barcode read here). */
function captureTimes(segment: Buffer): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const cw = (BITS + 4) * BLOCK_W;
    // back to the publisher's geometry first, so a smaller rendition reads the same way
    const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'mpegts', '-i', 'pipe:0', '-map', '0:v:0', '-vf', `scale=${W}:${H},crop=${cw}:${BAR_H}:0:${BAR_Y}`, '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    p.stdin.on('error', () => undefined);
    p.stdin.end(segment);
    p.once('error', reject);
    p.once('close', () => {
      const all = Buffer.concat(chunks);
      const size = cw * BAR_H;
      const out: number[] = [];
      for (let o = 0; o + size <= all.length; o += size) {
        const t = readBarcode(all.subarray(o, o + size), cw);
        if (t !== null) out.push(t);
      }
      resolve(out);
    });
  });
}

/** A 720p30 publisher: frames drawn here at their capture instant, encoded like OBS (x264 zerolatency, 2 s keyframes). */
function startBarcodePublisher(url: string): { proc: ChildProcess; stop: () => Promise<void> } {
  const proc = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error',
    '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${W}x${H}`, '-framerate', String(FPS), '-i', 'pipe:0',
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-map', '0:v', '-map', '1:a',
    // ultrafast keeps the publisher's CPU off the shared cores (OBS runs on the teacher's machine)
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(2 * FPS), '-keyint_min', String(2 * FPS), '-pix_fmt', 'yuv420p',
    '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '2500k',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-f', 'flv', url,
  ], { stdio: ['pipe', 'ignore', 'inherit'] });
  proc.stdin!.on('error', () => undefined);
  const ySize = W * H;
  const frame = Buffer.alloc(ySize * 1.5, 128);
  for (let row = 0; row < H; row++) for (let x = 0; x < W; x++) frame[row * W + x] = 40 + Math.round((180 * (x + row)) / (W + H));
  const background = Buffer.from(frame.subarray(0, ySize));
  let stopped = false;
  const t0 = Date.now();
  (async () => {
    for (let n = 0; !stopped; n++) {
      const due = t0 + (n * 1000) / FPS;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      background.copy(frame, 0);
      // something moving, so the encoders work as for a camera
      const bx = (n * 8) % (W - 160);
      for (let row = 300; row < 460; row++) frame.fill(230, row * W + bx, row * W + bx + 160);
      drawBarcode(frame, Date.now());
      if (!proc.stdin!.write(frame)) await new Promise((r) => proc.stdin!.once('drain', r));
    }
  })().catch(() => undefined);
  return {
    proc,
    stop: async () => {
      stopped = true;
      proc.stdin!.end();
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await new Promise((r) => proc.once('exit', r));
      clearTimeout(t);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The system and a live lesson.

interface Rig {
  sys: System;
  url: string;
  teacher: string;
  reviewer: string;
  dir: string;
}

async function startRig(dir: string, roles: { worker: boolean }, over: Record<string, string> = {}): Promise<Rig> {
  const id = randomBytes(4).toString('hex');
  const config = loadConfig({}, {
    NODE_ENV: 'test', LOG_LEVEL: 'warn', DATA_DIR: path.join(dir, `data-${id}`), HTTP_PORT: '0', RTMP_PORT: '0', QUEUE_PREFIX: `bench${id}`,
    WORK_DIR: path.join(dir, `work-${id}`), SIGNING_SECRET: randomBytes(32).toString('hex'), ...over,
  });
  const sys = await startSystem({ config, roles: { api: true, ingest: true, worker: roles.worker }, startWorkers: startWorkerRole });
  const s = sys.services;
  await s.schools.createDistrict(`d${id}`, '基准区');
  await s.schools.createSchool({ code: `s${id}`, name: '基准学校', districtCode: `d${id}`, stage: 'primary' });
  const mk = async (role: 'teacher' | 'reviewer') => {
    const u = await s.auth.createUser({ username: `${role}-${id}`, password: `pw-${randomBytes(8).toString('hex')}`, role, schoolCode: `s${id}`, displayName: role });
    return (await s.auth.issueToken(u.id, 'bench', 2)).token;
  };
  return { sys, url: sys.apiUrl!, teacher: await mk('teacher'), reviewer: await mk('reviewer'), dir };
}

async function api(r: Rig, method: string, p: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(`${r.url}${p}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => undefined);
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** A live lesson approved for air; returns its id and the URL a publisher uses. */
async function liveLesson(r: Rig): Promise<{ id: string; publishUrl: string }> {
  const start = Date.now() - 60_000;
  const c = await api(r, 'POST', '/api/v1/lessons', r.teacher, {
    title: '基准直播', kind: 'live', stage: 'primary', grade: 'g3', subject: 'math', type: 'live', edition: 'pep',
    scheduledStart: new Date(start).toISOString(), scheduledEnd: new Date(start + 3600_000).toISOString(),
  });
  await api(r, 'POST', `/api/v1/lessons/${c.id}/review`, r.reviewer, { decision: 'approve' });
  const k = await api(r, 'POST', `/api/v1/lessons/${c.id}/live`, r.teacher);
  return { id: c.id, publishUrl: `${(k.rtmpUrl as string).replace(/:\d+\//, `:${r.sys.ingest!.port}/`)}/${k.streamKey}` };
}

// ---------------------------------------------------------------------------------------------
// Part 1: delay from capture to playable.

interface Arrival {
  at: number;
  bytes: Buffer;
  /** EXT-X-PROGRAM-DATE-TIME the playlist gave the segment (ms), when it had one. */
  pdtMs: number | null;
}

/** Polls a playlist (HTTP or local) every 50 ms; each new segment is fetched at once and timed. */
async function watchPlaylist(list: () => Promise<string | null>, fetchSeg: (uri: string) => Promise<Buffer | null>, until: () => boolean): Promise<Arrival[]> {
  const seen = new Set<string>();
  const out: Arrival[] = [];
  let first = true;
  while (!until()) {
    const text = await list().catch(() => null);
    if (text) {
      const uris: { uri: string; pdtMs: number | null }[] = [];
      let pdt: number | null = null;
      for (const l of text.split('\n').map((x) => x.trim())) {
        if (l.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(l.slice(25));
        else if (l && !l.startsWith('#')) {
          uris.push({ uri: l, pdtMs: pdt });
          pdt = null;
        }
      }
      for (const { uri: u, pdtMs } of uris) {
        if (seen.has(u)) continue;
        seen.add(u);
        const bytes = await fetchSeg(u).catch(() => null);
        // segments already listed at the first look were not watched arriving: not measured
        if (bytes && !first) out.push({ at: Date.now(), bytes, pdtMs });
      }
      if (uris.length) first = false;
    }
    await sleep(50);
  }
  return out;
}

interface Measured {
  /** Per frame: listed-and-fetched time minus capture time, ms. */
  delays: number[];
  /** Per segment, in arrival order: median delay of its frames. */
  perSegment: number[];
  /** Per segment: PROGRAM-DATE-TIME minus the capture time of its first frame, ms. */
  pdtError: number[];
}

async function measure(arrivals: Arrival[]): Promise<Measured> {
  const m: Measured = { delays: [], perSegment: [], pdtError: [] };
  for (const a of arrivals) {
    const times = await captureTimes(a.bytes);
    if (!times.length) continue;
    const d = times.map((t) => a.at - t);
    m.delays.push(...d);
    m.perSegment.push(pct(d, 50));
    if (a.pdtMs !== null) m.pdtError.push(a.pdtMs - times[0]);
  }
  return m;
}

/** Growth of the delay over the run, seconds per minute (a worker slower than real time falls behind steadily). */
function drift(perSegment: number[], segmentS: number): number {
  if (perSegment.length < 6) return 0;
  const third = Math.floor(perSegment.length / 3);
  const early = pct(perSegment.slice(0, third), 50);
  const late = pct(perSegment.slice(-third), 50);
  const minutes = ((perSegment.length - third) * segmentS) / 60;
  return (late - early) / 1000 / minutes;
}

async function partLatency(dir: string, ladder: string, label: string): Promise<number> {
  console.log(`\n1${label}. capture -> listed and fetchable at the gateway (720p30 publisher, LIVE_LADDER=${ladder}, ${SECONDS} s)`);
  const r = await startRig(dir, { worker: true }, { LIVE_LADDER: ladder });
  try {
    const { id, publishUrl } = await liveLesson(r);
    const pub = startBarcodePublisher(publishUrl);
    // the live master appears once three segments are there
    const deadline = Date.now() + 60_000;
    let master: Response;
    while ((master = await fetch(`${r.url}/live/${id}/master.m3u8`)).status !== 200) {
      if (Date.now() > deadline) throw new Error('the live master never appeared');
      await sleep(200);
    }
    // the largest video variant: its frames carry the barcode at the publisher's geometry or close to it
    const variants = [...(await master.text()).matchAll(/RESOLUTION=(\d+)x\d+.*\n(.+)/g)].sort((a, b) => Number(b[1]) - Number(a[1]));
    const top = variants[0][2].trim().replace(/\/index\.m3u8$/, '');
    console.log(`   measuring the ${top} rendition`);
    const baseDir = path.join(dir, 'baseline-hls');
    await mkdir(baseDir, { recursive: true });
    const base = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-rw_timeout', '5000000', '-i', r.sys.ingest!.pullUrl(id), '-c', 'copy', '-f', 'hls', '-hls_time', '2', '-hls_list_size', '10', '-hls_flags', 'temp_file', path.join(baseDir, 'index.m3u8')], { stdio: 'ignore' });
    const end = Date.now() + SECONDS * 1000;
    const [ours, floor] = await Promise.all([
      watchPlaylist(
        async () => {
          const res = await fetch(`${r.url}/live/${id}/${top}/index.m3u8`);
          return res.status === 200 ? res.text() : null;
        },
        async (u) => {
          const res = await fetch(`${r.url}/live/${id}/${top}/${u}`);
          return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : null;
        },
        () => Date.now() > end,
      ),
      watchPlaylist(() => readFile(path.join(baseDir, 'index.m3u8'), 'utf8'), (u) => readFile(path.join(baseDir, u)), () => Date.now() > end),
    ]);
    base.kill('SIGTERM');
    await pub.stop();
    const mo = await measure(ours);
    const mb = await measure(floor);
    const d = mo.delays;
    const b = mb.delays;
    if (!d.length || !b.length) throw new Error(`no frames measured (gateway ${d.length}, baseline ${b.length})`);
    const row = (name: string, xs: number[], n: number) => console.log(`   ${name.padEnd(44)} median ${fmtS(pct(xs, 50))}  p95 ${fmtS(pct(xs, 95))}  max ${fmtS(Math.max(...xs))}  (${xs.length} frames, ${n} segments)`);
    row('gateway live playlist (the product)', d, ours.length);
    row('baseline: ffmpeg -c copy HLS from the ingest', b, floor.length);
    console.log(`   ratio product/baseline: median ${(pct(d, 50) / pct(b, 50)).toFixed(2)}x, p95 ${(pct(d, 95) / pct(b, 95)).toFixed(2)}x; target: median under 4 s -> ${pct(d, 50) < 4000 ? 'met' : 'NOT met'}`);
    const g = drift(mo.perSegment, 2);
    console.log(`   delay growth over the run: ${g.toFixed(2)} s per minute${g > 1 ? ' (the worker is slower than real time on this machine now)' : ''}`);
    if (mo.pdtError.length) console.log(`   PROGRAM-DATE-TIME minus the capture time of the segment's first frame: median ${fmtS(pct(mo.pdtError, 50))} (p5 ${fmtS(pct(mo.pdtError, 5))}, p95 ${fmtS(pct(mo.pdtError, 95))})`);
    await fetch(`${r.url}/api/v1/lessons/${id}/live/stop`, { method: 'POST', headers: { authorization: `Bearer ${r.reviewer}` } });
    return g;
  } finally {
    await r.sys.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc.

async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

async function cpuOver(pids: number[], ms: number): Promise<number> {
  const a = await Promise.all(pids.map(cpuSeconds));
  await sleep(ms);
  const b = await Promise.all(pids.map(cpuSeconds));
  return b.reduce((s, x, i) => s + x - a[i], 0) / (ms / 1000);
}

async function makeClip(dir: string): Promise<string> {
  const clip = path.join(dir, 'clip-720p30.flv');
  await new Promise<void>((resolve, reject) => {
    const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${W}x${H}:rate=${FPS}`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '12',
      '-c:v', 'libx264', '-preset', 'veryfast', '-g', String(2 * FPS), '-keyint_min', String(2 * FPS), '-sc_threshold', '0', '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '5000k', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-f', 'flv', clip], { stdio: 'ignore' });
    p.once('exit', (c) => (c === 0 ? resolve() : reject(new Error(`clip: ffmpeg ${c}`))));
  });
  return clip;
}

const kill = async (ps: ChildProcess[]) => {
  for (const p of ps) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await Promise.all(ps.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
};

// ---------------------------------------------------------------------------------------------
// Part 2: ingest CPU per relayed publisher.

async function partIngest(dir: string, clip: string): Promise<void> {
  console.log('\n2. ingest CPU per relayed 720p30 publisher (2.6 Mb/s, each with one worker-like pull)');
  const r = await startRig(dir, { worker: false });
  try {
    const pid = r.sys.ingest!.pid!;
    const idle = await cpuOver([pid], 5000);
    console.log(`   idle ingest: ${(idle * 100).toFixed(1)} % of a core`);
    const procs: ChildProcess[] = [];
    for (const n of [1, 2, 4]) {
      while (procs.length / 2 < n) {
        const { id, publishUrl } = await liveLesson(r);
        const pub = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip, '-c', 'copy', '-f', 'flv', publishUrl], { stdio: 'ignore' });
        await sleep(1500);
        const pull = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-rw_timeout', '5000000', '-i', r.sys.ingest!.pullUrl(id), '-c', 'copy', '-f', 'null', '-'], { stdio: 'ignore' });
        procs.push(pub, pull);
      }
      await sleep(3000);
      const publishers = procs.filter((_, i) => i % 2 === 0).map((p) => p.pid!);
      const [ingest, pubCpu] = await Promise.all([cpuOver([pid], WINDOW_MS), cpuOver(publishers, WINDOW_MS)]);
      const per = (ingest - idle) / n;
      const perPub = pubCpu / n;
      console.log(`   ${n} stream(s): ingest ${(ingest * 100).toFixed(1)} % -> ${(per * 100).toFixed(2)} % of a core per stream; baseline (publisher ffmpeg remuxing the same stream) ${(perPub * 100).toFixed(2)} % -> ratio ${(per / perPub).toFixed(2)}x`);
      if (n === 4) console.log(`   => one ingest process (one core, Node is single-threaded) relays about ${Math.floor(1 / Math.max(per, 1e-4))} such streams before CPU-bound (network aside)`);
    }
    await kill(procs);
  } finally {
    await r.sys.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Part 3: live ladders per worker.

interface Encoder {
  proc: ChildProcess;
  outTimeS: () => number;
}

function startEncoder(args: string[]): Encoder {
  const proc = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = 0;
  let pending = '';
  proc.stdout!.on('data', (d: Buffer) => {
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) {
      const m = /^out_time_us=(\d+)/.exec(l.trim());
      if (m) out = Number(m[1]) / 1e6;
    }
  });
  return { proc, outTimeS: () => out };
}

async function measureEncoders(encs: Encoder[], ms: number): Promise<{ cpu: number; minSpeed: number }> {
  await sleep(4000);
  const o0 = encs.map((e) => e.outTimeS());
  const t0 = Date.now();
  const cpu = await cpuOver(encs.map((e) => e.proc.pid!), ms);
  const dt = (Date.now() - t0) / 1000;
  const speeds = encs.map((e, i) => (e.outTimeS() - o0[i]) / dt);
  return { cpu, minSpeed: Math.min(...speeds) };
}

type LadderKind = 'encoded' | 'passthrough';

/** Ladders of one kind, 1.. at once until one falls behind; CPU one ladder needs at real time (cores). */
async function ladderSteps(kind: LadderKind, args: (n: number) => Promise<string[]>, singleNeed: number): Promise<{ need: number; sustained: number }> {
  let sustained = 0;
  let needPerLadder = 0;
  for (let n = 1; n <= MAX_LADDERS; n++) {
    const encs: Encoder[] = [];
    for (let i = 0; i < n; i++) encs.push(startEncoder(await args(n * 10 + i)));
    const m = await measureEncoders(encs, WINDOW_MS);
    await kill(encs.map((e) => e.proc));
    const ok = m.minSpeed >= 0.98;
    // CPU a ladder needs to run at real time: CPU spent per second of media (holds under contention too).
    const need = m.cpu / n / Math.max(0.01, m.minSpeed);
    if (n === 1) needPerLadder = need;
    console.log(`   ${kind} ${n} ladder(s): ${(m.cpu * 100).toFixed(0)} % CPU (${((m.cpu / n) * 100).toFixed(0)} % per ladder), slowest at ${m.minSpeed.toFixed(2)}x real time -> ${ok ? 'sustained' : 'falls behind'}; needs ${(need * 100).toFixed(0)} % of a core per ladder at real time = ${(need / singleNeed).toFixed(2)}x the single 720p rendition`);
    if (!ok) break;
    sustained = n;
  }
  return { need: needPerLadder, sustained };
}

/** Part 3's result for the run's summary: cores one lesson needs at real time (passthrough null: not passed through). */
interface LadderCores {
  encoded: number;
  passthrough: number | null;
  load: string;
}

async function partLadders(dir: string, clip: string): Promise<LadderCores> {
  console.log(`\n3. live ladders one worker sustains at real time (${os.cpus().length} cores here, shared; 720p30 H.264 2.5 Mb/s with 2 s keyframes in, default ladder, preset ${PRESET} + zerolatency): every rung encoded, and with the source passed through as the top rung`);
  const probe = parseProbe(await runFfprobe('ffprobe', clip));
  if (!probe.ok) throw new Error('clip did not probe');
  const ladder = liveLadderSpec(['720p', '480p', '360p']);
  const plan: TranscodePlan = planTranscode(probe.info, ladder, { live: true });
  // the worker's own decision on the clip's first seconds, as a run makes it on the pulled stream
  const top = plan.renditions.find((r): r is VideoRendition => r.kind === 'video')!;
  const scan = scanVideoPackets(await probeVideoPackets('ffprobe', clip));
  const decision = decidePassthrough(passthroughSource(probe.info, scan), { top, outputFps: plan.fps, segmentSeconds: ladder.segmentSeconds, enabled: true });
  const passPlan = withPassthrough(plan, decision, probe.info.video, probe.info.audio);
  console.log(`   ladder: ${plan.renditions.map((r) => (r.kind === 'video' ? `${r.name} ${r.width}x${r.height}` : `${r.name}`)).join(', ')}; passthrough decision: ${decision.copied ? `${decision.copied} copied (keyframes every ${decision.keyframePeriodS} s, ${decision.videoKbps} kb/s)` : `refused (${decision.refused.join(', ')})`}`);
  const sound = passPlan.passthrough?.soundCopied ?? [];
  console.log(`   source sound ${probe.info.audio ? `${probe.info.audio.codec} ${probe.info.audio.profile} ${probe.info.audio.sampleRate} Hz ${probe.info.audio.channels} ch ${Math.round((probe.info.audio.bitRate ?? 0) / 1000)} kb/s` : 'none'} (OBS's default is AAC-LC 48 kHz stereo); with passthrough it is copied into ${sound.length ? sound.join(', ') : 'no rendition'}, encoded in the others`);
  const args = (p: TranscodePlan, label: string) => async (n: number, only?: string[]) => {
    const out = path.join(dir, `ladder-${label}-${n}`);
    for (const r of p.renditions) await mkdir(path.join(out, r.name), { recursive: true });
    return buildTranscodeArgs({
      input: clip, inputOptions: ['-re', '-stream_loop', '-1'], outDir: out, plan: p, preset: PRESET, segmentFormat: 'mpegts', only,
      live: { listSize: 5, programDateTime: true, deleteSegments: true, playlistType: null },
    });
  };
  const single = startEncoder(await args(plan, 'single')(0, ['720p']));
  const s = await measureEncoders([single], WINDOW_MS);
  await kill([single.proc]);
  const singleNeed = s.cpu / Math.max(0.01, s.minSpeed);
  console.log(`   baseline: one 720p rendition alone: ${(s.cpu * 100).toFixed(0)} % of a core at ${s.minSpeed.toFixed(2)}x real time -> needs ${(singleNeed * 100).toFixed(0)} % of a core at real time`);
  const full = await ladderSteps('encoded', args(plan, 'full'), singleNeed);
  const load = () => os.loadavg()[0].toFixed(1);
  const perCore = (need: number) => Math.floor((os.cpus().length * 0.9) / need);
  console.log(`   => sustained here (shared machine, load ${load()}): ${full.sustained} encoded ladder(s); on an idle ${os.cpus().length}-core worker at 90 % use: ${perCore(full.need)} (from ${(full.need * 100).toFixed(0)} % of a core per ladder)`);
  let passNeed: number | null = null;
  if (!decision.copied) {
    console.log('   passthrough: the clip was not passed through; nothing to compare');
  } else {
    const pass = await ladderSteps('passthrough', args(passPlan, 'pass'), singleNeed);
    passNeed = pass.need;
    console.log(`   => sustained here: ${pass.sustained} passthrough ladder(s); on an idle ${os.cpus().length}-core worker at 90 % use: ${perCore(pass.need)}`);
    console.log(`   ${ladderCoresLine({ encoded: full.need, passthrough: pass.need, load: load() })}`);
  }
  for (const d of (await readdir(dir)).filter((x) => x.startsWith('ladder-'))) await rm(path.join(dir, d), { recursive: true, force: true });
  return { encoded: full.need, passthrough: passNeed, load: load() };
}

const passthroughGoal = 0.35;

function ladderCoresLine(c: LadderCores): string {
  const head = `CPU of one 720p30 live lesson (cores at real time, same run, load ${c.load}): every rung encoded ${c.encoded.toFixed(2)}`;
  if (c.passthrough === null) return `${head}, top rung passed through: not measured (the clip was not passed through)`;
  return `${head}, top rung passed through ${c.passthrough.toFixed(2)} -> ratio ${(c.passthrough / c.encoded).toFixed(2)}; goal passthrough <= ${passthroughGoal} core -> ${c.passthrough <= passthroughGoal ? 'met' : 'NOT met'}`;
}

// ---------------------------------------------------------------------------------------------

const dir = await mkdtemp(path.join(os.tmpdir(), 'classcast-bench-live-'));
try {
  console.log(`bench:live on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}), load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (PARTS.includes(1)) {
    const growth = await partLatency(dir, '720p,480p,360p', 'a');
    // When the default ladder cannot keep up here (shared cores), the same pipeline with a ladder the
    // machine can carry shows the delay the design itself adds.
    if (growth > 1 || process.env.BENCH_LIVE_HEADROOM) await partLatency(dir, '360p', 'b');
  }
  const second = PARTS.includes(4) ? await partSecondLesson(dir, { startRig, url: (r) => r.url, stopRig: (r) => r.sys.stop(), liveLesson, startBarcodePublisher, watchPlaylist, measure, pct, fmtS }, { seconds: SECONDS, ladder: '720p,480p,360p' }) : null;
  const clip = await makeClip(dir);
  if (PARTS.includes(2)) await partIngest(dir, clip);
  const cores = PARTS.includes(3) ? await partLadders(dir, clip) : null;
  // The figures issue 11 asks for, together at the end.
  if (cores || second) console.log(`\nsummary (load now ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ${os.cpus().length} cores)`);
  if (cores) console.log(`   part 3: ${ladderCoresLine(cores)}`);
  for (const line of second ? summariseSecondLesson(second, fmtS) : []) console.log(`   part 4: ${line}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
