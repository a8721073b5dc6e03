/**
 * What students get when a live session's transcoder dies (issue 11 item 1): the captured source.
 *
 * The transcoder beats after every slot it lists (the end of its newest slot, in Redis). When the
 * capture's newest slot ends more than `ladderStaleSegments` target durations after the transcoder's
 * (or no transcoder ever beat), the capture (ingest role) writes the source-only master, so new viewers
 * and players that reload the master get the source. Ahead of, not a timer: while a publisher is away
 * neither advances, and a transcoder that comes back with the publisher within a few seconds is not
 * taken for dead. A player that loaded the ladder's
 * master before keeps polling its rung playlists, which would stop growing; it would stall for good
 * (hls.js and native players wait on a live playlist that does not change; RFC 8216 6.3.4). So the
 * capture freezes that ladder generation: from then on the rung playlists of that generation are
 * the captured source, numbered on from the rung's last sequence number behind a discontinuity
 * (writeSubstitutePlaylist), and stay so for the rest of the session. A worker that takes the session
 * again writes its rungs under the next generation's names (`index-g1.m3u8`) and its ladder's master
 * lists those: a rung playlist URI never goes back in sequence numbers, which players cannot follow
 * (hls.js maps segments by sequence number). Players holding the frozen generation stay at source
 * quality until they load the master again (a page reload); new viewers get the ladder again.
 */
import { LiveLedgerStore } from '../infra/live-ledger.store.ts';
import { retry } from '../infra/retry.ts';
import { freezeLadder, writeLiveMaster, writeSubstitutePlaylist, type LadderFreeze } from '../media/live-playlists.ts';
import { captureRendition, contentTypeOf, liveMasterKey, liveMediaPlaylistKey } from '../media/storage-keys.ts';
import type { LiveSlot } from '../media/live-ledger.ts';
import type { LiveSessionContext } from './live-context.ts';

/** Target durations the capture may run ahead of the transcoder before its ladder counts as dead (a player holds about three: it may stall a few seconds rather than a slow transcoder be taken for dead). */
export const ladderStaleSegments = 5;
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
    const alive = st.beatEndMs !== null && endOf(ledger.slots[ledger.slots.length - 1]) - st.beatEndMs <= ladderStaleSegments * ledger.targetDurationS * 1000;
    if (!alive) {
      // a transcoder wrote this generation's rungs and stopped beating: freeze them (once)
      if (st.used === st.generation) {
        const transcoded = await new LiveLedgerStore(storage, p.sessionId).load();
        const f = transcoded && freezeLadder(transcoded, ledger.slots, st.generation);
        if (f && (await control.freezeLadder(st.generation, JSON.stringify(f)))) {
          log.warn({ generation: f.generation, lastMsn: f.lastMsn, fromSourceMsn: f.fromSourceMsn }, 'the transcoder stopped: students get the captured source until a worker takes the session again');
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
