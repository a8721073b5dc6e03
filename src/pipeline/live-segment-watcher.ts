import { watch, type FSWatcher } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../infra/logger.ts';
import { retry } from '../infra/retry.ts';
import { isUnavailableError } from '../infra/unavailable.ts';
import { contentTypeOf, liveMasterKey, liveMediaPlaylistKey, liveSlotKey } from '../media/storage-keys.ts';
import { appendSlot, mergeCodecs, nextSlot } from '../media/live-ledger.ts';
import { livePlaylistReady, readFfmpegLivePlaylist, readySlots, writeLiveMaster, writeLiveMediaPlaylist, type FfmpegLivePlaylist, type ReadySlots } from '../media/live-playlists.ts';
import { inspectTsSegment, measuredFrameRate } from '../media/ts-segment.ts';
import { segmentSourceMs, type PullStart } from '../media/source-time.ts';
import { RunTakenOverError, stallS, type LiveSessionContext } from './live-context.ts';
import { ladderMasterDue, transcoderBeat } from './live-ladder-fallback.ts';


/**
 * Takes the slots a run has finished, in order: wakes on file events in the rendition folders and
 * every 250 ms, reads ffmpeg's local playlists, and hands each position every rendition has finished
 * to `take`, which uploads the segments, records the slot in the ledger (fenced by the run number),
 * then rewrites each rendition's sliding window and, from time to time, the master. One pass at a time.
 */
export class SegmentWatcher {
  takenOver = false;
  failed = false;
  private nextSeq = 0;
  private runElapsedS = 0;
  private runStartPdtMs: number | null = null;
  private gap = false;
  private storageAway = false;
  private busy: Promise<void> = Promise.resolve();
  private queued = false;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastProgress = Date.now();
  private slotsThisRun = 0;

