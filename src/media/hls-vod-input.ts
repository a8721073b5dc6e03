/**
 * The input of the VOD validator (hls-validator.ts): the playlists' texts and per-segment facts (size,
 * timing, keyframes, tables, codecs), gathered through an injected loader (local files, storage or
 * HTTP: see src/infra/hls-source.ts), parsing MPEG-TS segments with ts-segment.ts and fMP4 with
 * fmp4-segment.ts.
 */
import pMap from 'p-map';
import { inspectFmp4Init, inspectFmp4Segment, type Fmp4Init } from './fmp4-segment.ts';
import { readMediaPlaylistText, readPlaylistText } from './hls-reader.ts';
import { inspectTsSegment } from './ts-segment.ts';

export interface SegmentFacts {
  /** URI as written in its media playlist. */
  uri: string;
  size: number;
  container: 'ts' | 'fmp4' | 'other';
  /** Presentation start of the segment, seconds (first video PTS, else first audio PTS). */
  startS: number | null;
  durationS: number | null;
  hasVideo: boolean;
  hasAudio: boolean;
  /** First video access unit is an IDR; null when the segment has no video. */
  startsWithIdr: boolean | null;
  keyframesS: number[];
  /** TS only: a PAT and a PMT are in the segment; null for other containers. */
  hasPat: boolean | null;
  hasPmt: boolean | null;
  /** TS only: whole 188-byte packets with sync bytes. */
  packetsOk: boolean | null;
  videoCodecs: string | null;
  audioCodecs: string | null;
  width: number | null;
  height: number | null;
  frameDurationS: number | null;
  /** AAC frame duration (1024 / sample rate), seconds. */
  audioFrameS: number | null;
}

export interface VodInput {
  master: string;
  /** Media playlist texts keyed by the URI written in the master. */
  media: Record<string, string>;
  /** Segment facts per media playlist URI, in playlist order. */
  segments?: Record<string, SegmentFacts[]>;
  /** The presentation's real duration when known from elsewhere (the probed source). */
  durationS?: number;
}

export interface Violation {
  rule: string;
  message: string;
  uri?: string;
}

export interface VodInput {
  master: string;
  /** Media playlist texts keyed by the URI written in the master. */
  media: Record<string, string>;
  /** Segment facts per media playlist URI, in playlist order. */
  segments?: Record<string, SegmentFacts[]>;
  /** The presentation's real duration when known from elsewhere (the probed source). */
  durationS?: number;
}

/** Facts of one MPEG-TS segment. */
export function segmentFactsFromTs(uri: string, bytes: Uint8Array): SegmentFacts {
  const f = inspectTsSegment(bytes);
  return {
    uri,
    size: f.size,
    container: 'ts',
    startS: f.startS,
    durationS: f.durationS,
    hasVideo: !!f.video,
    hasAudio: !!f.audio,
    startsWithIdr: f.video ? f.video.startsWithIdr : null,
    keyframesS: f.video?.keyframesS ?? [],
    hasPat: f.hasPat,
    hasPmt: f.hasPmt && f.pmtPids.length > 0,
    packetsOk: f.syncOk,
    videoCodecs: f.video?.codecs ?? null,
    audioCodecs: f.audio?.codecs ?? null,
    width: f.video?.width ?? null,
    height: f.video?.height ?? null,
    frameDurationS: f.video?.frameDurationS || null,
    audioFrameS: f.audio?.sampleRate ? 1024 / f.audio.sampleRate : null,
  };
}

