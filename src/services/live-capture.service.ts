import type { Redis } from 'ioredis';
import type { Config } from '../../config/config.schema.ts';
import { withWorkDir } from '../infra/ffmpeg.runner.ts';
import { LiveControl } from '../infra/live-control.ts';
import { LiveLedgerStore } from '../infra/live-ledger.store.ts';
import type { Logger } from '../infra/logger.ts';
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
  private readonly closing = new AbortController();

  constructor(private readonly o: { config: Config; storage: ObjectStorage; redis: Redis; log: Logger; pullUrl: (lessonId: string) => string }) {}

  /** Sessions this process captures now. */
  get sessions(): string[] {
    return [...this.running.keys()];
  }

  /** Captures the session unless this process already does. */
  ensure(s: { sessionId: string; lessonId: string; startedAt: number }): void {
    if (this.running.has(s.sessionId) || this.closing.signal.aborted) return;
    const done = this.capture(s)
      .catch((err) => this.o.log.error({ err, sessionId: s.sessionId, lessonId: s.lessonId }, 'live capture failed'))
      .finally(() => this.running.delete(s.sessionId));
    this.running.set(s.sessionId, done);
  }

  /** Stops every capture (what ffmpeg finished is still uploaded). */
  async stop(): Promise<void> {
    this.closing.abort();
    await Promise.allSettled([...this.running.values()]);
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
        const ctx: LiveSessionContext = { p: s, config, storage, bucket, log, control, pullUrl: this.o.pullUrl(s.lessonId), ladder, ledger, ledgerStore, masterAt: -1, dir, signal: this.closing.signal };
        // the source-only master while no transcoder is alive, and the fallback of a dead one's rungs
        const fallback = new LadderFallback(ctx);
        ctx.afterSlot = () => fallback.afterSlot();
        await runCapture(ctx);
        if (!this.closing.signal.aborted) await control.markCaptureEnded();
        log.info({ slots: ledger.slots.length }, 'live capture ended');
      }, log);
    } finally {
      await control.close();
    }
  }
}
