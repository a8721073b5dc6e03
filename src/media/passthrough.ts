/**
 * The passthrough top rung (issue 11 item 2): when the publisher's picture already is what the top
 * rung of the live ladder would be (H.264 8-bit 4:2:0 that every HLS client decodes, not larger than
 * the rung, not above its rate cap, at the ladder's frame rate, regular keyframes at most one segment
 * target apart), the top rung is the publisher's own video stream copied, and only the lower rungs and
 * the audio-only rendition are encoded, keyed at the publisher's keyframes so every rendition cuts its
 * segments at the same instants. Otherwise the top rung is encoded as before.
 *
 * The sound plays no part in the decision. When the picture is copied and the publisher's sound
 * already is the ladder's format (AAC-LC at the ladder's sample rate and channels), it is copied too
 * into the copied rendition and into every rendition whose configured sound rate it does not exceed
 * (soundCopies); the other renditions' sound is encoded as before (silence when the publisher sends
 * none). Four AAC encodes were a tenth of a passthrough ladder's CPU.
 *
 * Pure: the facts come from the probe of the pulled stream (ffprobe's stream description and the
 * video packets of a short capture); the decision and every reason against copying are returned so
 * that the run logs them and the ledger records them.
 */
import { z } from 'zod';
import type { AudioSettings } from '../../config/ladder.ts';
import type { Rendition, TranscodePlan, VideoRendition } from './ffmpeg-args.ts';
import { rationalValue, type AudioStreamInfo, type MediaInfo, type Rational } from './media-info.ts';

/** What the probe measured of the pulled stream's picture. */
export interface PassthroughSource {
  codec: string;
  /** ffprobe's profile name ("High", "Constrained Baseline", "High 10"...). */
  profile: string | null;
  /** H.264 level_idc (31 = level 3.1); null when unknown. */
  level: number | null;
  pixFmt: string | null;
  /** Coded size (what a copy keeps). */
  width: number;
  height: number;
  /** Pixels are square (sample aspect ratio 1:1): a copy shows what our scaler would. */
  squarePixels: boolean;
  rotation: number;
  interlaced: boolean;
  hdr: boolean;
  /** Nominal frame rate (ffprobe r_frame_rate), null when unknown. */
  fps: Rational | null;
  vfr: boolean;
  /** Video bit rate over the capture, kb/s (null: nothing measured). */
  videoKbps: number | null;
  /** Keyframe times in the capture, seconds from its first video packet. */
  keyframesS: number[];
  /** Media seconds the capture covers (first video packet to the end of the last one). */
  windowS: number;
}

/** Why the top rung is encoded rather than copied (codes for logs, the ledger and tests). */
export const passthroughRefusals = [
  'disabled',
  'codec',
  'profile',
  'level',
  'pixel_format',
  'pixels_not_square',
  'rotated',
  'interlaced',
  'hdr',
  'too_large',
  'frame_rate',
  'bitrate',
  'keyframes_unmeasured',
  'keyframes_sparse',
  'keyframes_dense',
  'keyframes_irregular',
] as const;
export type PassthroughRefusal = (typeof passthroughRefusals)[number];

export interface PassthroughDecision {
  /** The rendition served as the publisher's stream copied, or null (every rung encoded). */
  copied: string | null;
  /** Every reason against copying (empty when copied). */
  refused: PassthroughRefusal[];
  /** The publisher's keyframe period, seconds (a whole number of its frames), when regular. */
  keyframePeriodS: number | null;
  videoKbps: number | null;
}

/** What a copy must fit. */
export interface PassthroughLimits {
  /** The top rendition the plan would encode (sized to fit its box, never upscaled). */
  top: VideoRendition;
  /** The run's planned output rate (chooseOutputFps): a copy keeps the source's, so they must agree. */
  outputFps: Rational;
  /** EXT-X-TARGETDURATION: the longest segment, and so the widest keyframe spacing allowed. */
  segmentSeconds: number;
  enabled: boolean;
}

/**
 * Media seconds a run captures to decide: three keyframes at a period of one target duration (the
 * ingest sends its cached GOP at once, so this takes one to two targets of wall time).
 */
export function passthroughCaptureSeconds(segmentSeconds: number): number {
  return 2 * segmentSeconds + 0.25;
}

/** H.264 profiles every HLS client decodes (Apple HLS authoring: up to High, 8-bit 4:2:0). */
const decodableProfiles = new Set(['Constrained Baseline', 'Baseline', 'Main', 'High']);
/** Apple HLS authoring: H.264 at level 4.2 at most. */
const maxLevel = 42;
/** A capture a few hundred ms long measures a constant-rate encoder up to ~10 % above its set rate. */
const rateSlack = 1.1;
/** Shorter keyframe spacing would make segments shorter than half the target (many tiny requests). */
const minPeriodShare = 0.5;

