import type { Config } from '../config/config.schema.ts';
import { withWorkDir } from '../src/infra/ffmpeg.runner.ts';
import { LiveControl } from '../src/infra/live-control.ts';
import { LiveLedgerStore } from '../src/infra/live-ledger.store.ts';
import { liveJobSchema, liveWorkerLock, type LiveJob } from '../src/jobs/live.job.ts';
import { parseJobPayload } from '../src/jobs/permanent-error.ts';
import { liveLadderSpec } from '../src/media/live-args.ts';
import { newLedger } from '../src/media/live-ledger.ts';
import { recordSession } from '../src/pipeline/live-capture-recording.ts';
import { runLiveSession } from '../src/pipeline/live-run.ts';
import { rwTimeoutS, type LiveSessionContext } from '../src/pipeline/live-context.ts';
import type { JobHandler } from './handler-types.ts';
import type { HandlerEntry } from './worker.ts';

/** How long the recording waits for the capture's last segment (its ffmpeg ends within the read timeout). */
const captureEndWaitMs = (rwTimeoutS + 10) * 1000;

/**
 * The `live` job (src/jobs/live.job.ts): one per live session, running for the whole session.
 *
 * Steps: load the session's ledger from storage (a worker taking a stalled session over continues
 * it); the run loop (src/pipeline/live-run.ts) pulls the lesson through the live ladder while the
 * catalog says it is on air, its segment watcher uploading segments, ledger and playlists; when the
 * session ends, the recording (src/pipeline/live-recording.ts) is made and returned as a `live` result;
 * when the transcoder's segments miss part of what the ingest captured, the missing stretches are
 * refilled from the capture, or the whole capture is handed back for a VOD transcode
 * (src/pipeline/live-capture-recording.ts).
 * Idempotent: every key is derived from the session, run numbers only grow, and finishing twice
 * writes the same objects.
 */
export const liveHandler: JobHandler<LiveJob> = async (job, deps, signal) => {
  const p = parseJobPayload(liveJobSchema, job.data, 'live');
  if (!deps.redis || !deps.livePullUrl) throw new Error('live jobs need Redis and the ingest pull URL (worker role)');
  const { config, storage } = deps;
  const log = deps.log.child({ sessionId: p.sessionId, lessonId: p.lessonId, jobId: job.id });
  const ladder = liveLadderSpec(config.LIVE_LADDER.split(','));
  const control = new LiveControl(deps.redis, config.QUEUE_PREFIX, p.sessionId);
  const pullUrl = deps.livePullUrl(p.lessonId);
  // the session holds one of this worker's live slots, advertised in its heartbeat, until the job leaves
  const slot = deps.liveSlots?.take(p);
  await control.open();
  try {
    return await withWorkDir(
      config.WORK_DIR,
      `live-${p.sessionId}`,
      async (dir) => {
        const ledgerStore = new LiveLedgerStore(storage, p.sessionId);
        const loaded = await ledgerStore.load();
        const ledger = loaded ?? newLedger({ sessionId: p.sessionId, lessonId: p.lessonId, segmentSeconds: ladder.segmentSeconds });
        if (loaded) log.info({ slots: ledger.slots.length, runs: ledger.runs.length }, 'live session continued from its ledger');
        const ctx: LiveSessionContext = { p, config, storage, bucket: storage.mediaBucket, log, control, pullUrl, ladder, ledger, ledgerStore, masterAt: -1, dir, signal };
        const slotsBefore = ledger.slots.length;
        slot?.watch(() => (ctx.sourceProblem ? { state: 'source_unusable', problem: ctx.sourceProblem } : { state: ledger.slots.length > slotsBefore ? 'transcoding' : 'starting' }));
        await runLiveSession(ctx);
        // the ingest captured every second; the transcoder may have missed some (busy, late, killed)
        if (!(await control.waitCaptureEnded(captureEndWaitMs, signal))) log.warn('the capture did not report its end; recording from what it uploaded');
        const captured = await new LiveLedgerStore(storage, p.sessionId, 'capture').load();
        return await recordSession(ctx, captured);
      },
      log,
    );
  } finally {
    slot?.release();
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
