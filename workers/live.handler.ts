import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.schema.ts';
import type { LadderSpec } from '../config/ladder.ts';
import { FfmpegError, runFfmpeg, runFfprobe, withWorkDir } from '../src/infra/ffmpeg.runner.ts';
import { LiveControl } from '../src/infra/live-control.ts';
import { scrubUrl, type Logger } from '../src/infra/logger.ts';
import type { ObjectStorage } from '../src/infra/storage.ts';
import type { JobResult } from '../src/jobs/job-types.ts';
import { liveJobSchema, liveWorkerLock, type LiveJob } from '../src/jobs/live.job.ts';
import { PermanentJobError } from '../src/jobs/permanent-error.ts';
import { buildPosterArgs, buildStoryboardArgs, buildStoryboardVtt, planStoryboard, planTranscode, type TranscodePlan, type VideoRendition } from '../src/media/ffmpeg-args.ts';
import { segmentFactsFromTs, type SegmentFacts } from '../src/media/hls-validator.ts';
import { buildConcatList, buildConcatRemuxArgs, buildLiveLadderArgs, buildLiveProbeArgs, liveLadderSpec, sessionRenditions } from '../src/media/live-args.ts';
import { liveLedgerHeadKey, liveLedgerPageKey, livePosterKey, liveSlotKey, liveStoryboardImageKey, liveStoryboardVttKey } from '../src/media/live-keys.ts';
import {
  appendSlot,
  ledgerFrom,
  ledgerHead,
  ledgerHeadSchema,
  ledgerPage,
  ledgerPageSchema,
  newLedger,
  nextSlot,
  sealedPageCount,
  type LiveLedger,
  type LiveRunEntry,
  type LiveSlot,
} from '../src/media/live-ledger.ts';
import {
  capBandwidth,
  liveSegmentFile,
  livePlaylistReady,
  liveVariants,
  readFfmpegLivePlaylist,
  readySlots,
  writeLiveMaster,
  writeLiveMediaPlaylist,
  writeRecordingPlaylist,
  type FfmpegLivePlaylist,
  type ReadySlots,
} from '../src/media/live-playlists.ts';
import { validateLiveRecording } from '../src/media/live-recording-check.ts';
import { parseProbe, rationalValue } from '../src/media/probe.ts';
import { contentTypeOf, liveMasterKey, liveMediaPlaylistKey, livePrefix } from '../src/media/storage-keys.ts';
import { inspectTsSegment } from '../src/media/ts-segment.ts';
import type { JobHandler } from './handler-types.ts';
import type { HandlerEntry } from './worker.ts';

/** A pull that delivers nothing for this long ends the run (publisher gone, ingest restarted). */
const rwTimeoutS = 5;
/** Media seconds captured to probe a run's source (the ingest sends its cached GOP at once). */
const probeSeconds = 0.5;
/** Segments ffmpeg keeps listed locally: the uploader may fall this far behind without losing any. */
const localListSize = 30;
/** The live master is rewritten with measured rates this often (slots), and whenever a run starts. */
const masterEverySlots = 15;
/** A run that adds no slot for this long is stopped and restarted. */
const stallS = rwTimeoutS + 20;

/** Another worker took the session over (its run number is newer): this one stops writing. */
class RunTakenOverError extends Error {
  constructor() {
    super('another worker continues this live session');
    this.name = 'RunTakenOverError';
  }
}

type RunOutcome = 'stopped' | 'exited' | 'failed';

interface Ctx {
  p: LiveJob;
  config: Config;
  storage: ObjectStorage;
  bucket: string;
  log: Logger;
  control: LiveControl;
  pullUrl: string;
  ladder: LadderSpec;
  ledger: LiveLedger;
  /** Sealed ledger pages already in storage. */
  persistedPages: number;
  /** Slot count when the live master was last written by this worker (-1: never). */
  masterAt: number;
  dir: string;
  /** The job is being given up by this worker (it is closing). */
  signal: AbortSignal;
}

