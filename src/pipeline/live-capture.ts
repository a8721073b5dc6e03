/**
 * The capture of one live session (issue 11 item 1, DESIGN "Capture before transcode"): from the
 * moment the ingest accepts a publisher, its stream is remuxed (no decode) into 2 s HLS segments of
 * the `source` rendition, uploaded with its own ledger (`ledger/capture/`) and sliding window, by the
 * ingest role whose capacity is not the transcoders'. Students get the source rendition live (the
 * capture writes a source-only master while no transcoder has one), and the recording can always be
 * made from it, however late a transcoder comes.
 *
 * The same machinery as the transcoder's run (segment watcher, ledger, playlists), one rendition,
 * `-c copy` instead of the ladder; its own run counter fences its own writers.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { FfmpegError, runFfmpeg } from '../infra/ffmpeg.runner.ts';
import { buildCaptureArgs } from '../media/live-args.ts';
import { PullStart } from '../media/source-time.ts';
import { captureRendition } from '../media/storage-keys.ts';
import { rwTimeoutS, runStopper, type LiveSessionContext } from './live-context.ts';
import { steerSession, watchCatalog } from './live-run.ts';
import { SegmentWatcher } from './live-segment-watcher.ts';

/** Segments ffmpeg keeps listed locally: the uploader may fall this far behind without losing any. */
const localListSize = 30;

/**
 * Captures the session until the catalog ends it ('ended') or the ingest closes ('aborted'); a pull
 * that yields nothing retries with backoff.
 */
export async function runCapture(ctx: LiveSessionContext): Promise<'ended' | 'aborted'> {
  return steerSession(ctx, (epoch) => captureRun(ctx, epoch), 250);
}

/** One pull of the publisher, remuxed; resolves true when stopped on purpose (new epoch, end, closing). */
async function captureRun(ctx: LiveSessionContext, epoch: number): Promise<boolean> {
  const { ledger } = ctx;
  const run = await ctx.control.claimRun();
  const log = ctx.log.child({ run, epoch, part: 'capture' });
  const runDir = path.join(ctx.dir, `capture-${run}`);
  const dir = path.join(runDir, captureRendition);
  const ac = new AbortController();
  let stopped = false;
  const stopper = runStopper(ac, (why) => {
    stopped = true;
    log.info({ why }, 'stopping the capture run');
  });
  const stopRun = stopper.stop;
  const catalog = watchCatalog(ctx, epoch, ac.signal, stopRun);
  const onClose = () => stopRun('ingest closing');
  ctx.signal.addEventListener('abort', onClose, { once: true });
  if (!ledger.renditions.length) ledger.renditions = [{ name: captureRendition, kind: 'video', codecs: null, capBps: 0 }];
  ledger.runs.push({ run, epoch, startedAtMs: Date.now(), sizes: {}, frameRate: null, plan: null });
  const pull = new PullStart();
  const watcher = new SegmentWatcher(ctx, run, runDir, [captureRendition], log, stopRun, pull);
  try {
    await mkdir(dir, { recursive: true });
    watcher.start();
    await runFfmpeg(buildCaptureArgs({ input: ctx.pullUrl, rwTimeoutS, dir, segmentSeconds: ctx.ledger.segmentSeconds, localListSize }), {
      ffmpegPath: ctx.config.FFMPEG_PATH, signal: ac.signal, killGraceMs: 3000, onStderrLine: pull.feed,
    });
  } catch (err) {
    if (!(err instanceof FfmpegError && err.aborted)) log.warn({ err }, 'capture ffmpeg failed');
  } finally {
    // the segment ffmpeg closed on its way out is uploaded too
    await watcher.finish();
    stopper.dispose();
    ctx.signal.removeEventListener('abort', onClose);
    ac.abort();
    await catalog;
    const last = ledger.runs[ledger.runs.length - 1];
    if (last?.run === run && ledger.slots[ledger.slots.length - 1]?.run !== run) ledger.runs.pop();
    if (!ledger.slots.length) ledger.renditions = [];
    await rm(runDir, { recursive: true, force: true }).catch(() => undefined);
  }
  return stopped && !watcher.failed && !watcher.takenOver;
}
