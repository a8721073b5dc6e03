/**
 * The run loop of a live session: while the catalog says the session is on air, run ONE ffmpeg that
 * pulls the lesson from the ingest through the live ladder into a local folder, while the segment
 * watcher (live-segment-watcher.ts) uploads what it finishes. A new epoch (publisher reconnect), an
 * ffmpeg exit while the session is not over, or a worker taking over a stalled job starts a new run.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { FfmpegError, probeVideoPackets, runFfmpeg, runFfprobe } from '../infra/ffmpeg.runner.ts';
import { scrubUrl, type Logger } from '../infra/logger.ts';
import type { Rendition, TranscodePlan, VideoRendition } from '../media/ffmpeg-args.ts';
import { buildLiveLadderArgs, buildLiveProbeArgs, planLiveRun, planSoundOnlyRun } from '../media/live-args.ts';
import type { LiveRunEntry } from '../media/live-ledger.ts';
import { capBandwidth } from '../media/live-playlists.ts';
import { rationalValue } from '../media/media-info.ts';
import { decidePassthrough, passthroughCaptureSeconds, passthroughSource, scanVideoPackets, withPassthrough } from '../media/passthrough.ts';
import { parseProbe, parseSoundOnly } from '../media/probe.ts';
import { PullStart } from '../media/source-time.ts';
import { rwTimeoutS, runStopper, RunTakenOverError, type LiveSessionContext } from './live-context.ts';
import { SegmentWatcher } from './live-segment-watcher.ts';

/** Media seconds captured to probe a run's source (the ingest sends its cached GOP at once); passthrough needs more. */
const probeSeconds = 0.5;
/** Segments ffmpeg keeps listed locally: the uploader may fall this far behind without losing any. */
const localListSize = 30;

type RunOutcome = 'stopped' | 'exited' | 'failed';

/**
 * Runs the session until the catalog ends it (or the key is gone). Runs that produce nothing back
 * off (0.5 s doubling to 5 s) unless a catalog change wakes the loop first.
 */
export async function runLiveSession(ctx: LiveSessionContext): Promise<void> {
  const end = await steerSession(ctx, async (epoch) => (await runOnce(ctx, epoch)) === 'stopped', 500);
  if (end === 'aborted') throw new Error('this worker is shutting down; another worker continues the live session');
}

/**
 * The steering both the transcoder's run loop and the ingest's capture share: while the catalog says
 * the session is on air, run one epoch at a time; wait out reconnects; an epoch that added no slot and
 * was not stopped on purpose backs off (backoffBaseMs doubling to 5 s) unless a catalog change comes.
 * `runEpoch` resolves true when its run was stopped on purpose (new epoch, end, closing).
 */
export async function steerSession(ctx: LiveSessionContext, runEpoch: (epoch: number) => Promise<boolean>, backoffBaseMs: number): Promise<'ended' | 'aborted'> {
  const { control, ledger } = ctx;
  // a draining capture lets its running ffmpeg finish but starts no run after it
  const signal = ctx.draining ? AbortSignal.any([ctx.signal, ctx.draining]) : ctx.signal;
  let idle = 0;
  while (!signal.aborted) {
    const c = await control.read();
    if (c.state === null || c.state === 'ended') return 'ended';
    if (c.state === 'reconnecting') {
      await control.waitForChange(2000, signal);
      continue;
    }
    const before = ledger.slots.length;
    const stopped = await runEpoch(c.epoch);
    idle = ledger.slots.length > before ? 0 : idle + 1;
    if (!stopped && idle && !signal.aborted) await control.waitForChange(Math.min(5000, backoffBaseMs * 2 ** (idle - 1)), signal);
  }
  return 'aborted';
}