/**
 * The `live` job (src/jobs/live.job.ts): one per live session, running for the whole session.
 *
 * Loop: read the catalog's `epoch`/`state`; while on air, run ONE ffmpeg that pulls the lesson from the
 * ingest through the live ladder into a local temp dir; a watcher takes every segment position all
 * renditions have finished, uploads the segments (`live/{sessionId}/{rendition}/r{run}-{seq}.ts`),
 * records the slot in the ledger (storage), then rewrites each rendition's sliding window
 * (`{rendition}/index.m3u8`) and, from time to time, the master. A new epoch (publisher reconnect), an
 * ffmpeg exit while the session is not over, or a worker taking over a stalled job starts a new run,
 * whose first slot carries an EXT-X-DISCONTINUITY in every rendition. When the session ends: stop
 * ffmpeg, upload what is left, and turn the ledger into the recording (VOD playlists over the live
 * ones, master from measured sizes, poster, storyboard, validation) returned as a `live` result.
 * Idempotent: every key is derived from the session, run numbers only grow, and finishing twice
 * writes the same objects.
 */
export const liveHandler: JobHandler<LiveJob> = async (job, deps, signal) => {
  const parsed = liveJobSchema.safeParse(job.data);
  if (!parsed.success) throw new PermanentJobError(`invalid live job: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const p = parsed.data;
  if (!deps.redis || !deps.livePullUrl) throw new Error('live jobs need Redis and the ingest pull URL (worker role)');
  const { config, storage } = deps;
  const log = deps.log.child({ sessionId: p.sessionId, lessonId: p.lessonId, jobId: job.id });
  const ladder = liveLadderSpec(config.LIVE_LADDER.split(','));
  const control = new LiveControl(deps.redis, config.QUEUE_PREFIX, p.sessionId);
  await control.open();
  try {
    return await withWorkDir(
      config.WORK_DIR,
      `live-${p.sessionId}`,
      async (dir) => {
        const loaded = await loadLedger(storage, p.sessionId);
        const ledger = loaded?.ledger ?? newLedger({ sessionId: p.sessionId, lessonId: p.lessonId, segmentSeconds: ladder.segmentSeconds });
        if (loaded) log.info({ slots: ledger.slots.length, runs: ledger.runs.length }, 'live session continued from its ledger');
        const ctx: Ctx = {
          p, config, storage, bucket: storage.mediaBucket, log, control, pullUrl: deps.livePullUrl!(p.lessonId), ladder, ledger,
          persistedPages: loaded?.pages ?? 0, masterAt: -1, dir, signal,
        };
        let failures = 0;
        for (;;) {
          if (signal.aborted) throw new Error('this worker is shutting down; another worker continues the live session');
          const c = await control.read();
          if (c.state === null || c.state === 'ended') break;
          if (c.state === 'reconnecting') {
            await control.waitForChange(2000, signal);
            continue;
          }
          const before = ledger.slots.length;
          const outcome = await runOnce(ctx, c.epoch);
          failures = ledger.slots.length > before ? 0 : failures + 1;
          if (outcome !== 'stopped' && failures > 0) await control.waitForChange(Math.min(5000, 500 * 2 ** (failures - 1)), signal);
        }
        return await finalize(ctx);
      },
      log,
    );
  } finally {
    await control.close();
  }
};

/** The handler-map entry (workers/handlers.ts): `live: liveHandlerEntry(config)`. */
export function liveHandlerEntry(config: Config): HandlerEntry {
  // A ladder naming unknown rungs stops the worker at start, not every live lesson later.
  liveLadderSpec(config.LIVE_LADDER.split(','));
  return {
    handler: liveHandler as HandlerEntry['handler'],
    kind: 'live',
    subject: (d) => String(d.sessionId),
    concurrency: config.LIVE_CONCURRENCY,
    ...liveWorkerLock,
    // A session outlives several worker deaths; each one is a stall the job must survive.
    maxStalledCount: 1000,
    // A closing worker (deploy, scale-in) hands its sessions over instead of waiting for them to end.
    abortOnClose: true,
  };
}

// ---------------------------------------------------------------------------------------------
// One run: probe, one ffmpeg, the watcher that uploads finished slots.

async function runOnce(ctx: Ctx, epoch: number): Promise<RunOutcome> {
  const { control, ledger, config } = ctx;
  const run = await control.claimRun();
  const log = ctx.log.child({ run, epoch });
  const runDir = path.join(ctx.dir, `run-${run}`);
  const ac = new AbortController();
  let stopReason: string | undefined;
  const stopRun = (why: string) => {
    if (ac.signal.aborted) return;
    stopReason = why;
    log.info({ why }, 'stopping the live run');
    ac.abort();
  };
  // Watch the catalog while the run lasts: a new epoch or the end stops it.
  const watching = (async () => {
    while (!ac.signal.aborted) {
      if (ctx.signal.aborted) stopRun('worker closing');
      const c = await control.read().catch(() => undefined);
      if (c && (c.state === null || c.state === 'ended')) stopRun('session ended');
      else if (c && c.epoch !== epoch) stopRun('publisher reconnected');
      await control.waitForChange(1000, ac.signal);
    }
  })();
  const onJobAbort = () => stopRun('worker closing');
  ctx.signal.addEventListener('abort', onJobAbort, { once: true });
  try {
    await mkdir(runDir, { recursive: true });
    const plan = await planRun(ctx, epoch, runDir, ac.signal, log);
    if (!plan) return stopReason ? 'stopped' : 'failed';
    const entry: LiveRunEntry = {
      run,
      epoch,
      startedAtMs: Date.now(),
      sizes: Object.fromEntries(plan.renditions.filter((r): r is VideoRendition => r.kind === 'video').map((r) => [r.name, { width: r.width, height: r.height }])),
      frameRate: Math.round(rationalValue(plan.fps) * 1000) / 1000,
      plan,
    };
    if (!ledger.renditions.length) {
      ledger.renditions = plan.renditions.map((r) => ({ name: r.name, kind: r.kind, codecs: null, capBps: capBandwidth(r) }));
    }
    ledger.runs.push(entry);
    for (const r of plan.renditions) await mkdir(path.join(runDir, r.name), { recursive: true });
    const args = buildLiveLadderArgs({ input: ctx.pullUrl, rwTimeoutS, outDir: runDir, plan, preset: config.LIVE_X264_PRESET, localListSize });
    log.info({ input: scrubUrl(ctx.pullUrl), renditions: plan.renditions.map((r) => (r.kind === 'video' ? `${r.name}:${r.width}x${r.height}` : r.name)), fps: entry.frameRate }, 'live run started');

    const watcher = new RunWatcher(ctx, run, runDir, plan.renditions.map((r) => r.name), log, stopRun);
    watcher.start();
    let outcome: RunOutcome = 'exited';
    try {
      // No runner log: ffmpeg's own messages may quote the pull URL with its token; we log them scrubbed.
      const r = await runFfmpeg(args, { ffmpegPath: config.FFMPEG_PATH, signal: ac.signal, killGraceMs: 3000 });
      log.info({ stderrTail: scrubUrl(r.stderrTail).slice(-600) }, 'live ffmpeg ended');
    } catch (err) {
      if (err instanceof FfmpegError && err.aborted) outcome = 'stopped';
      else {
        outcome = 'failed';
        log.warn({ err }, 'live ffmpeg failed');
      }
    }
    // What ffmpeg finished on its way out (it closes its last segment on SIGTERM) is uploaded too.
    await watcher.finish();
    if (watcher.takenOver) throw new RunTakenOverError();
    if (watcher.failed) return 'failed';
    return stopReason ? 'stopped' : outcome;
  } finally {
    ctx.signal.removeEventListener('abort', onJobAbort);
    ac.abort();
    await watching;
    // A run that produced nothing leaves no trace in the ledger (its plan is not reused either).
    const last = ledger.runs[ledger.runs.length - 1];
    if (last?.run === run && ledger.slots[ledger.slots.length - 1]?.run !== run) ledger.runs.pop();
    if (!ledger.slots.length) ledger.renditions = [];
    await rm(runDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * The run's transcode plan: the previous run's (runs that produced segments stay in the ledger) when
 * it pulled the same publisher connection (an ffmpeg restart or a failover needs no second probe),
 * else from a short capture of the stream.
 * Null when the stream could not be read (no publisher yet, ingest down): the caller retries.
 */
async function planRun(ctx: Ctx, epoch: number, runDir: string, signal: AbortSignal, log: Logger): Promise<TranscodePlan | null> {
  const last = ctx.ledger.runs[ctx.ledger.runs.length - 1];
  if (last && last.epoch === epoch && isPlan(last.plan)) return last.plan;
  const capture = path.join(runDir, 'probe.flv');
  try {
    await runFfmpeg(buildLiveProbeArgs({ input: ctx.pullUrl, rwTimeoutS, seconds: probeSeconds, output: capture }), { ffmpegPath: ctx.config.FFMPEG_PATH, signal, killGraceMs: 1000 });
  } catch (err) {
    if (!signal.aborted) log.warn({ err }, 'could not read the live stream');
    return null;
  }
  const probe = await runFfprobe(ctx.config.FFPROBE_PATH, capture, { signal, timeoutMs: 20_000 }).catch(() => null);
  await rm(capture, { force: true });
  if (!probe) return null;
  const outcome = parseProbe(probe);
  if (!outcome.ok) {
    log.warn({ reason: outcome.failure.reason }, 'the live stream is not usable yet');
    return null;
  }
  const info = outcome.info;
  const planned = planTranscode(info, ctx.ladder, { live: true });
  const fixed = ctx.ledger.renditions.map((r) => r.name);
  const renditions = sessionRenditions(planned.renditions, fixed, ctx.ladder, { width: info.video.displayWidth, height: info.video.displayHeight });
  log.info({ source: `${info.video.codec} ${info.video.width}x${info.video.height}`, audio: info.audio?.codec ?? null }, 'live source probed');
  return { ...planned, renditions };
}

function isPlan(x: unknown): x is TranscodePlan {
  const p = x as Partial<TranscodePlan> | null;
  return !!p && Array.isArray(p.renditions) && p.renditions.length > 0 && typeof p.fps === 'object' && typeof p.gopFrames === 'number' && typeof p.video === 'object';
}

/**
 * Takes the slots a run has finished, in order: wakes on file events in the rendition folders and
 * every 250 ms, reads ffmpeg's local playlists, and hands each position every rendition has finished
 * to `takeSlot`. One pass at a time.
 */
class RunWatcher {
  takenOver = false;
  failed = false;
  private nextSeq = 0;
  private runElapsedS = 0;
  private runStartPdtMs: number | null = null;
  private gap = false;
  private busy: Promise<void> = Promise.resolve();
  private queued = false;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastProgress = Date.now();
  private slotsThisRun = 0;

  constructor(
    private readonly ctx: Ctx,
    private readonly run: number,
    private readonly runDir: string,
    private readonly names: string[],
    private readonly log: Logger,
    private readonly stopRun: (why: string) => void,
  ) {}

  start(): void {
    for (const n of this.names) {
      try {
        const w = watch(path.join(this.runDir, n), () => this.kick());
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch {
        // polling below still finds the segments
      }
    }
    this.timer = setInterval(() => {
      this.kick();
      if (Date.now() - this.lastProgress > stallS * 1000) this.stopRun(`no segment for ${stallS} s`);
    }, 250);
  }

  /** Stops watching and takes what the finished ffmpeg left. */
  async finish(): Promise<void> {
    for (const w of this.watchers) w.close();
    clearInterval(this.timer);
    await this.busy;
    if (!this.takenOver && !this.failed) await this.pass();
  }

  private kick(): void {
    if (this.queued || this.takenOver || this.failed) return;
    this.queued = true;
    this.busy = this.busy.then(async () => {
      this.queued = false;
      await this.pass();
    });
  }

  private async pass(): Promise<void> {
    try {
      const seenAt = Date.now();
      const lists = await Promise.all(this.names.map((n) => readLocalPlaylist(path.join(this.runDir, n, 'index.m3u8'))));
      const r: ReadySlots = readySlots(lists, this.nextSeq);
      if (r.skipped) {
        this.gap = true;
        this.log.warn({ skipped: r.skipped }, 'segments left ffmpeg\'s list before they were uploaded');
      }
      for (const slot of r.ready) {
        await this.take(slot, seenAt);
        this.nextSeq = slot.seq + 1;
      }
      if (r.nextSeq > this.nextSeq) this.nextSeq = r.nextSeq;
    } catch (err) {
      if (err instanceof RunTakenOverError) {
        this.takenOver = true;
        this.stopRun('another worker took the session over');
        return;
      }
      this.failed = true;
      this.log.warn({ err }, 'live upload failed');
      this.stopRun('upload failed');
    }
  }

  private async take(slot: ReadySlots['ready'][number], seenAt: number): Promise<void> {
    const { ctx } = this;
    const { ledger, storage, bucket, p } = ctx;
    const files = slot.parts.map((part, i) => path.join(this.runDir, this.names[i], part.uri));
    const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
    // Codecs of the real encode, once per rendition (the master's CODECS).
    for (const [i, r] of ledger.renditions.entries()) {
      if (!r.codecs) {
        const facts = inspectTsSegment(await readFile(files[i]));
        r.codecs = [facts.video?.codecs, facts.audio?.codecs].filter((c): c is string => !!c).join(',') || null;
      }
    }
    // 1. Segments first: no playlist ever names a missing object (DESIGN "Storage layout").
    await Promise.all(files.map((f, i) => retry(() => storage.putFile(bucket, liveSlotKey(p.sessionId, this.names[i], this.run, slot.seq), f, 'video/mp2t'))));
    // The run's first segment ended when its last frame had just been captured (zero-latency encode,
    // segments appear the moment the next keyframe arrives): its start is that instant minus its length.
    // ffmpeg's own PROGRAM-DATE-TIME counts from its start, after the ingest's cached GOP: seconds late.
    this.runStartPdtMs ??= seenAt - Math.round(slot.parts[0].durationS * 1000);
    const next = nextSlot(ledger, {
      run: this.run,
      seq: slot.seq,
      parts: slot.parts.map((part, i) => ({ durationS: part.durationS, bytes: sizes[i] })),
      runStartPdtMs: this.runStartPdtMs,
      runElapsedS: this.runElapsedS,
      gap: this.gap,
    });
    // 2. The ledger, fenced: a worker whose run is no longer the latest stops here.
    if (!(await ctx.control.isLatestRun(this.run))) throw new RunTakenOverError();
    const { raisedTarget } = appendSlot(ledger, next);
    if (raisedTarget) this.log.warn({ targetDurationS: ledger.targetDurationS }, 'a segment outgrew the target duration; target raised');
    await retry(() => persistLedger(ctx));
    this.gap = false;
    this.runElapsedS += slot.parts[0].durationS;
    this.lastProgress = Date.now();
    this.slotsThisRun++;
    // 3. Playlists: every rendition's window, then the master when due.
    if (livePlaylistReady(ledger.slots, ledger.targetDurationS)) {
      await Promise.all(
        ledger.renditions.map((r, i) =>
          retry(() => storage.putBuffer(bucket, liveMediaPlaylistKey(p.sessionId, r.name), writeLiveMediaPlaylist(ledger.slots, i, { windowSegments: ctx.config.LIVE_WINDOW_SEGMENTS, targetDurationS: ledger.targetDurationS }), contentTypeOf('index.m3u8'))),
        ),
      );
      if (ctx.masterAt < 0 || this.slotsThisRun === 1 || ledger.slots.length - ctx.masterAt >= masterEverySlots) {
        await retry(() => storage.putBuffer(bucket, liveMasterKey(p.sessionId), writeLiveMaster(ledger, { phase: 'live' }), contentTypeOf('master.m3u8')));
        ctx.masterAt = ledger.slots.length;
      }
    }
    await Promise.all(files.map((f) => rm(f, { force: true })));
  }
}

async function readLocalPlaylist(file: string): Promise<FfmpegLivePlaylist> {
  try {
    return readFfmpegLivePlaylist(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { mediaSequence: 0, endlist: false, segments: [] };
    throw err;
  }
}

async function retry<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 200 * i));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The ledger in storage.

async function loadLedger(storage: ObjectStorage, sessionId: string): Promise<{ ledger: LiveLedger; pages: number } | null> {
  const bucket = storage.mediaBucket;
  let raw: Buffer;
  try {
    raw = await storage.getBuffer(bucket, liveLedgerHeadKey(sessionId));
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'NoSuchKey' || code === 'NotFound') return null;
    throw err;
  }
  const head = ledgerHeadSchema.parse(JSON.parse(raw.toString('utf8')));
  const pages = [];
  for (let k = 0; k < head.sealedPages; k++) pages.push(ledgerPageSchema.parse(JSON.parse((await storage.getBuffer(bucket, liveLedgerPageKey(sessionId, k))).toString('utf8'))));
  return { ledger: ledgerFrom(head, pages), pages: head.sealedPages };
}

/** Sealed pages first (written once), then the head that names them. */
async function persistLedger(ctx: Ctx): Promise<void> {
  const { ledger, storage, bucket } = ctx;
  const sealed = sealedPageCount(ledger);
  for (let k = ctx.persistedPages; k < sealed; k++) {
    await storage.putBuffer(bucket, liveLedgerPageKey(ledger.sessionId, k), JSON.stringify(ledgerPage(ledger, k)), 'application/json');
    ctx.persistedPages = k + 1;
  }
  await storage.putBuffer(bucket, liveLedgerHeadKey(ledger.sessionId), JSON.stringify(ledgerHead(ledger)), 'application/json');
}

// ---------------------------------------------------------------------------------------------
// The recording.

async function finalize(ctx: Ctx): Promise<JobResult> {
  const { ledger, storage, bucket, p, log, config } = ctx;
  if (!ledger.slots.length) throw new PermanentJobError('the live lesson ended before any video arrived');
  const sid = p.sessionId;
  const dir = path.join(ctx.dir, 'recording');
  await mkdir(dir, { recursive: true });
  const slots = ledger.slots;
  const durationS = round3(slots.reduce((s, x) => s + x.parts[0].durationS, 0));
  const videoIdx = ledger.renditions.map((r, i) => (r.kind === 'video' ? i : -1)).filter((i) => i >= 0);
  if (!videoIdx.length) throw new PermanentJobError('the live lesson ended before any video arrived');
  const sizeOf = (i: number, run: number) => ledger.runs.find((r) => r.run === run)?.sizes[ledger.renditions[i].name];

  // Poster: 10 % in, from the largest rendition up to 720p (as recorded lessons).
  const posterIdx = videoIdx.find((i) => {
    const s = sizeOf(i, slots[0].run);
    return !!s && Math.min(s.width, s.height) <= 720;
  }) ?? videoIdx[0];
  const at = slotAt(slots, durationS * 0.1);
  const posterSeg = path.join(dir, 'poster-src.ts');
  await downloadTo(storage, bucket, liveSlotKey(sid, ledger.renditions[posterIdx].name, at.run, at.seq), posterSeg);
  const posterSize = sizeOf(posterIdx, at.run)!;
  const posterFile = path.join(dir, 'poster.jpg');
  // The keyframe opening that segment (an input seek inside a 2 s TS segment can land past its end).
  await runFfmpeg(buildPosterArgs({ input: posterSeg, atS: 0, width: posterSize.width, height: posterSize.height, output: posterFile }), { ffmpegPath: config.FFMPEG_PATH, signal: ctx.signal, log });

  // Storyboard: the smallest rendition; one segment per thumbnail interval on a continuous timeline.
  const sbIdx = videoIdx[videoIdx.length - 1];
  const sbSize = sizeOf(sbIdx, slots[0].run)!;
  const sb = planStoryboard(durationS, sbSize.width, sbSize.height, { gopSeconds: ledger.segmentSeconds });
  const chosen: { path: string; durationS: number }[] = [];
  for (let k = 0; k < sb.count; k++) {
    const t = k * sb.intervalS;
    const slot = slotAt(slots, t);
    const file = path.join(dir, `sb-${String(k).padStart(4, '0')}.ts`);
    await downloadTo(storage, bucket, liveSlotKey(sid, ledger.renditions[sbIdx].name, slot.run, slot.seq), file);
    chosen.push({ path: file, durationS: Math.max(0.04, Math.min(sb.intervalS, durationS - t)) });
  }
  const list = path.join(dir, 'storyboard.ffconcat');
  await writeFile(list, buildConcatList(chosen));
  const sbInput = path.join(dir, 'storyboard-src.ts');
  await runFfmpeg(buildConcatRemuxArgs({ list, output: sbInput }), { ffmpegPath: config.FFMPEG_PATH, signal: ctx.signal, log });
  const sbFile = path.join(dir, 'storyboard.jpg');
  await runFfmpeg(buildStoryboardArgs({ input: sbInput, plan: sb, output: sbFile }), { ffmpegPath: config.FFMPEG_PATH, signal: ctx.signal, log });
  const vtt = buildStoryboardVtt(sb, 'storyboard.jpg', durationS);

  // Playlists and master from the measured segments, checked against the real segments in storage.
  const media = ledger.renditions.map((_, i) => writeRecordingPlaylist(slots, i, { targetDurationS: ledger.targetDurationS }));
  const master = writeLiveMaster(ledger, { phase: 'recording' });
  const facts = await loadFacts(ctx);
  const check = validateLiveRecording(ledger, master, facts);
  if (check.violations.some((v) => v.rule === 'segment.missing' || v.rule === 'master.uri')) {
    log.error({ violations: check.violations }, 'recording segments missing from storage');
    throw new Error('some recorded segments could not be read from storage; retrying');
  }
  if (check.violations.length) log.error({ violations: check.violations }, 'live recording failed HLS validation');
  if (check.warnings.length) log.warn({ warnings: check.warnings }, 'live recording: relaxed rules not met');

  // Upload: media playlists (viewers still polling now see ENDLIST), images, master last.
  await Promise.all(ledger.renditions.map((r, i) => retry(() => storage.putBuffer(bucket, liveMediaPlaylistKey(sid, r.name), media[i], contentTypeOf('index.m3u8')))));
  await storage.putFile(bucket, livePosterKey(sid), posterFile, 'image/jpeg');
  await storage.putFile(bucket, liveStoryboardImageKey(sid), sbFile, 'image/jpeg');
  await storage.putBuffer(bucket, liveStoryboardVttKey(sid), vtt, contentTypeOf('storyboard.vtt'));
  await storage.putBuffer(bucket, liveMasterKey(sid), master, contentTypeOf('master.m3u8'));
  await removeOrphans(ctx);

  const variants = liveVariants(ledger, { phase: 'recording' });
  const renditions = ledger.renditions.map((r, i) => {
    const v = variants.find((x) => x.uri === `${r.name}/index.m3u8`);
    return {
      name: r.name,
      kind: r.kind,
      width: v?.resolution?.width ?? null,
      height: v?.resolution?.height ?? null,
      frameRate: v?.frameRate ?? null,
      bandwidth: v?.bandwidth ?? null,
      averageBandwidth: v?.averageBandwidth ?? null,
      codecs: r.codecs,
      playlistKey: liveMediaPlaylistKey(sid, r.name),
      segments: slots.length,
      bytes: slots.reduce((s, x) => s + x.parts[i].bytes, 0),
    };
  });
  const data = {
    durationS,
    renditions,
    masterKey: liveMasterKey(sid),
    posterKey: livePosterKey(sid),
    storyboardImageKey: liveStoryboardImageKey(sid),
    storyboardVttKey: liveStoryboardVttKey(sid),
    storyboard: { imageKey: liveStoryboardImageKey(sid), vttKey: liveStoryboardVttKey(sid), intervalS: sb.intervalS, columns: sb.columns, rows: sb.rows, thumbWidth: sb.thumbWidth, thumbHeight: sb.thumbHeight, count: sb.count },
    segments: slots.length,
    runs: ledger.runs.length,
    discontinuities: slots.filter((s) => s.discontinuity).length,
    validation: { violations: check.violations, relaxed: check.warnings },
  };
  log.info({ durationS, segments: slots.length, discontinuities: data.discontinuities, violations: check.violations.length }, 'live recording ready');
  return { kind: 'live', key: `live:${sid}`, subjectId: sid, ok: true, data };
}

/** The slot playing at `t` seconds into the recording. */
function slotAt(slots: readonly LiveSlot[], t: number): LiveSlot {
  let start = 0;
  for (const s of slots) {
    start += s.parts[0].durationS;
    if (t < start) return s;
  }
  return slots[slots.length - 1];
}

async function downloadTo(storage: ObjectStorage, bucket: string, key: string, file: string): Promise<void> {
  await writeFile(file, await retry(() => storage.getBuffer(bucket, key)));
}

/** Facts of every recorded segment, read back from storage (what players will get). */
async function loadFacts(ctx: Ctx): Promise<Record<string, SegmentFacts[]>> {
  const { ledger, storage, bucket } = ctx;
  const out: Record<string, SegmentFacts[]> = {};
  for (const r of ledger.renditions) {
    const list: SegmentFacts[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < ledger.slots.length) {
          const s = ledger.slots[next++];
          const uri = liveSegmentFile(s.run, s.seq);
          const bytes = await retry(() => storage.getBuffer(bucket, liveSlotKey(ledger.sessionId, r.name, s.run, s.seq))).catch(() => null);
          if (bytes) list[s.msn] = segmentFactsFromTs(uri, bytes);
        }
      }),
    );
    out[`${r.name}/index.m3u8`] = list.filter((x) => !!x);
  }
  return out;
}

/** Segments uploaded by a run that never made it into the ledger (a worker died in between). */
async function removeOrphans(ctx: Ctx): Promise<void> {
  const { ledger, storage, bucket } = ctx;
  const keep = new Set(ledger.slots.flatMap((s) => ledger.renditions.map((r) => liveSlotKey(ledger.sessionId, r.name, s.run, s.seq))));
  const prefix = livePrefix(ledger.sessionId);
  const orphans = (await storage.list(bucket, prefix)).map((o) => o.key).filter((k) => /\/r\d+-\d+\.ts$/.test(k) && !keep.has(k));
  for (const k of orphans) await storage.remove(bucket, k).catch(() => undefined);
  if (orphans.length) ctx.log.info({ orphans: orphans.length }, 'removed segments no playlist ever named');
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;
