/**
 * One publisher connection's timestamps made into one monotonic timeline (issue 11 item 5, an encoder
 * restarted within the lesson). OBS changing its settings, or a hardware encoder resetting, keeps the
 * RTMP connection and starts its FLV timestamps over (from 0, or from wherever its new clock is);
 * node-media-server relays them as received. Every puller of the ingest then reads timestamps that jump
 * back mid-stream, and ffmpeg makes a mess of it: the capture's remux squashes the repeated seconds into
 * a few ticks ("Non-monotonous DTS ... changing to"), the transcoder's fps filter and audio resampler
 * drop them, so those seconds are lost live and from the recording.
 *
 * The ingest maps each media message's timestamp here before it is relayed: a jump (back by more than
 * `jumpBackMs`, or ahead of the wall clock by more than `jumpAheadMs`) moves that track onto the
 * timeline where the previous stream ended, plus the wall-clock time the restart took. The other track
 * of the same restart takes the same shift (picture and sound stay in sync). Smaller steps back (an
 * encoder that repeats a timestamp) are nudged just past the track's last one. Pure: the caller gives
 * the wall clock.
 */

export type TrackKind = 'audio' | 'video';

/** A step back larger than this is a new timeline (a frame is 16-42 ms; sound's jitter tens of ms). */
export const jumpBackMs = 250;
/** Timestamps that run ahead of the wall clock by more than this in one step are a new timeline. */
export const jumpAheadMs = 5000;
/** The other track's jump within this distance (source timestamps) is the same restart. */
const sameRestartMs = 5000;
/** The longest pause of a restart kept on the timeline (a longer silence is not the encoder's). */
const maxPauseMs = 10_000;

interface Track {
  /** Last source dts and the dts relayed for it. */
  inDts: number;
  outDts: number;
  /** Last step between two of the track's messages, ms (a frame's length). */
  stepMs: number;
  atMs: number;
}

/** A restart seen on the timeline: where the source jumped from and to, and where it was placed. */
export interface TimelineJump {
  kind: TrackKind;
  fromDts: number;
  toDts: number;
  /** The relayed dts of the new timeline's first message. */
  placedAt: number;
}

export class PublisherTimeline {
  private readonly tracks: Partial<Record<TrackKind, Track>> = {};
  private readonly offset: Record<TrackKind, number> = { audio: 0, video: 0 };
  /** The last restart, until the other track has followed it. */
  private pending: { kind: TrackKind; inDts: number; offset: number } | null = null;
  private lastAtMs = 0;
  readonly jumps: TimelineJump[] = [];

  /**
   * The relayed timestamps of one media message. `config` marks codec configurations (the AVC or AAC
   * sequence header): placed on the timeline without moving it, as the restart's first frame decides.
   */
  map(kind: TrackKind, dts: number, pts: number, nowMs: number, config = false): { dts: number; pts: number; jump: TimelineJump | null } {
    const t = this.tracks[kind];
    if (config) {
      const out = t ? t.outDts : dts + this.offset[kind];
      return { dts: out, pts: out + (pts - dts), jump: null };
    }
    let jump: TimelineJump | null = null;
    if (t && this.isJump(t, dts, nowMs)) {
      this.offset[kind] = this.newOffset(kind, t, dts, nowMs);
      jump = { kind, fromDts: t.inDts, toDts: dts, placedAt: dts + this.offset[kind] };
      this.jumps.push(jump);
    } else if (!t) {
      // a track's first message joins the other track's timeline (it may have been moved already)
      const other = this.tracks[kind === 'audio' ? 'video' : 'audio'];
      if (other) this.offset[kind] = this.offset[kind === 'audio' ? 'video' : 'audio'];
    }
    let out = dts + this.offset[kind];
    // repeated or slightly earlier timestamps: just past the track's last one
    if (t && out <= t.outDts) out = t.outDts + 1;
    const stepMs = t && dts > t.inDts ? dts - t.inDts : t?.stepMs ?? 0;
    this.tracks[kind] = { inDts: dts, outDts: out, stepMs, atMs: nowMs };
    this.lastAtMs = nowMs;
    return { dts: out, pts: out + (pts - dts), jump };
  }

  private isJump(t: Track, dts: number, nowMs: number): boolean {
    if (dts < t.inDts - jumpBackMs) return true;
    return dts - t.inDts - Math.max(0, nowMs - t.atMs) > jumpAheadMs;
  }

  /** The offset that places a track's new timeline: the other track's if it already jumped, else after the end of both. */
  private newOffset(kind: TrackKind, t: Track, dts: number, nowMs: number): number {
    const p = this.pending;
    const step = Math.max(1, t.stepMs);
    if (p && p.kind !== kind && Math.abs(dts - p.inDts) <= sameRestartMs) {
      this.pending = null;
      // never before this track's last relayed message
      return Math.max(p.offset, t.outDts + step - dts);
    }
    const ends = (['audio', 'video'] as const).map((k) => this.tracks[k]?.outDts ?? -Infinity);
    const pause = Math.min(maxPauseMs, Math.max(step, nowMs - this.lastAtMs));
    const offset = Math.max(...ends) + pause - dts;
    this.pending = { kind, inDts: dts, offset };
    return offset;
  }
}
