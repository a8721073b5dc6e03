/**
 * Our one playlist writer (DESIGN.md "HLS output"): every media playlist (VOD, live window, live
 * recording) through `writeMediaPlaylist`, the multivariant playlist from measured segment sizes
 * through `writeMasterPlaylist`. Plain text, so every attribute is exactly what REFERENCE.md asks for
 * (FRAME-RATE with 3 decimals, quoted CODECS...). Reading goes through our one reader (hls-reader.ts).
 */
import { isMultivariant, readMediaPlaylistText, readPlaylistText } from './hls-reader.ts';

export interface SegmentMeasure {
  durationS: number;
  bytes: number;
}

export interface BandwidthMeasure {
  /** Highest bit rate over any run of consecutive segments lasting 0.5 to 1.5 target durations, b/s. */
  peakBps: number;
  /** Total bits over total duration, b/s. */
  averageBps: number;
}

/**
 * REFERENCE.md: BANDWIDTH is the peak over any run of consecutive segments lasting 0.5 to 1.5 target
 * durations; AVERAGE-BANDWIDTH is total bits / total duration. A presentation shorter than half a
 * target duration is measured as one run.
 */
export function measureBandwidth(segments: readonly SegmentMeasure[], targetDurationS: number): BandwidthMeasure {
  const totalS = segments.reduce((s, x) => s + x.durationS, 0);
  const totalBits = segments.reduce((s, x) => s + x.bytes * 8, 0);
  const averageBps = totalS > 0 ? totalBits / totalS : 0;
  const lo = 0.5 * targetDurationS - 1e-6;
  const hi = 1.5 * targetDurationS + 1e-6;
  let peakBps = 0;
  let found = false;
  for (let i = 0; i < segments.length; i++) {
    let dur = 0;
    let bits = 0;
    for (let j = i; j < segments.length; j++) {
      dur += segments[j].durationS;
      bits += segments[j].bytes * 8;
      if (dur > hi) break;
      if (dur >= lo && dur > 0) {
        found = true;
        peakBps = Math.max(peakBps, bits / dur);
      }
    }
  }
  if (!found) peakBps = averageBps;
  return { peakBps, averageBps };
}

export interface MediaPlaylistInfo {
  version: number | null;
  targetDurationS: number;
  mediaSequence: number;
  playlistType: 'VOD' | 'EVENT' | null;
  endlist: boolean;
  /** fMP4 initialization section URI (EXT-X-MAP), if any. */
  mapUri: string | null;
  segments: { uri: string; durationS: number }[];
}

/** Reads a media playlist (ffmpeg's or ours). */
export function readMediaPlaylist(text: string): MediaPlaylistInfo {
  if (isMultivariant(readPlaylistText(text))) throw new Error('expected a media playlist, got a multivariant playlist');
  const m = readMediaPlaylistText('', text);
  const type = m.playlistType;
  return {
    version: m.versions[0] ?? null,
    targetDurationS: m.targets[0],
    mediaSequence: m.mediaSequence,
    playlistType: type === 'VOD' || type === 'EVENT' ? type : null,
    endlist: m.endlist,
    mapUri: m.mapUri,
    segments: m.segments.map((x) => ({ uri: x.uri, durationS: x.durationS })),
  };
}

/** RFC 8216 target duration: every EXTINF rounded to the nearest integer is <= it (so EXTINF < T + 0.5). */
export function targetDurationFor(durations: readonly number[]): number {
  return Math.max(1, ...durations.map((d) => Math.round(d)));
}

/** Lowest EXT-X-VERSION the features need: decimal EXTINF 3, EXT-X-MAP without I-frames 6. */
export function requiredVersion(opts: { decimalDurations: boolean; map: boolean; byterange?: boolean }): number {
  if (opts.map) return 6;
  if (opts.byterange) return 4;
  return opts.decimalDurations ? 3 : 1;
}

/** A media playlist as written: the header tags in RFC 8216 order, then the segments. */
export interface MediaPlaylistModel {
  version: number;
  targetDurationS: number;
  mediaSequence: number;
  /** Written when set (live windows and recordings). */
  discontinuitySequence?: number;
  playlistType?: 'VOD' | 'EVENT';
  independentSegments: boolean;
  mapUri?: string | null;
  segments: readonly { uri: string; durationS: number; discontinuity?: boolean; programDateTimeMs?: number }[];
  endlist: boolean;
}

