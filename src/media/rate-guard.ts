/**
 * Keeps a rendition's peak bit rate within twice its average (REFERENCE.md, Apple HLS authoring:
 * "peak at most 2x average"). Capped CRF makes lessons bimodal (near-free static slides, capped motion),
 * so a lesson that is mostly slides with a burst of video can break the rule. Two remedies, both
 * planned here from measured segments:
 *  1. re-encode the rendition with a lower cap, found by modelling each segment's rate clipped at it;
 *  2. as a last resort (audio-only, or a re-encode that still misses), MPEG-TS null packets appended
 *     to the lightest segments, as CBR cable muxes do: players skip them, the average rises.
 */
import { measureBandwidth, type SegmentMeasure } from './hls-playlists.ts';

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

/** An ISO BMFF `free` box of exactly `bytes` bytes (>= 8): the fMP4 counterpart of null packets. */
export function freeBox(bytes: number): Buffer {
  if (bytes < 8) throw new Error('a free box needs at least 8 bytes');
  const b = Buffer.alloc(bytes, 0);
  b.writeUInt32BE(bytes, 0);
  b.write('free', 4, 'latin1');
  return b;
}
