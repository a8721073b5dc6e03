/**
 * What students get when a live session's transcoder dies (issue 11 item 1): the captured source.
 *
 * The transcoder beats after every slot it lists (the end of its newest slot, in Redis). The capture
 * (ingest role) compares it with its own newest slot: ahead by, not a timer, so while a publisher is
 * away neither advances and a transcoder that comes back with the publisher is not taken for dead.
 *
 * 1. Ahead by more than `ladderStaleSegments` target durations (or no transcoder ever beat): the capture
 *    writes the source-only master, so new viewers and players that reload the master get the source.
 *    A transcoder that beats again takes the master back on its first slots (nothing sticks).
 * 2. Ahead by more than `ladderFreezeSegments`: the transcoder is not coming back soon (a standby worker
 *    takes a SIGKILLed one's session over within about 12 s: lock 6 s, stall check 2 s, restart). A
 *    player that loaded the ladder's master keeps polling its rung playlists, which no longer grow; it
 *    would wait for good (hls.js and native players keep reloading a live playlist that does not change;
 *    RFC 8216 6.3.4). So the capture freezes that ladder generation: from then on, for the rest of the
 *    session, its rung playlists are the captured source, numbered on from the rung's last sequence
 *    number behind a discontinuity (writeSubstitutePlaylist). A worker that takes the session again
 *    writes its rungs under the next generation's names (`index-g1.m3u8`) and its master lists those:
 *    the sequence numbers behind one playlist URI never go back, which players cannot follow (hls.js
 *    maps segments by sequence number). Players holding the frozen generation stay at source quality
 *    until they load the master again (a page reload); new viewers get the ladder again.
 *
 * Decided here: a player stalls at most about `ladderFreezeSegments` target durations minus its buffer
 * (about 18 s) when no worker comes back, rather than every short failover sending all its viewers to
 * the source (a heavier stream than a weak link may carry) for the rest of the lesson.
 */
import { LiveLedgerStore } from '../infra/live-ledger.store.ts';
import { retry } from '../infra/retry.ts';
import { freezeLadder, writeLiveMaster, writeSubstitutePlaylist, type LadderFreeze } from '../media/live-playlists.ts';
import { captureRendition, contentTypeOf, liveMasterKey, liveMediaPlaylistKey } from '../media/storage-keys.ts';
import type { LiveSlot } from '../media/live-ledger.ts';
import type { LiveSessionContext } from './live-context.ts';

/** Target durations the capture may run ahead of the transcoder before new viewers get the source-only master (a player holds about three). */
export const ladderStaleSegments = 5;
/** Target durations ahead after which the transcoder's ladder generation is frozen and served from the source (longer than a failover). */
export const ladderFreezeSegments = 12;
/** The live master is rewritten with measured rates this often (slots), and whenever a run starts. */
const masterEverySlots = 15;

/** The transcoder's beat after a slot: alive for a while longer; returns the ladder generation to write. */
export function transcoderBeat(ctx: LiveSessionContext): Promise<number> {
  return ctx.control.ladderBeat(endOf(ctx.ledger.slots[ctx.ledger.slots.length - 1]));
}

const endOf = (s: LiveSlot | undefined): number => (s ? s.pdtMs + Math.round(s.parts[0].durationS * 1000) : 0);

/**
 * Whether the transcoder writes its ladder's master now: its first one, the first slots of every run
 * (it takes the master back from the capture's source-only one), a new generation, or fresh rates.
 */
export function ladderMasterDue(ctx: LiveSessionContext, slotsThisRun: number, generation: number): boolean {
  return ctx.masterAt < 0 || slotsThisRun <= 2 || generation !== ctx.masterGeneration || ctx.ledger.slots.length - ctx.masterAt >= masterEverySlots;
}

/** The capture's side: source-only master while no transcoder beats, frozen generations served from the source. */
export class LadderFallback {
  private freezes: LadderFreeze[] = [];
  private freezesOf = -1;
  private sourceMasterAt = -1;

  constructor(private readonly ctx: LiveSessionContext) {}

  /** After each captured slot's playlists are up. */
  async afterSlot(): Promise<void> {
    const { ctx } = this;
    const { control, ledger, storage, bucket, p, log } = ctx;
    const st = await control.ladderState();
    if (st.generation !== this.freezesOf) {
      this.freezes = (await control.ladderFreezes(st.generation)).map((x) => JSON.parse(x) as LadderFreeze);
      this.freezesOf = st.generation;
    }
    const aheadMs = st.beatEndMs === null ? Infinity : endOf(ledger.slots[ledger.slots.length - 1]) - st.beatEndMs;
    const targetMs = ledger.targetDurationS * 1000;
    if (aheadMs > ladderStaleSegments * targetMs) {
      // a transcoder wrote this generation's rungs and is not coming back soon: freeze them (once)
      if (st.used === st.generation && aheadMs > ladderFreezeSegments * targetMs) {
        const transcoded = await new LiveLedgerStore(storage, p.sessionId).load();
        const f = transcoded && freezeLadder(transcoded, ledger, st.generation);
        if (f && (await control.freezeLadder(st.generation, JSON.stringify(f)))) {
          log.warn({ generation: f.generation, lastMsn: f.lastMsn, fromSourceMsn: f.fromSourceMsn, alignedOn: f.alignedOn, seamMs: f.seamMs }, 'the transcoder stopped: students get the captured source until a worker takes the session again');
          this.freezes.push(f);
          this.freezesOf = st.generation + 1;
        }
      }
      if (this.sourceMasterAt < 0 || ledger.slots.length - this.sourceMasterAt >= masterEverySlots) {
        await retry(() => storage.putBuffer(bucket, liveMasterKey(p.sessionId), writeLiveMaster(ledger, { phase: 'live' }), contentTypeOf('master.m3u8')));
        this.sourceMasterAt = ledger.slots.length;
      }
    } else this.sourceMasterAt = -1;
    if (!this.freezes.length) return;
    // never after the session ended: the recording writes its playlists under generation 0's names
    const c = await control.read();
    if (c.state !== 'on_air' && c.state !== 'reconnecting') return;
    const o = { sourceFolder: captureRendition, windowSegments: ctx.config.LIVE_WINDOW_SEGMENTS, targetDurationS: ledger.targetDurationS };
    await Promise.all(this.freezes.flatMap((f) => {
      const text = writeSubstitutePlaylist(ledger.slots, f, o);
      return text ? f.rungs.map((name) => retry(() => storage.putBuffer(bucket, liveMediaPlaylistKey(p.sessionId, name, f.generation), text, contentTypeOf('index.m3u8')))) : [];
    }));
  }
}