/** EXT-X-PROGRAM-DATE-TIME value with milliseconds, UTC (ISO 8601, as RFC 8216 4.3.2.6 asks). */
export function formatProgramDateTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** EXTINF always with decimals: exact durations (version 3 or more). */
const extinf = (d: number): string => d.toFixed(6);

/** The one media playlist writer. */
export function writeMediaPlaylist(m: MediaPlaylistModel): string {
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${m.version}`, `#EXT-X-TARGETDURATION:${m.targetDurationS}`, `#EXT-X-MEDIA-SEQUENCE:${m.mediaSequence}`];
  if (m.discontinuitySequence !== undefined) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${m.discontinuitySequence}`);
  if (m.playlistType) lines.push(`#EXT-X-PLAYLIST-TYPE:${m.playlistType}`);
  if (m.independentSegments) lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  if (m.mapUri) lines.push(`#EXT-X-MAP:URI="${m.mapUri}"`);
  for (const s of m.segments) {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (s.programDateTimeMs !== undefined) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${formatProgramDateTime(s.programDateTimeMs)}`);
    lines.push(`#EXTINF:${extinf(s.durationS)},`, s.uri);
  }
  if (m.endlist) lines.push('#EXT-X-ENDLIST');
  lines.push('');
  return lines.join('\n');
}

/** A VOD media playlist: PLAYLIST-TYPE VOD, ENDLIST, exact EXTINF, target from the real durations. */
export function writeVodMediaPlaylist(segments: readonly { uri: string; durationS: number }[], opts: { mapUri?: string | null } = {}): string {
  if (!segments.length) throw new Error('a media playlist needs at least one segment');
  return writeMediaPlaylist({
    version: requiredVersion({ decimalDurations: true, map: !!opts.mapUri }),
    targetDurationS: targetDurationFor(segments.map((s) => s.durationS)),
    mediaSequence: 0,
    playlistType: 'VOD',
    // Every segment starts with an IDR (fixed GOP, cut on keyframes); audio frames are all independent.
    independentSegments: true,
    mapUri: opts.mapUri ?? null,
    segments,
    endlist: true,
  });
}

export interface VariantEntry {
  uri: string;
  bandwidth: number;
  averageBandwidth: number;
  /** RFC 6381 codecs of everything the variant carries, e.g. `avc1.64001f,mp4a.40.2`. */
  codecs: string;
  /** Video variants only. */
  resolution?: { width: number; height: number };
  /** Video variants only, frames per second. */
  frameRate?: number;
}

const isVideo = (v: VariantEntry): boolean => !!v.resolution;

/**
 * Variant order: the video variant nearest 2 Mb/s first (REFERENCE: the first listed variant is what
 * players start with), the other video variants from the highest down, audio-only last.
 */
export function orderVariants(variants: readonly VariantEntry[]): VariantEntry[] {
  const video = variants.filter(isVideo).sort((a, b) => b.bandwidth - a.bandwidth);
  const audio = variants.filter((v) => !isVideo(v)).sort((a, b) => b.bandwidth - a.bandwidth);
  if (!video.length) return audio;
  const distance = (v: VariantEntry) => Math.abs(Math.log(Math.max(1, v.bandwidth) / 2_000_000));
  const first = video.reduce((best, v) => (distance(v) < distance(best) ? v : best), video[0]);
  return [first, ...video.filter((v) => v !== first), ...audio];
}

/** The multivariant playlist, variants in the order given (see orderVariants). */
export function writeMasterPlaylist(variants: readonly VariantEntry[], opts: { version: number; independentSegments: boolean }): string {
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${opts.version}`];
  if (opts.independentSegments) lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  for (const v of variants) {
    const attrs = [`BANDWIDTH=${Math.ceil(v.bandwidth)}`, `AVERAGE-BANDWIDTH=${Math.ceil(v.averageBandwidth)}`, `CODECS="${v.codecs}"`];
    if (v.resolution) attrs.push(`RESOLUTION=${v.resolution.width}x${v.resolution.height}`);
    if (v.frameRate !== undefined) attrs.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, v.uri);
  }
  lines.push('');
  return lines.join('\n');
}
