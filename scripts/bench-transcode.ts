/**
 * `npm run bench:transcode` (issue 3, Benchmarks): for a lesson-like and a camera-like 1080p30 source
 * made here, the wall time of the whole transcode job (upload done -> ready, through BullMQ, storage
 * and the worker) next to two baselines measured in the same run, alternating:
 *   (a) the same ladder made by one ffmpeg process per rendition, one after another;
 *   (b) the bare single-process ffmpeg command our builder produces.
 * Prints realtime factors, ratios, bytes per hour of each rendition and SSIM of the 720p rendition
 * against the source.
 *
 * Options: --seconds N (source length, default 60), --rounds N (default 1), --budget-min N (stop
 * starting rounds after this many minutes, default 30), --only lesson|camera.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { vodLadder } from '../config/ladder.ts';
import { loadConfig } from '../config/load.ts';
import { startRedisServer, startS3Server } from '../src/infra/embedded.ts';
import { runFfmpeg, runFfprobe } from '../src/infra/ffmpeg.runner.ts';
import { createLogger } from '../src/infra/logger.ts';
import { QueueFactory } from '../src/infra/queue.ts';
import { ObjectStorage } from '../src/infra/storage.ts';
import { buildTranscodeArgs, planTranscode, type TranscodePlan } from '../src/media/ffmpeg-args.ts';
import { parseProbe } from '../src/media/probe.ts';
import { sourceKey } from '../src/media/storage-keys.ts';
import type { JobResult } from '../src/jobs/job-types.ts';
import { transcodeJob, type TranscodeResultData } from '../src/jobs/transcode.job.ts';
import { transcodeHandlerEntry } from '../workers/transcode.handler.ts';
import { startJobWorkers } from '../workers/worker.ts';

const argv = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : def;
};
const seconds = Number(opt('seconds', '60'));
const rounds = Number(opt('rounds', '1'));
const budgetMs = Number(opt('budget-min', '30')) * 60_000;
const only = opt('only', '');

function ffmpegCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-20_000)));
    c.once('error', reject);
    c.once('close', (code) => (code === 0 ? resolve(err) : reject(new Error(`ffmpeg failed: ${err.slice(-1500)}`))));
  });
}

/** Static slides changing every 10 s with a small moving "camera" box in the corner, and a voice-like tone. */
async function lessonSource(file: string): Promise<void> {
  const slide =
    `color=c=0xf4f1e8:size=1920x1080:rate=30,` +
    `drawbox=x=120:y=120:w=1680:h=8:color=0x2b4c7e:t=fill,` +
    `drawtext=text='Lesson 3 - Fractions':fontsize=72:fontcolor=0x2b4c7e:x=140:y=170,` +
    `drawtext=text='Slide %{eif\\:floor(t/10)+1\\:d}':fontsize=48:fontcolor=0x333333:x=140:y=300,` +
    `drawtext=text='1/2 + 1/3 = 5/6    3/4 - 1/8 = 5/8    2/3 x 3/5 = 2/5':fontsize=44:fontcolor=0x333333:x=140:y=420,` +
    `drawtext=text='Common denominators make adding easy.':fontsize=44:fontcolor=0x333333:x=140:y=520`;
  await ffmpegCli([
    '-loglevel', 'error',
    '-f', 'lavfi', '-t', String(seconds), '-i', slide,
    '-f', 'lavfi', '-t', String(seconds), '-i', 'testsrc2=size=384x216:rate=30',
    '-f', 'lavfi', '-t', String(seconds), '-i', "aevalsrc='0.3*sin(2*PI*220*t)*(0.6+0.4*sin(2*PI*3*t))':s=48000:c=stereo",
    '-filter_complex', '[1:v]hue=H=t/3[cam];[0:v][cam]overlay=x=W-w-60:y=H-h-60[v]',
    '-map', '[v]', '-map', '2:a',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '160k',
    file,
  ]);
}