/** One run: probe (or reuse the plan), one ffmpeg, the watcher that uploads finished slots. */
async function runOnce(ctx: LiveSessionContext, epoch: number): Promise<RunOutcome> {
  const { control, ledger, config } = ctx;
  const run = await control.claimRun();
  const log = ctx.log.child({ run, epoch });
  const runDir = path.join(ctx.dir, `run-${run}`);
  const ac = new AbortController();
  let stopReason: string | undefined;
  // The session ended: ffmpeg reads the end of the stream (the ingest ends the pull with the publish,
  // or its read times out) and ends itself, draining decoder and encoders (a signal would cut the
  // encoded renditions a few frames before a copied one).
  const stopper = runStopper(ac, (why) => {
    stopReason = why;
    log.info({ why }, 'stopping the live run');
  });
  const stopRun = stopper.stop;
  const watching = watchCatalog(ctx, epoch, ac.signal, stopRun);
  const onJobAbort = () => stopRun('worker closing');
  ctx.signal.addEventListener('abort', onJobAbort, { once: true });
  try {
    await mkdir(runDir, { recursive: true });
    const planned = await planRun(ctx, epoch, runDir, ac.signal, log);
    if (!planned || stopReason) return stopReason ? 'stopped' : 'failed';
    const { plan, passthrough } = planned;
    const entry: LiveRunEntry = {
      run,
      epoch,
      startedAtMs: Date.now(),
      sizes: Object.fromEntries(plan.renditions.filter((r): r is VideoRendition => r.kind === 'video').map((r) => [r.name, { width: r.width, height: r.height }])),
      frameRate: Math.round(rationalValue(plan.fps) * 1000) / 1000,
      plan,
      passthrough,
    };
    if (!ledger.renditions.length) {
      // A copied rendition's BANDWIDTH until measured: the source's own rate, not the rung's cap.
      const cap = (r: Rendition) => capBandwidth(r.kind === 'video' && r.name === plan.passthrough?.rendition ? { ...r, maxrateKbps: plan.passthrough.sourceKbps } : r);
      ledger.renditions = plan.renditions.map((r) => ({ name: r.name, kind: r.kind, codecs: null, capBps: cap(r) }));
    }
    ledger.runs.push(entry);
    for (const r of plan.renditions) await mkdir(path.join(runDir, r.name), { recursive: true });
    const args = buildLiveLadderArgs({ input: ctx.pullUrl, rwTimeoutS, outDir: runDir, plan, preset: config.LIVE_X264_PRESET, localListSize });
    log.info({ input: scrubUrl(ctx.pullUrl), renditions: plan.renditions.map((r) => (r.kind === 'video' ? `${r.name}:${r.width}x${r.height}` : r.name)), fps: entry.frameRate, copied: passthrough?.copied ?? null }, 'live run started');

    const pull = new PullStart();
    const watcher = new SegmentWatcher(ctx, run, runDir, plan.renditions.map((r) => r.name), log, stopRun, pull);
    watcher.start();
    let outcome: RunOutcome = 'exited';
    try {
      // No runner log: ffmpeg's own messages may quote the pull URL with its token; we log them scrubbed.
      const r = await runFfmpeg(args, { ffmpegPath: config.FFMPEG_PATH, signal: ac.signal, killGraceMs: 3000, onStderrLine: pull.feed });
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
    stopper.dispose();
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

/** Watches the catalog while the run lasts: a new epoch, the end or a closing worker stops it. */
export async function watchCatalog(ctx: LiveSessionContext, epoch: number, runSignal: AbortSignal, stopRun: (why: string) => void): Promise<void> {
  while (!runSignal.aborted) {
    if (ctx.signal.aborted) stopRun('worker closing');
    const c = await ctx.control.read().catch(() => undefined);
    if (c && (c.state === null || c.state === 'ended')) stopRun('session ended');
    else if (c && c.epoch !== epoch) stopRun('publisher reconnected');
    await ctx.control.waitForChange(1000, runSignal);
  }
}

/**
 * The run's transcode plan: the previous run's (runs that produced segments stay in the ledger) when
 * it pulled the same publisher connection (an ffmpeg restart or a failover needs no second probe),
 * else from a short capture of the stream, which also decides whether the top rung is the
 * publisher's picture copied (src/media/passthrough.ts).
 * Null when the stream could not be read (no publisher yet, ingest down): the caller retries.
 */
async function planRun(ctx: LiveSessionContext, epoch: number, runDir: string, signal: AbortSignal, log: Logger): Promise<{ plan: TranscodePlan; passthrough: LiveRunEntry['passthrough'] } | null> {
  const last = ctx.ledger.runs[ctx.ledger.runs.length - 1];
  if (last && last.epoch === epoch && isPlan(last.plan)) return { plan: last.plan, passthrough: last.passthrough ?? null };
  const capture = path.join(runDir, 'probe.flv');
  const enabled = ctx.config.LIVE_PASSTHROUGH;
  const seconds = enabled ? passthroughCaptureSeconds(ctx.ladder.segmentSeconds) : probeSeconds;
  try {
    await runFfmpeg(buildLiveProbeArgs({ input: ctx.pullUrl, rwTimeoutS, seconds, output: capture }), { ffmpegPath: ctx.config.FFMPEG_PATH, signal, killGraceMs: 1000 });
  } catch (err) {
    if (!signal.aborted) log.warn({ err }, 'could not read the live stream');
    return null;
  }
  // Both reads of the capture at once: the run starts one ffprobe sooner (the ladder is listed sooner).
  const [probe, packets] = await Promise.all([
    runFfprobe(ctx.config.FFPROBE_PATH, capture, { signal, timeoutMs: 20_000 }).catch(() => null),
    enabled ? probeVideoPackets(ctx.config.FFPROBE_PATH, capture, { signal, timeoutMs: 20_000 }).catch(() => null) : null,
  ]);
  await rm(capture, { force: true });
  if (!probe) return null;
  const outcome = parseProbe(probe);
  const fixed = ctx.ledger.renditions.map((r) => r.name);
  const sound = outcome.ok ? null : parseSoundOnly(probe);
  const soundOnly = sound && planSoundOnlyRun(sound, ctx.ladder, fixed);
  if (soundOnly) {
    ctx.sourceProblem = undefined;
    log.info({ source: null, audio: sound.codec }, 'live source probed: sound without picture');
    return { plan: soundOnly, passthrough: null };
  }
  if (!outcome.ok) {
    log.warn({ reason: outcome.failure.reason }, 'the live stream is not usable yet');
    ctx.sourceProblem = outcome.failure.reason;
    return null;
  }
  ctx.sourceProblem = undefined;
  const info = outcome.info;
  const plan = planLiveRun(info, ctx.ladder, fixed);
  const top = plan.renditions.find((r): r is VideoRendition => r.kind === 'video');
  const decision = top ? decidePassthrough(passthroughSource(info, scanVideoPackets(packets)), { top, outputFps: plan.fps, segmentSeconds: ctx.ladder.segmentSeconds, enabled }) : null;
  log.info({ source: `${info.video.codec} ${info.video.profile ?? ''} ${info.video.width}x${info.video.height}`, audio: info.audio?.codec ?? null, passthrough: decision }, 'live source probed');
  if (!decision) return { plan, passthrough: null };
  const passPlan = withPassthrough(plan, decision, info.video, info.audio);
  if (passPlan.passthrough?.soundCopied) log.info({ soundCopied: passPlan.passthrough.soundCopied, audio: `${info.audio?.codec} ${info.audio?.profile} ${info.audio?.sampleRate} Hz ${info.audio?.channels} ch ${info.audio?.bitRate} b/s` }, 'the publisher\'s sound is copied into these renditions');
  return { plan: passPlan, passthrough: { copied: decision.copied, refused: decision.refused } };
}

function isPlan(x: unknown): x is TranscodePlan {
  const p = x as Partial<TranscodePlan> | null;
  return !!p && Array.isArray(p.renditions) && p.renditions.length > 0 && typeof p.fps === 'object' && typeof p.gopFrames === 'number' && typeof p.video === 'object';
}