/** Facts of one fMP4 media segment, read with the tracks of its initialization section. */
export function segmentFactsFromFmp4(uri: string, bytes: Uint8Array, init: Fmp4Init): SegmentFacts {
  const timing = inspectFmp4Segment(bytes, init);
  const vt = init.tracks.find((t) => t.handler === 'vide');
  const at = init.tracks.find((t) => t.handler === 'soun');
  const v = vt ? timing.find((t) => t.trackId === vt.trackId) : undefined;
  const a = at ? timing.find((t) => t.trackId === at.trackId) : undefined;
  const main = v ?? a;
  return {
    uri,
    size: bytes.length,
    container: 'fmp4',
    startS: main ? main.startS : null,
    durationS: main ? main.durationS : null,
    hasVideo: !!v,
    hasAudio: !!a,
    startsWithIdr: v ? v.firstIsSync : null,
    keyframesS: v?.syncS ?? [],
    hasPat: null,
    hasPmt: null,
    packetsOk: null,
    videoCodecs: v ? vt!.codecs : null,
    audioCodecs: a ? at!.codecs : null,
    width: v ? vt!.width : null,
    height: v ? vt!.height : null,
    frameDurationS: v?.sampleDurationS || null,
    audioFrameS: at?.sampleRate ? 1024 / at.sampleRate : null,
  };
}

/** Facts of a segment we cannot parse ourselves: size only (the timing checks then rely on EXTINF). */
export function segmentFactsFromSize(uri: string, size: number, container: SegmentFacts['container']): SegmentFacts {
  return {
    uri, size, container, startS: null, durationS: null, hasVideo: false, hasAudio: false, startsWithIdr: null, keyframesS: [],
    hasPat: null, hasPmt: null, packetsOk: null, videoCodecs: null, audioCodecs: null, width: null, height: null, frameDurationS: null, audioFrameS: null,
  };
}

/** Reads a presentation: texts and segment bytes by path relative to the multivariant playlist. */
export interface HlsLoader {
  text(path: string): Promise<string>;
  bytes(path: string): Promise<Uint8Array>;
}

/** Resolves a URI written in a playlist at `base` (both relative to the presentation root). */
export function resolveUri(base: string, uri: string): string {
  if (/^[a-z]+:\/\//i.test(uri)) return uri;
  const u = new URL(uri, `http://root.invalid/${base}`);
  return decodeURIComponent(u.pathname.slice(1));
}

/** Gathers everything validateVod needs through a loader; segments are parsed as MPEG-TS when they are. */
export async function loadVodInput(loader: HlsLoader, masterPath = 'master.m3u8', opts: { concurrency?: number; durationS?: number } = {}): Promise<VodInput> {
  const master = await loader.text(masterPath);
  const uris = readPlaylistText(master).uris.filter((u) => u.before.some((t) => t.name === 'EXT-X-STREAM-INF')).map((u) => u.uri);
  const media: Record<string, string> = {};
  const segments: Record<string, SegmentFacts[]> = {};
  for (const uri of uris) {
    const path = resolveUri(masterPath, uri);
    const text = await loader.text(path);
    media[uri] = text;
    const parsedMedia = readMediaPlaylistText(uri, text);
    const segs = parsedMedia.segments;
    const init = parsedMedia.mapUri ? await loader.bytes(resolveUri(path, parsedMedia.mapUri)).then(inspectFmp4Init, () => null) : null;
    const list: SegmentFacts[] = new Array(segs.length);
    await pMap(
      segs,
      async (seg, i) => {
        const bytes = await loader.bytes(resolveUri(path, seg.uri)).catch(() => null);
        if (!bytes) return;
        if (bytes.length >= 188 && bytes[0] === 0x47) list[i] = segmentFactsFromTs(seg.uri, bytes);
        else if (init) list[i] = segmentFactsFromFmp4(seg.uri, bytes, init);
        else list[i] = segmentFactsFromSize(seg.uri, bytes.length, /\.(m4s|mp4)$/.test(seg.uri) ? 'fmp4' : 'other');
      },
      { concurrency: Math.max(1, opts.concurrency ?? 4) },
    );
    segments[uri] = list.filter((x) => !!x);
  }
  return { master, media, segments, ...(opts.durationS !== undefined ? { durationS: opts.durationS } : {}) };
}