/**
 * Decides whether the run copies the publisher's picture as its top rung. Keyframes: at least two
 * spacings seen in the capture, all equal within a frame (every rendition cuts at every keyframe, and
 * the audio-only rendition, which has no keyframes, cuts every period: they only agree when the
 * spacing is regular), at most one target duration plus a frame (the nothing-seen tail of the capture
 * counts as a spacing at least that long) and at least half a target.
 */
export function decidePassthrough(src: PassthroughSource, limits: PassthroughLimits): PassthroughDecision {
  const refused: PassthroughRefusal[] = [];
  if (!limits.enabled) refused.push('disabled');
  if (src.codec !== 'h264') refused.push('codec');
  if (!src.profile || !decodableProfiles.has(src.profile)) refused.push('profile');
  if (src.level === null || src.level > maxLevel) refused.push('level');
  if (src.pixFmt !== 'yuv420p') refused.push('pixel_format');
  if (!src.squarePixels) refused.push('pixels_not_square');
  if (src.rotation !== 0) refused.push('rotated');
  if (src.interlaced) refused.push('interlaced');
  if (src.hdr) refused.push('hdr');
  // The planned top rung is the source's own size unless the rung's box made it smaller.
  const top = limits.top;
  if (top.width < src.width - 1 || top.height < src.height - 1) refused.push('too_large');
  const fps = src.fps ? rationalValue(src.fps) : 0;
  const out = rationalValue(limits.outputFps);
  if (!fps || src.vfr || Math.abs(fps - out) / out > 0.001) refused.push('frame_rate');
  if (src.videoKbps === null || src.videoKbps > top.maxrateKbps * rateSlack) refused.push('bitrate');

  const frame = 1 / (fps || 30);
  const slack = frame + 0.002;
  const keys = [...src.keyframesS].sort((a, b) => a - b);
  const gaps = keys.slice(1).map((k, i) => k - keys[i]);
  const tail = keys.length ? src.windowS - keys[keys.length - 1] : src.windowS;
  let period: number | null = null;
  if (Math.max(tail, ...gaps) > limits.segmentSeconds + slack) refused.push('keyframes_sparse');
  else if (gaps.length < 2) refused.push('keyframes_unmeasured');
  else if (Math.max(...gaps) - Math.min(...gaps) > slack) refused.push('keyframes_irregular');
  else {
    const median = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)];
    if (median < limits.segmentSeconds * minPeriodShare - slack) refused.push('keyframes_dense');
    // A whole number of frames at the nominal rate: the audio-only rendition cuts every period for
    // the whole lesson, so a period rounded to the millisecond would drift off the keyframes.
    else period = fps ? Math.round(median * fps) / fps : median;
  }
  const ok = refused.length === 0;
  return { copied: ok ? top.name : null, refused, keyframePeriodS: ok ? round6(period!) : null, videoKbps: src.videoKbps };
}

/** What the probe says of the publisher's sound (ffprobe's stream description). */
export type SourceSound = Pick<AudioStreamInfo, 'codec' | 'profile' | 'sampleRate' | 'channels' | 'bitRate'>;

/** REFERENCE: stereo AAC between 32 and 160 kb/s. */
const soundKbpsRange = [32, 160] as const;

/**
 * The renditions that carry the publisher's sound copied rather than encoded: none unless it is
 * AAC-LC at the ladder's sample rate and channels with a stated rate REFERENCE allows (anything else,
 * 44.1 kHz, mono, HE-AAC, is encoded as before, so every variant keeps one sound format). Then the
 * copied picture's rendition (the publisher's stream as it came), and every other rendition whose
 * configured sound rate the source's does not exceed (10 % slack, as for the picture's rate): a
 * copy spends no more bits than configured and loses nothing to a second encode.
 */
export function soundCopies(sound: SourceSound | null, renditions: readonly Rendition[], copied: string, settings: AudioSettings): string[] {
  if (!sound || sound.codec !== 'aac' || sound.profile !== 'LC') return [];
  if (sound.sampleRate !== settings.sampleRate || sound.channels !== settings.channels || !sound.bitRate) return [];
  const kbps = sound.bitRate / 1000;
  // FLV states kb/s and ffmpeg reads them as 1024 b/s: OBS's 160 kb/s is probed as 163.84.
  if (kbps < soundKbpsRange[0] || kbps > soundKbpsRange[1] * rateSlack) return [];
  return renditions.filter((r) => r.name === copied || kbps <= r.audioKbps * rateSlack).map((r) => r.name);
}