/** Full-frame motion with sensor-like noise. */
async function cameraSource(file: string): Promise<void> {
  await ffmpegCli([
    '-loglevel', 'error',
    '-f', 'lavfi', '-t', String(seconds), '-i', 'testsrc2=size=1920x1080:rate=30,hue=H=t/2,noise=alls=12:allf=t',
    '-f', 'lavfi', '-t', String(seconds), '-i', "aevalsrc='0.2*sin(2*PI*330*t)':s=48000:c=stereo",
    '-map', '0:v', '-map', '1:a',
    // a phone camera's rate (~16 Mb/s), not the hundreds of Mb/s pure noise would take at CRF 18
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-maxrate', '16M', '-bufsize', '32M', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '160k',
    file,
  ]);
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? await dirBytes(p) : (await stat(p)).size;
  }
  return total;
}

const inputOptions = ['-probesize', '50M', '-analyzeduration', '20M'];

async function bare(src: string, plan: TranscodePlan, out: string, preset: string): Promise<{ wallMs: number; cpuS: number }> {
  await rm(out, { recursive: true, force: true });
  for (const r of plan.renditions) await mkdir(path.join(out, r.name), { recursive: true });
  return timed(() => runFfmpeg(buildTranscodeArgs({ input: src, inputOptions, outDir: out, plan, preset, segmentFormat: 'mpegts' }), { ffmpegPath: 'ffmpeg', durationS: plan.durationS }));
}

async function perRendition(src: string, plan: TranscodePlan, out: string, preset: string): Promise<{ wallMs: number; cpuS: number }> {
  await rm(out, { recursive: true, force: true });
  for (const r of plan.renditions) await mkdir(path.join(out, r.name), { recursive: true });
  return timed(async () => {
    for (const r of plan.renditions) {
      await runFfmpeg(buildTranscodeArgs({ input: src, inputOptions, outDir: out, plan, preset, segmentFormat: 'mpegts', only: [r.name] }), { ffmpegPath: 'ffmpeg', durationS: plan.durationS });
    }
  });
}

async function ssim720(src: string, playlist: string): Promise<number | null> {
  const log = await ffmpegCli([
    '-loglevel', 'info',
    '-i', src, '-i', playlist,
    '-lavfi', '[0:v]setpts=PTS-STARTPTS,scale=1280:720:flags=bicubic,format=yuv420p[ref];[1:v]setpts=PTS-STARTPTS,format=yuv420p[d];[d][ref]ssim',
    '-f', 'null', '-',
  ]);
  const m = /SSIM .*All:([0-9.]+)/.exec(log);
  return m ? Number(m[1]) : null;
}

const fmtS = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * CPU seconds used so far by this process's reaped children (ffmpeg, ffprobe) plus this process itself:
 * unlike wall time it does not move when other work shares the machine. Linux /proc only (else 0).
 */
