import type { Redis } from 'ioredis';
import type { Config } from '../../config/config.schema.ts';
import { withWorkDir } from '../infra/ffmpeg.runner.ts';
import { LiveControl } from '../infra/live-control.ts';
import { LiveLedgerStore } from '../infra/live-ledger.store.ts';
import type { Logger } from '../infra/logger.ts';
import { settleWithin } from '../infra/settle-within.ts';
import type { ObjectStorage } from '../infra/storage.ts';
import { liveLadderSpec } from '../media/live-args.ts';
import { newLedger } from '../media/live-ledger.ts';
import { runCapture } from '../pipeline/live-capture.ts';
import type { LiveSessionContext } from '../pipeline/live-context.ts';
import { LadderFallback } from '../pipeline/live-ladder-fallback.ts';

/**
 * The ingest role's captures: one per live session whose publisher is on this ingest, started when
 * the catalog accepts the publish (src/services/live-ingest.service.ts), running until the session
 * ends. A capture that was running here before (ingest restart, publisher moved) continues the
 * session's capture ledger from storage.
 */
export class LiveCaptureService {
  private readonly running = new Map<string, Promise<void>>();
  /** The ingest is closing: no capture or run starts; the running ones end with their stream. */
  private readonly draining = new AbortController();
  /** Captures still running are cut (their ffmpeg signalled). */
  private readonly closing = new AbortController();

  constructor(private readonly o: { config: Config; storage: ObjectStorage; redis: Redis; log: Logger; pullUrl: (lessonId: string) => string }) {}

  /** Sessions this process captures now. */
  get sessions(): string[] {
    return [...this.running.keys()];
  }

  /** Captures the session unless this process already does. */
  ensure(s: { sessionId: string; lessonId: string; startedAt: number }): void {
    if (this.running.has(s.sessionId) || this.draining.signal.aborted) return;
    const done = this.capture(s)
      .catch((err) => this.o.log.error({ err, sessionId: s.sessionId, lessonId: s.lessonId }, 'live capture failed'))
      .finally(() => this.running.delete(s.sessionId));
    this.running.set(s.sessionId, done);
  }

  /** No capture and no run starts from now on; the running ffmpegs go on until their stream ends. */
  drain(): void {
    this.draining.abort();
  }

  /**
   * Stops every capture: each may end with its stream (the ingest ends the pulls first) within
   * `graceMs`, then what still runs is cut; what ffmpeg finished is uploaded either way.
   */
  async stop(graceMs = 0): Promise<void> {
    this.drain();
    const all = Promise.allSettled([...this.running.values()]);
    if (graceMs > 0) await settleWithin(all, graceMs);
    this.closing.abort();
    await all;
  }

  private async capture(s: { sessionId: string; lessonId: string; startedAt: number }): Promise<void> {
    const { config, storage, redis } = this.o;
    const log = this.o.log.child({ sessionId: s.sessionId, lessonId: s.lessonId });
    const control = new LiveControl(redis, config.QUEUE_PREFIX, s.sessionId, 'capture');
    await control.open();
    try {
      await withWorkDir(config.WORK_DIR, `capture-${s.sessionId}`, async (dir) => {
        const ledgerStore = new LiveLedgerStore(storage, s.sessionId, 'capture');
        const ladder = liveLadderSpec(config.LIVE_LADDER.split(','));
        const ledger = (await ledgerStore.load()) ?? newLedger({ sessionId: s.sessionId, lessonId: s.lessonId, segmentSeconds: ladder.segmentSeconds });
        const bucket = storage.mediaBucket;
        log.info({ slots: ledger.slots.length }, 'live capture started');
        const ctx: LiveSessionContext = { p: s, config, storage, bucket, log, control, pullUrl: this.o.pullUrl(s.lessonId), ladder, ledger, ledgerStore, masterAt: -1, dir, signal: this.closing.signal, draining: this.draining.signal };
        // the source-only master while no transcoder is alive, and the fallback of a dead one's rungs
        const fallback = new LadderFallback(ctx);
        ctx.afterSlot = () => fallback.afterSlot();
        // closing here, the session goes on: the ingest its publisher reconnects to continues the ledger
        if ((await runCapture(ctx)) === 'ended') await control.markCaptureEnded();
        log.info({ slots: ledger.slots.length }, 'live capture ended');
      }, log);
    } finally {
      await control.close();
    }
  }
}