/**
 * The run's plan after the decision: when copied, the top rendition takes the source's exact size
 * (RESOLUTION is what the copy carries) and the plan names it, with the keyframe period the other
 * renditions are cut at and the renditions that copy the source's sound (`sound`: the probe's
 * description of it; none given, every rendition's sound is encoded).
 */
export function withPassthrough(plan: TranscodePlan, d: PassthroughDecision, source: { width: number; height: number; colorSpace?: string | null }, sound: SourceSound | null = null): TranscodePlan {
  if (!d.copied || d.keyframePeriodS === null || d.videoKbps === null) return { ...plan, passthrough: null };
  const name = d.copied;
  // Untagged HD is BT.709 to players (and to our copy of it); SD or otherwise tagged pictures are converted.
  const untagged = !source.colorSpace || source.colorSpace === 'unknown';
  const bt709 = source.colorSpace === 'bt709' || (untagged && Math.min(source.width, source.height) >= 720);
  const soundCopied = plan.audio && !plan.soundless ? soundCopies(sound, plan.renditions, name, plan.audioSettings) : [];
  return {
    ...plan,
    renditions: plan.renditions.map((r) => (r.kind === 'video' && r.name === name ? { ...r, width: source.width, height: source.height } : r)),
    passthrough: { rendition: name, keyframePeriodS: d.keyframePeriodS, sourceKbps: d.videoKbps, bt709, ...(soundCopied.length ? { soundCopied } : {}) },
  };
}

/** The video packets of a capture as ffprobe lists them (`-show_entries stream=level:packet=pts_time,dts_time,flags,size`). */
const packetsSchema = z.looseObject({
  streams: z.array(z.looseObject({ level: z.union([z.number(), z.string()]).optional() })).optional(),
  packets: z.array(z.looseObject({ pts_time: z.string().optional(), dts_time: z.string().optional(), flags: z.string().optional(), size: z.union([z.number(), z.string()]).optional() })).optional(),
});

export interface VideoPacketScan {
  level: number | null;
  keyframesS: number[];
  windowS: number;
  videoKbps: number | null;
}

/** Keyframe times, covered span and bit rate of the video packets of a capture (ffprobe JSON). */
export function scanVideoPackets(json: unknown): VideoPacketScan {
  const parsed = packetsSchema.safeParse(json ?? {});
  const data = parsed.success ? parsed.data : {};
  const lv = Number(data.streams?.[0]?.level);
  const level = Number.isFinite(lv) && lv > 0 ? lv : null;
  const packets = (data.packets ?? [])
    .map((p) => ({ t: Number(p.pts_time ?? p.dts_time), key: (p.flags ?? '').includes('K'), bytes: Number(p.size ?? 0) }))
    .filter((p) => Number.isFinite(p.t))
    .sort((a, b) => a.t - b.t);
  if (!packets.length) return { level, keyframesS: [], windowS: 0, videoKbps: null };
  const t0 = packets[0].t;
  // The last packet lasts one frame: the median spacing of the packets.
  const steps = packets.slice(1).map((p, i) => p.t - packets[i].t).filter((d) => d > 0).sort((a, b) => a - b);
  const frame = steps.length ? steps[Math.floor(steps.length / 2)] : 0;
  const windowS = packets[packets.length - 1].t - t0 + frame;
  const bytes = packets.reduce((s, p) => s + (Number.isFinite(p.bytes) ? p.bytes : 0), 0);
  return {
    level,
    keyframesS: packets.filter((p) => p.key).map((p) => round6(p.t - t0)),
    windowS: round6(windowS),
    videoKbps: windowS > 0.5 ? Math.round((bytes * 8) / windowS / 1000) : null,
  };
}

/** The decision's input from the probe's description of the stream and the scan of its packets. */
export function passthroughSource(info: MediaInfo, scan: VideoPacketScan): PassthroughSource {
  const v = info.video;
  return {
    codec: v.codec,
    profile: v.profile,
    level: scan.level,
    pixFmt: v.pixFmt,
    width: v.width,
    height: v.height,
    squarePixels: Math.abs(rationalValue(v.sar) - 1) < 1e-3,
    rotation: v.rotation,
    interlaced: v.interlaced,
    hdr: v.hdr !== null,
    fps: v.rFrameRate,
    vfr: v.vfr,
    videoKbps: scan.videoKbps,
    keyframesS: scan.keyframesS,
    windowS: scan.windowS,
  };
}

const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;