  constructor(
    private readonly ctx: LiveSessionContext,
    private readonly run: number,
    private readonly runDir: string,
    private readonly names: string[],
    private readonly log: Logger,
    private readonly stopRun: (why: string) => void,
    /** Where the run's pull started on the publisher's timeline (from ffmpeg's input dump): each slot's source time. */
    private readonly pull?: PullStart,
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
      // ffmpeg is producing: not a stall, even while storage refuses the uploads
      if (r.ready.length) this.lastProgress = Math.max(this.lastProgress, Date.now() - 1000);
      if (r.skipped) {
        this.gap = true;
        this.log.warn({ skipped: r.skipped }, 'segments left ffmpeg\'s list before they were uploaded');
      }
      // A run's first pass may find several finished slots at once: the ingest sends its cached GOPs
      // in a burst (a copied top rung cuts them at once). The last of them ended about now.
      if (this.runStartPdtMs === null && r.ready.length) this.runStartPdtMs = seenAt - Math.round(r.ready.reduce((t, x) => t + x.parts[0].durationS, 0) * 1000);
      for (const slot of r.ready) {
        await this.take(slot, seenAt);
        this.nextSeq = slot.seq + 1;
      }
      if (this.storageAway && r.ready.length) {
        this.storageAway = false;
        this.log.info({ nextSeq: this.nextSeq }, 'storage back: kept live segments uploaded');
      }
      if (r.nextSeq > this.nextSeq) this.nextSeq = r.nextSeq;
    } catch (err) {
      if (err instanceof RunTakenOverError) {
        this.takenOver = true;
        this.stopRun('another worker took the session over');
        return;
      }
      if (isUnavailableError(err)) {
        // storage is away: ffmpeg keeps writing segments here (its local list holds a minute); the next
        // passes upload them in order once storage is back, so the lesson loses nothing
        if (!this.storageAway) this.log.warn({ err }, 'storage unreachable: keeping live segments until it is back');
        this.storageAway = true;
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
    const srcMs = await this.sourceMs(files[0]);
    // Codecs of the real encode, from each run's first slot (the master's CODECS: every codec a
    // variant can use, so a publisher that comes back with sound it lacked before adds its codec).
    if (!this.slotsThisRun) {
      for (const [i, r] of ledger.renditions.entries()) {
        const facts = inspectTsSegment(await readFile(files[i]));
        r.codecs = mergeCodecs(r.codecs, [facts.video?.codecs, facts.audio?.codecs]);
        // a remuxed rendition (the capture) learns its picture size from the stream itself
        const run = ledger.runs.find((x) => x.run === this.run);
        if (run && !run.sizes[r.name] && facts.video?.width && facts.video.height) run.sizes[r.name] = { width: facts.video.width, height: facts.video.height };
        // ...and its frame rate (the master's FRAME-RATE on every video variant: REFERENCE.md)
        if (run && run.frameRate === null && r.kind === 'video' && facts.video) run.frameRate = measuredFrameRate(facts.video);
      }
    }
    // 1. Segments first: no playlist ever names a missing object (DESIGN "Storage layout").
    await Promise.all(files.map((f, i) => retry(() => storage.putFile(bucket, liveSlotKey(p.sessionId, this.names[i], this.run, slot.seq), f, 'video/mp2t'))));
    // The run's first segment ended when its last frame had just been captured (zero-latency encode,
    // segments appear the moment the next keyframe arrives): its start is that instant minus its length.
    // ffmpeg's own PROGRAM-DATE-TIME counts from its start, after the ingest's cached GOP: seconds late.
    this.runStartPdtMs ??= seenAt - Math.round(slot.parts[0].durationS * 1000);
    // 2. The ledger, fenced: a worker whose run is no longer the latest stops here.
    if (!(await ctx.control.isLatestRun(this.run))) throw new RunTakenOverError();
    // A slot taken again after storage came back (its ledger save or playlists failed) is not appended twice.
    if (!ledger.slots.some((s) => s.run === this.run && s.seq === slot.seq)) {
      const next = nextSlot(ledger, {
        run: this.run,
        seq: slot.seq,
        parts: slot.parts.map((part, i) => ({ durationS: part.durationS, bytes: sizes[i] })),
        runStartPdtMs: this.runStartPdtMs,
        runElapsedS: this.runElapsedS,
        gap: this.gap,
        srcMs,
      });
      const { raisedTarget } = appendSlot(ledger, next);
      if (raisedTarget) this.log.warn({ targetDurationS: ledger.targetDurationS }, 'a segment outgrew the target duration; target raised');
      this.gap = false;
      this.runElapsedS += slot.parts[0].durationS;
      this.slotsThisRun++;
    }
    await retry(() => ctx.ledgerStore.save(ledger));
    this.lastProgress = Date.now();
    // 3. Playlists: every rendition's window, then the master when due. Ready after three nominal
    // segments: a source whose keyframes are sparse (left on "auto", issue 11) makes the capture's
    // segments and target long, and three of those would keep students waiting half a minute.
    if (livePlaylistReady(ledger.slots, ledger.segmentSeconds)) {
      // the transcoder says it is alive and learns its ladder generation (the capture's is always 0)
      const generation = ctx.afterSlot ? 0 : await transcoderBeat(ctx);
      await Promise.all(
        ledger.renditions.map((r, i) =>
          retry(() => storage.putBuffer(bucket, liveMediaPlaylistKey(p.sessionId, r.name, generation), writeLiveMediaPlaylist(ledger.slots, i, { windowSegments: ctx.config.LIVE_WINDOW_SEGMENTS, targetDurationS: ledger.targetDurationS }), contentTypeOf('index.m3u8'))),
        ),
      );
      if (ctx.afterSlot) await ctx.afterSlot();
      else if (ladderMasterDue(ctx, this.slotsThisRun, generation)) {
        await retry(() => storage.putBuffer(bucket, liveMasterKey(p.sessionId), writeLiveMaster(ledger, { phase: 'live', generation }), contentTypeOf('master.m3u8')));
        ctx.masterAt = ledger.slots.length;
        ctx.masterGeneration = generation;
      }
    }
    await Promise.all(files.map((f) => rm(f, { force: true })));
  }

  /** A segment's start on the publisher's timeline: its first picture (else sound) from where the pull started. */
  private async sourceMs(file: string): Promise<number | null> {
    if (this.pull?.ms == null) return null;
    const facts = inspectTsSegment(await readFile(file));
    const first = facts.video?.firstPtsS ?? facts.audio?.firstPtsS;
    return first === undefined ? null : segmentSourceMs(this.pull.ms, first);
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
