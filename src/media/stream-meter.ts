/**
 * What the ingest sees of one publisher's stream, for the teacher's live panel: incoming bitrate,
 * frame rate and keyframe interval measured from the media messages themselves (OBS's own figures can
 * be wrong: "auto" keyframes, a dropped-frames encoder), and advice codes the page turns into Chinese.
 * Pure: fed by the ingest child with each accepted publisher's packets.
 */

/** Seconds of wall clock the bitrate and frame rate are averaged over. */
const WINDOW_MS = 5000;
/** Keyframe distances remembered (the interval shown is their median). */
const KEYFRAMES_KEPT = 6;

export interface StreamStats {
  /** media bytes per second over the last few seconds, in kb/s (audio + video) */
  bitrateKbps: number;
  videoKbps: number;
  /** video frames per second over the last few seconds */
  fps: number;
  /** median distance between keyframes, seconds (stream timestamps); null before two keyframes */
  keyframeIntervalS: number | null;
  hasVideo: boolean;
  hasAudio: boolean;
  /** wall-clock ms since the last media message */
  idleMs: number;
}

export class StreamMeter {
  private readonly samples: { at: number; bytes: number; video: boolean }[] = [];
  private lastKeyDts: number | undefined;
  private readonly keyGaps: number[] = [];
  private sawVideo = false;
  private sawAudio = false;
  private lastAt = 0;

  constructor(private readonly startedAt: number) {}

  /** One media message: audio or video, its size, its stream timestamp (ms), whether it is a keyframe. */
  feed(p: { video: boolean; bytes: number; dts: number; keyframe: boolean }, now: number): void {
    this.samples.push({ at: now, bytes: p.bytes, video: p.video });
    this.lastAt = now;
    if (p.video) this.sawVideo = true;
    else this.sawAudio = true;
    if (p.video && p.keyframe) {
      if (this.lastKeyDts !== undefined && p.dts > this.lastKeyDts) {
        this.keyGaps.push(p.dts - this.lastKeyDts);
        if (this.keyGaps.length > KEYFRAMES_KEPT) this.keyGaps.shift();
      }
      // a timestamp that jumps back (encoder restart) starts the distances over
      if (this.lastKeyDts !== undefined && p.dts < this.lastKeyDts) this.keyGaps.length = 0;
      this.lastKeyDts = p.dts;
    }
    this.prune(now);
  }

  snapshot(now: number): StreamStats {
    this.prune(now);
    const span = Math.max(1000, Math.min(WINDOW_MS, now - this.startedAt));
    let bytes = 0;
    let videoBytes = 0;
    let frames = 0;
    for (const s of this.samples) {
      bytes += s.bytes;
      if (s.video) {
        videoBytes += s.bytes;
        frames += 1;
      }
    }
    const gaps = [...this.keyGaps].sort((a, b) => a - b);
    const median = gaps.length ? gaps[Math.floor(gaps.length / 2)] : null;
    return {
      bitrateKbps: Math.round((bytes * 8) / span),
      videoKbps: Math.round((videoBytes * 8) / span),
      fps: Math.round((frames * 10_000) / span) / 10,
      keyframeIntervalS: median === null ? null : Math.round(median / 100) / 10,
      hasVideo: this.sawVideo,
      hasAudio: this.sawAudio,
      idleMs: this.lastAt ? now - this.lastAt : now - this.startedAt,
    };
  }

  private prune(now: number): void {
    while (this.samples.length && now - this.samples[0].at >= WINDOW_MS) this.samples.shift();
  }
}

export const streamAdviceCodes = ['keyframe_interval', 'bitrate_low', 'bitrate_high', 'fps_low', 'no_video', 'no_audio', 'stalled'] as const;
export type StreamAdvice = (typeof streamAdviceCodes)[number];

/**
 * What the teacher should change in OBS, as codes the page translates. Thresholds: live segments are
 * 2 s and every rendition cuts at the source's keyframes, so a keyframe interval above 2 s makes long,
 * uneven segments (REFERENCE: keyframe interval 2 s); below ~1 Mb/s a 720p picture of a blackboard
 * smears, above ~6 Mb/s a school uplink and the ingest carry more than the ladder can use.
 */
export function streamAdvice(s: StreamStats): StreamAdvice[] {
  const out: StreamAdvice[] = [];
  if (s.idleMs > 3000) out.push('stalled');
  if (!s.hasVideo) out.push('no_video');
  if (!s.hasAudio) out.push('no_audio');
  if (s.keyframeIntervalS !== null && (s.keyframeIntervalS > 2.2 || s.keyframeIntervalS < 0.9)) out.push('keyframe_interval');
  if (s.hasVideo && s.idleMs <= 3000) {
    if (s.videoKbps > 0 && s.videoKbps < 800) out.push('bitrate_low');
    if (s.bitrateKbps > 6000) out.push('bitrate_high');
    if (s.fps > 0 && s.fps < 20) out.push('fps_low');
  }
  return out;
}