async function cpuSeconds(): Promise<number> {
  const self = process.cpuUsage();
  try {
    const stat = await readFile('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[13], fields[14]: cutime, cstime in clock ticks (USER_HZ = 100 on Linux)
    return (Number(fields[13]) + Number(fields[14])) / 100 + (self.user + self.system) / 1e6;
  } catch {
    return (self.user + self.system) / 1e6;
  }
}

/** Wall and CPU time of an async step. */
async function timed(fn: () => Promise<unknown>): Promise<{ wallMs: number; cpuS: number }> {
  const c0 = await cpuSeconds();
  const t0 = performance.now();
  await fn();
  return { wallMs: performance.now() - t0, cpuS: (await cpuSeconds()) - c0 };
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The parts a job run needs: Redis and S3 children, storage, queues, a transcode worker; `cleanup` stops them all once. */
async function startRig(root: string) {
  const redis = await startRedisServer(undefined);
  const s3 = await startS3Server(path.join(root, 's3'));
  const cfg = loadConfig({}, {
    LOG_LEVEL: 'silent',
    REDIS_URL: redis.url,
    S3_ENDPOINT: s3.url,
    QUEUE_PREFIX: `bench${Date.now()}`,
    WORK_DIR: path.join(root, 'work'),
    MEDIA_MAX_DURATION_S: String(Math.max(60, seconds * 2)),
  });
  const storage = ObjectStorage.fromConfig(cfg);
  await storage.ensureBuckets();
  const queues = new QueueFactory({ redisUrl: cfg.REDIS_URL, prefix: cfg.QUEUE_PREFIX });
  const events = queues.events('transcode');
  await events.waitUntilReady();
  startJobWorkers(queues, { config: cfg, storage, log: createLogger('silent') }, { transcode: transcodeHandlerEntry(cfg) });
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    (cleaned ??= (async () => {
      await queues.close().catch(() => undefined);
      await s3.stop();
      await redis.stop();
      await rm(root, { recursive: true, force: true });
    })());
  return { cfg, storage, queues, events, cleanup };
}
type Rig = Awaited<ReturnType<typeof startRig>>;

/** Wall and CPU time of each way to transcode, one entry per round. */
interface Timings { wallMs: number[]; cpuS: number[] }
const timings = (): Timings => ({ wallMs: [], cpuS: [] });

/** One transcode through the real job path (upload done -> ready), as the catalog would queue it. */
async function jobRun(rig: Rig, file: string): Promise<{ t: { wallMs: number; cpuS: number }; data: TranscodeResultData }> {
  const assetId = randomUUID();
  const key = sourceKey(assetId, 'mp4');
  await rig.storage.putFile(rig.storage.mediaBucket, key, file, 'video/mp4');
  const j = transcodeJob({ assetId, sourceKey: key }, rig.cfg);
  let result: JobResult | undefined;
  const t = await timed(async () => {
    const job = await rig.queues.queue(j.queue).add(j.name, j.data, j.opts);
    result = (await job.waitUntilFinished(rig.events, 60 * 60_000)) as JobResult;
  });
  return { t, data: result!.data as unknown as TranscodeResultData };
}

/** Runs the rounds of one source (job, bare command, one ffmpeg per rendition, in alternating order) and prints its figures. */
async function benchSource(rig: Rig, root: string, s: { name: string; make: (f: string) => Promise<void> }, started: number): Promise<void> {
  const preset = rig.cfg.TRANSCODE_X264_PRESET;
  const file = path.join(root, `${s.name}.mp4`);
  const tg = performance.now();
  await s.make(file);
  const probe = await runFfprobe('ffprobe', file);
  const parsed = parseProbe(probe);
  if (!parsed.ok) throw new Error(parsed.failure.message);
  const plan = planTranscode(parsed.info, vodLadder);
  const dur = plan.durationS!;
  console.log(`\n== ${s.name}: ${dur.toFixed(1)} s, ${(probe.fileSize / 1e6).toFixed(1)} MB source (made in ${fmtS(performance.now() - tg)}); ladder ${plan.renditions.map((r) => r.name).join(', ')}`);

  const runs = { job: timings(), bare: timings(), seq: timings() };
  const labels = { job: 'job (upload done -> ready)      ', bare: 'bare single-process ffmpeg     ', seq: 'one ffmpeg per rendition (seq.) ' };
  let last: TranscodeResultData | null = null;
  for (let round = 0; round < rounds; round++) {
    if (round > 0 && Date.now() - started > budgetMs) {
      console.log(`  (time budget reached after ${round} round(s))`);
      break;
    }
    // Alternate the order so neither side always runs on a warmer (or hotter) machine.
    const order = round % 2 === 0 ? (['job', 'bare', 'seq'] as const) : (['seq', 'bare', 'job'] as const);
    for (const what of order) {
      let t: { wallMs: number; cpuS: number };
      if (what === 'job') ({ t, data: last } = await jobRun(rig, file));
      else if (what === 'bare') t = await bare(file, plan, path.join(root, `${s.name}-bare`), preset);
      else t = await perRendition(file, plan, path.join(root, `${s.name}-seq`), preset);
      runs[what].wallMs.push(t.wallMs);
      runs[what].cpuS.push(t.cpuS);
      console.log(`  round ${round + 1}: ${labels[what]} ${fmtS(t.wallMs)} wall, ${t.cpuS.toFixed(1)} s CPU, load ${os.loadavg()[0].toFixed(1)}`);
    }
  }
  await report(root, s.name, file, dur, runs, last);
}

/** The figures of one source: realtime factors, the issue's two ratios, CPU, rendition sizes, output bytes, SSIM. */
async function report(root: string, name: string, file: string, dur: number, runs: Record<'job' | 'bare' | 'seq', Timings>, last: TranscodeResultData | null): Promise<void> {
  const job = median(runs.job.wallMs);
  const b = median(runs.bare.wallMs);
  const q = median(runs.seq.wallMs);
  console.log(`  realtime factor (media s / wall s): job ${(dur / (job / 1000)).toFixed(2)}x, bare ${(dur / (b / 1000)).toFixed(2)}x, per-rendition ${(dur / (q / 1000)).toFixed(2)}x`);
  console.log(`  ratio one process / one process per rendition: ${(b / q).toFixed(2)}  (issue: about 0.76)`);
  console.log(`  ratio job / bare command:                      ${(job / b).toFixed(2)}  (issue: within 1.10)`);
  const jc = median(runs.job.cpuS);
  const bc = median(runs.bare.cpuS);
  const qc = median(runs.seq.cpuS);
  console.log(`  CPU seconds (load-independent): job ${jc.toFixed(1)}, bare ${bc.toFixed(1)}, per-rendition ${qc.toFixed(1)}; ratios one/per-rendition ${(bc / qc).toFixed(2)}, job/bare ${(jc / bc).toFixed(2)}`);
  if (last) {
    console.log('  rendition    size        avg kb/s  peak kb/s  MB per hour');
    for (const r of last.renditions) {
      const perHour = (r.bytes / last.durationS) * 3600;
      console.log(`  ${r.name.padEnd(8)} ${(r.width ? `${r.width}x${r.height}` : '-').padEnd(11)} ${String(Math.round(r.averageBandwidth / 1000)).padStart(9)} ${String(Math.round(r.bandwidth / 1000)).padStart(10)} ${(perHour / 1e6).toFixed(0).padStart(12)}`);
    }
    if (last.rateGuard.reencoded.length || last.rateGuard.stuffed.length) console.log(`  rate guard: re-encoded ${last.rateGuard.reencoded.join(',') || '-'}, padded ${last.rateGuard.stuffed.join(',') || '-'}`);
  }
  const seqBytes = await dirBytes(path.join(root, `${name}-seq`));
  const bareBytes = await dirBytes(path.join(root, `${name}-bare`));
  console.log(`  output bytes: bare ${(bareBytes / 1e6).toFixed(1)} MB, per-rendition ${(seqBytes / 1e6).toFixed(1)} MB`);
  const ssim = await ssim720(file, path.join(root, `${name}-bare`, '720p', 'index.m3u8'));
  console.log(`  SSIM 720p vs source (scaled to 720p): ${ssim === null ? 'n/a' : ssim.toFixed(4)}`);
}

async function main(): Promise<void> {
  const started = Date.now();
  const root = await mkdtemp(path.join(os.tmpdir(), 'cc-bench-transcode-'));
  const rig = await startRig(root);
  // Interrupted: still stop the redis-server and S3 children and remove the scratch dir.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void rig.cleanup().finally(() => process.exit(130)));

  console.log(`bench:transcode  ${seconds} s 1080p30 sources, preset ${rig.cfg.TRANSCODE_X264_PRESET}, ${os.cpus().length} CPU(s), load average ${os.loadavg()[0].toFixed(1)}`);
  try {
    const sources = [
      { name: 'lesson', make: lessonSource },
      { name: 'camera', make: cameraSource },
    ].filter((s) => !only || s.name === only);
    for (const s of sources) await benchSource(rig, root, s, started);
  } finally {
    await rig.cleanup();
  }
  console.log(`\ntotal bench time ${fmtS(Date.now() - started)}`);
}

await main();
