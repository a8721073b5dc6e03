/**
 * Keeps a rendition's peak bit rate within twice its average (REFERENCE.md, Apple HLS authoring:
 * "peak at most 2x average"). Capped CRF makes lessons bimodal (near-free static slides, capped motion),
 * so a lesson that is mostly slides with a burst of video can break the rule. Two remedies, both
 * planned here from measured segments:
 *  1. re-encode the rendition with a lower cap, found by modelling each segment's rate clipped at it;
 *  2. as a last resort (audio-only, or a re-encode that still misses), MPEG-TS null packets appended
 *     to the lightest segments, as CBR cable muxes do: players skip them, the average rises.
 */
import type { TranscodePlan, VideoRendition } from './ffmpeg-args.ts';
import { freeBox } from './fmp4-boxes.ts';
import { measureBandwidth, targetDurationFor, type SegmentMeasure } from './hls-playlists.ts';

/** Peak/average ratio a rendition is brought under (REFERENCE: at most 2x; margin for the measurement). */
export const maxPeakRatio = 1.9;
/** Lowered caps never go under this share of the rung's cap: motion keeps a watchable quality, stuffing does the rest. */
const minCapShare = 0.5;

/** A rendition as encoded: its plan entry and its measured segments. */
export interface MeasuredRendition {
  name: string;
  rendition: TranscodePlan['renditions'][number];
  segments: readonly SegmentMeasure[];
}

/**
 * Video renditions whose peak exceeds the ratio, with a lower cap (not under half the rung's) that
 * should bring them under it or at least cut the padding the rest needs, and the plan to re-encode
 * them with.
 */
export function lowerCaps(plan: TranscodePlan, outputs: readonly MeasuredRendition[]): { names: string[]; caps: Record<string, number>; plan: TranscodePlan } {
  const caps: Record<string, number> = {};
  for (const o of outputs) {
    if (o.rendition.kind !== 'video') continue;
    const measures = o.segments.map((s) => ({ durationS: s.durationS, bytes: s.bytes }));
    const target = targetDurationFor(measures.map((m) => m.durationS));
    if (peakToAverage(measures, target) <= maxPeakRatio) continue;
    const cap = capForPeakRatio(measures, target, 1.7);
    const r: VideoRendition = o.rendition;
    if (cap === null) continue;
    // The cap covers the whole mux: leave room for the audio and ~8 % TS overhead.
    const toVideoKbps = (bps: number) => (bps / 1000) * 0.92 - r.audioKbps;
    const videoKbps = Math.max(Math.ceil(r.maxrateKbps * minCapShare), Math.floor(toVideoKbps(cap)));
    const peakVideoKbps = toVideoKbps(measureBandwidth(measures, target).peakBps);
    if (videoKbps < r.maxrateKbps && peakVideoKbps > videoKbps * 1.05) caps[o.name] = videoKbps;
  }
  const names = Object.keys(caps);
  return {
    names,
    caps,
    plan: {
      ...plan,
      // A one-second VBV buffer holds the lowered cap over every segment.
      renditions: plan.renditions.map((r) => (r.kind === 'video' && caps[r.name] ? { ...r, maxrateKbps: caps[r.name], bufsizeKbps: caps[r.name] } : r)),
    },
  };
}

/** Peak over average of measured segments (1 for an empty or silent rendition). */
export function peakToAverage(segments: readonly SegmentMeasure[], targetDurationS: number): number {
  const m = measureBandwidth(segments, targetDurationS);
  return m.averageBps > 0 ? m.peakBps / m.averageBps : 1;
}

/**
 * The highest rate cap (b/s, whole segment: video + audio + TS overhead) at which the segments, each
 * clipped to the cap, would meet peak <= maxRatio x average; null when the rendition already does.
 */
export function capForPeakRatio(segments: readonly SegmentMeasure[], targetDurationS: number, maxRatio: number): number | null {
  if (peakToAverage(segments, targetDurationS) <= maxRatio) return null;
  const clipped = (cap: number) => segments.map((s) => ({ durationS: s.durationS, bytes: Math.min(s.bytes, (cap * s.durationS) / 8) }));
  let lo = 0;
  let hi = measureBandwidth(segments, targetDurationS).peakBps;
  for (let i = 0; i < 50; i++) {
    const mid = (lo + hi) / 2;
    if (peakToAverage(clipped(mid), targetDurationS) <= maxRatio) lo = mid;
    else hi = mid;
  }
  return Math.floor(lo);
}

export const TS_PACKET = 188;

/** One MPEG-TS null packet (PID 0x1FFF): decoders discard it. */
export function nullPacket(): Buffer {
  const p = Buffer.alloc(TS_PACKET, 0xff);
  p[0] = 0x47;
  p[1] = 0x1f;
  p[2] = 0xff;
  // payload only, continuity counter 0 (ignored on the null PID)
  p[3] = 0x10;
  return p;
}

/**
 * Null packets to append to each segment so that peak <= maxRatio x average, adding as few bytes as
 * possible (the lightest segments are raised to a common floor). All zeros when nothing is needed.
 */
export function stuffingPlan(segments: readonly SegmentMeasure[], targetDurationS: number, maxRatio: number): number[] {
  if (peakToAverage(segments, targetDurationS) <= maxRatio) return segments.map(() => 0);
  const withFloor = (floorBps: number) =>
    segments.map((s) => {
      const want = Math.ceil((floorBps * s.durationS) / 8);
      return want > s.bytes ? Math.ceil((want - s.bytes) / TS_PACKET) : 0;
    });
  const apply = (packets: number[]) => segments.map((s, i) => ({ durationS: s.durationS, bytes: s.bytes + packets[i] * TS_PACKET }));
  let lo = 0;
  let hi = measureBandwidth(segments, targetDurationS).peakBps;
  for (let i = 0; i < 50; i++) {
    const mid = (lo + hi) / 2;
    if (peakToAverage(apply(withFloor(mid)), targetDurationS) <= maxRatio) hi = mid;
    else lo = mid;
  }
  return withFloor(hi);
}

/**
 * The bytes appended to a segment to stuff it by `packets` null packets' worth: MPEG-TS null packets
 * (PID 0x1FFF), or for fMP4 one `free` box of the same size. Players skip both.
 */
export function stuffingBytes(packets: number, format: 'mpegts' | 'fmp4'): Buffer {
  if (format === 'fmp4') return freeBox(packets * TS_PACKET);
  const pkt = nullPacket();
  return Buffer.concat(Array.from({ length: packets }, () => pkt));
}
