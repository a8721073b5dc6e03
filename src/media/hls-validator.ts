/**
 * Our VOD HLS validator: every rule of REFERENCE.md that applies to VOD, checked on the multivariant
 * playlist, its media playlists and per-segment facts (size, timing, keyframes, tables, codecs). The
 * checks are pure; `loadVodInput` gathers the input through an injected loader (local files,
 * storage or HTTP: see src/infra/hls-source.ts), parsing MPEG-TS segments with ts-segment.ts.
 */
import pMap from 'p-map';
import { measureBandwidth, parsePlaylistQuietly, requiredVersion } from './hls-playlists.ts';
import { inspectFmp4Init, inspectFmp4Segment, type Fmp4Init } from './fmp4-segment.ts';
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

// ---------------------------------------------------------------------------------------------
// Playlist text parsing (our own, so duplicated tags and raw attribute text stay visible).

interface Tag {
  name: string;
  value: string;
  line: number;
}

/** Parses an attribute list (`A=1,B="x,y",C=0x1F`). */
export function parseAttributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)(?:,|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0] === '') {
      re.lastIndex++;
      continue;
    }
    out.set(m[1], m[2].startsWith('"') ? m[2].slice(1, -1) : m[2]);
  }
  return out;
}

interface ParsedText {
  first: string;
  tags: Tag[];
  /** Non-tag, non-empty lines with the tag lines just before them. */
  uris: { uri: string; before: Tag[] }[];
}

function parseText(text: string): ParsedText {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).map((l) => l.trim());
  const tags: Tag[] = [];
  const uris: ParsedText['uris'] = [];
  let pending: Tag[] = [];
  lines.forEach((line, i) => {
    if (!line) return;
    if (line.startsWith('#EXT')) {
      const idx = line.indexOf(':');
      const tag = { name: idx < 0 ? line.slice(1) : line.slice(1, idx), value: idx < 0 ? '' : line.slice(idx + 1), line: i + 1 };
      tags.push(tag);
      pending.push(tag);
    } else if (!line.startsWith('#')) {
      uris.push({ uri: line, before: pending });
      pending = [];
    }
  });
  return { first: lines.find((l) => l.length > 0) ?? '', tags, uris };
}

interface MasterVariant {
  uri: string;
  attrs: Map<string, string>;
  bandwidth: number | null;
  averageBandwidth: number | null;
  codecs: string[] | null;
  resolution: { width: number; height: number } | null;
  frameRateText: string | null;
}

interface MediaSegment {
  uri: string;
  durationS: number;
  msn: number;
}

interface MediaPlaylistParsed {
  uri: string;
  versions: number[];
  targets: number[];
  playlistType: string | null;
  endlist: boolean;
  hasMap: boolean;
  mapUri: string | null;
  hasByterange: boolean;
  segments: MediaSegment[];
  decimalDurations: boolean;
}

function parseMedia(uri: string, text: string): MediaPlaylistParsed {
  const p = parseText(text);
  const versions = p.tags.filter((t) => t.name === 'EXT-X-VERSION').map((t) => Number(t.value));
  const targets = p.tags.filter((t) => t.name === 'EXT-X-TARGETDURATION').map((t) => Number(t.value));
  const seqTag = p.tags.find((t) => t.name === 'EXT-X-MEDIA-SEQUENCE');
  const base = seqTag ? Number(seqTag.value) : 0;
  let decimal = false;
  const segments = p.uris.map((u, i) => {
    const inf = u.before.find((t) => t.name === 'EXTINF');
    const raw = inf ? inf.value.split(',')[0] : 'NaN';
    if (/\./.test(raw)) decimal = true;
    return { uri: u.uri, durationS: Number(raw), msn: base + i };
  });
  return {
    uri,
    versions,
    targets,
    playlistType: p.tags.find((t) => t.name === 'EXT-X-PLAYLIST-TYPE')?.value ?? null,
    endlist: p.tags.some((t) => t.name === 'EXT-X-ENDLIST'),
    hasMap: p.tags.some((t) => t.name === 'EXT-X-MAP'),
    mapUri: (() => {
      const t = p.tags.find((x) => x.name === 'EXT-X-MAP');
      return t ? parseAttributes(t.value).get('URI') ?? null : null;
    })(),
    hasByterange: p.tags.some((t) => t.name === 'EXT-X-BYTERANGE'),
    segments,
    decimalDurations: decimal,
  };
}

const videoCodec = (c: string): boolean => /^(avc1|avc3|hvc1|hev1|dvh1|dvhe|av01|vp09|mp4v)\b/.test(c);

// ---------------------------------------------------------------------------------------------

/** Checks a VOD presentation against REFERENCE.md; an empty list means it passes. */
export function validateVod(input: VodInput): Violation[] {
  const out: Violation[] = [];
  const add = (rule: string, message: string, uri?: string) => out.push(uri ? { rule, message, uri } : { rule, message });

  try {
    parsePlaylistQuietly(input.master);
  } catch (err) {
    add('playlist.syntax', `multivariant playlist does not parse: ${(err as Error).message}`);
  }
  const master = parseText(input.master);
  if (master.first !== '#EXTM3U') add('master.extm3u', 'the multivariant playlist must start with #EXTM3U');
  if (master.tags.some((t) => t.name === 'EXTINF' || t.name === 'EXT-X-TARGETDURATION')) add('playlist.syntax', 'the multivariant playlist carries media playlist tags');

  const variants: MasterVariant[] = master.uris
    .map(({ uri, before }) => ({ uri, tag: before.find((t) => t.name === 'EXT-X-STREAM-INF') }))
    .filter((x): x is { uri: string; tag: Tag } => !!x.tag)
    .map(({ uri, tag }) => {
      const attrs = parseAttributes(tag.value);
      const res = /^(\d+)x(\d+)$/.exec(attrs.get('RESOLUTION') ?? '');
      const num = (k: string) => (attrs.has(k) && /^\d+$/.test(attrs.get(k)!) ? Number(attrs.get(k)) : null);
      return {
        uri,
        attrs,
        bandwidth: num('BANDWIDTH'),
        averageBandwidth: num('AVERAGE-BANDWIDTH'),
        codecs: attrs.has('CODECS') ? attrs.get('CODECS')!.split(',').map((c) => c.trim()).filter(Boolean) : null,
        resolution: res ? { width: Number(res[1]), height: Number(res[2]) } : null,
        frameRateText: attrs.get('FRAME-RATE') ?? null,
      };
    });
  if (!variants.length) add('master.variants', 'the multivariant playlist lists no variant');

  // Media playlists.
  const media = new Map<string, MediaPlaylistParsed>();
  for (const v of variants) {
    const text = input.media[v.uri];
    if (text === undefined) {
      add('master.uri', `no media playlist for variant ${v.uri}`, v.uri);
      continue;
    }
    try {
      parsePlaylistQuietly(text);
    } catch (err) {
      add('playlist.syntax', `media playlist does not parse: ${(err as Error).message}`, v.uri);
    }
    if (parseText(text).first !== '#EXTM3U') add('media.extm3u', 'a media playlist must start with #EXTM3U', v.uri);
    media.set(v.uri, parseMedia(v.uri, text));
  }

  const facts = (uri: string): SegmentFacts[] | undefined => input.segments?.[uri];
  const isVideoVariant = (v: MasterVariant): boolean =>
    !!v.resolution || (v.codecs?.some(videoCodec) ?? false) || (facts(v.uri)?.some((f) => f.hasVideo) ?? false);
  const videoVariants = variants.filter(isVideoVariant);

  // Versions.
  let needed = 1;
  for (const m of media.values()) {
    const req = requiredVersion({ decimalDurations: m.decimalDurations, map: m.hasMap, byterange: m.hasByterange });
    needed = Math.max(needed, req);
    if (m.versions.length > 1) add('media.version', 'more than one EXT-X-VERSION', m.uri);
    const declared = m.versions[0] ?? 1;
    if (declared < req) add('media.version', `EXT-X-VERSION ${declared} is lower than the features used need (${req})`, m.uri);
    if (declared > req) add('media.version', `EXT-X-VERSION ${declared} is higher than the features used need (${req})`, m.uri);
  }
  const masterVersions = master.tags.filter((t) => t.name === 'EXT-X-VERSION').map((t) => Number(t.value));
  if (masterVersions.length > 1) add('master.version', 'more than one EXT-X-VERSION');
  if (masterVersions.length && masterVersions[0] > needed) add('master.version', `EXT-X-VERSION ${masterVersions[0]} is higher than the presentation needs (${needed})`);

  // Variant attributes.
  for (const v of variants) {
    if (v.bandwidth === null) add('master.bandwidth', 'BANDWIDTH missing or not an integer', v.uri);
    if (v.averageBandwidth === null) add('master.average-bandwidth', 'AVERAGE-BANDWIDTH missing or not an integer', v.uri);
    if (!v.codecs?.length) add('master.codecs', 'CODECS missing', v.uri);
    if (isVideoVariant(v)) {
      if (!v.resolution) add('master.resolution', 'RESOLUTION missing on a video variant', v.uri);
      if (v.frameRateText === null) add('master.frame-rate', 'FRAME-RATE missing on a video variant', v.uri);
      else if (!/^\d+\.\d{3}$/.test(v.frameRateText)) add('master.frame-rate', `FRAME-RATE ${v.frameRateText} is not written with 3 decimals`, v.uri);
    }
    for (const g of ['AUDIO', 'VIDEO', 'SUBTITLES', 'CLOSED-CAPTIONS'] as const) {
      const group = v.attrs.get(g);
      if (group === undefined || (g === 'CLOSED-CAPTIONS' && group === 'NONE')) continue;
      const type = g === 'CLOSED-CAPTIONS' ? 'CLOSED-CAPTIONS' : g;
      const exists = master.tags.some((t) => t.name === 'EXT-X-MEDIA' && parseAttributes(t.value).get('TYPE') === type && parseAttributes(t.value).get('GROUP-ID') === group);
      if (!exists) add('master.media-groups', `${g}="${group}" names no EXT-X-MEDIA group of TYPE=${type}`, v.uri);
    }
  }
  checkMediaGroups(master.tags, add);

  if (variants.length) {
    const videoRates = new Set(videoVariants.map((v) => v.bandwidth).filter((b): b is number => b !== null));
    if (videoRates.size < 2) add('master.video-bitrates', `at least two video bit rates are needed, found ${videoRates.size}`);
    const bws = variants.map((v) => v.bandwidth).filter((b): b is number => b !== null);
    if (!bws.some((b) => b <= 192_000)) add('master.cellular', 'no variant at or under 192 kb/s for cellular links');
    const first = variants[0];
    if (videoVariants.length && first.bandwidth !== null) {
      const dist = (b: number) => Math.abs(Math.log(Math.max(1, b) / 2_000_000));
      const nearest = Math.min(...videoVariants.map((v) => dist(v.bandwidth ?? 0)));
      const okWindow = first.bandwidth >= 1_000_000 && first.bandwidth <= 3_000_000 && isVideoVariant(first);
      if (!okWindow && (!isVideoVariant(first) || dist(first.bandwidth) > nearest + 1e-9)) {
        add('master.first-variant', `the first listed variant (${first.bandwidth} b/s) is not the video variant nearest 2 Mb/s`, first.uri);
      }
    }
  }

  // Media playlist rules.
  for (const m of media.values()) {
    if (m.targets.length !== 1) add('media.target-duration', `expected one EXT-X-TARGETDURATION, found ${m.targets.length}`, m.uri);
    const target = m.targets[0];
    if (!m.segments.length) add('media.segments', 'the media playlist has no segment', m.uri);
    for (const s of m.segments) {
      if (!Number.isFinite(s.durationS) || s.durationS <= 0) add('media.extinf', `segment ${s.uri} has no valid EXTINF`, m.uri);
      else if (target !== undefined && (Math.round(s.durationS) > target || s.durationS >= target + 0.5)) {
        add('media.target-duration', `EXTINF ${s.durationS} of ${s.uri} exceeds EXT-X-TARGETDURATION ${target}`, m.uri);
      }
    }
    if (m.playlistType !== 'VOD') add('media.playlist-type', 'EXT-X-PLAYLIST-TYPE:VOD missing', m.uri);
    if (!m.endlist) add('media.endlist', 'EXT-X-ENDLIST missing', m.uri);
    const f = facts(m.uri);
    if (f?.some((x) => x.container === 'fmp4') && !m.hasMap) add('media.map', 'fMP4 segments need EXT-X-MAP', m.uri);
  }

  // Segment facts.
  const frameOf = (uri: string): number => {
    const v = variants.find((x) => x.uri === uri);
    const fromFacts = facts(uri)?.find((x) => x.frameDurationS)?.frameDurationS;
    if (fromFacts) return fromFacts;
    const fr = v?.frameRateText ? Number(v.frameRateText) : NaN;
    return Number.isFinite(fr) && fr > 0 ? 1 / fr : 1 / 30;
  };
  const presentationFrame = Math.max(...videoVariants.map((v) => frameOf(v.uri)), 0) || 1 / 30;
  const audioFrame = (uri: string): number => facts(uri)?.find((x) => x.audioFrameS)?.audioFrameS ?? 1024 / 48000;
  /** "Within one frame": the variant's video frame; audio-only variants also get one AAC frame. */
  const tolerance = (uri: string, isVideo: boolean): number => (isVideo ? frameOf(uri) : Math.max(presentationFrame, audioFrame(uri))) + 0.002;

  const ranges: { uri: string; start: number | null; total: number; end: number | null; video: boolean }[] = [];
  for (const v of variants) {
    const m = media.get(v.uri);
    if (!m) continue;
    const isVideo = isVideoVariant(v);
    const total = m.segments.reduce((s, x) => s + (Number.isFinite(x.durationS) ? x.durationS : 0), 0);
    const f = facts(v.uri);
    if (!f) {
      ranges.push({ uri: v.uri, start: null, total, end: null, video: isVideo });
      continue;
    }
    const byUri = new Map(f.map((x) => [x.uri, x]));
    const segFacts = m.segments.map((s) => byUri.get(s.uri));
    segFacts.forEach((sf, i) => {
      if (!sf) add('segment.missing', `no facts for segment ${m.segments[i].uri} (missing object?)`, v.uri);
    });
    const present = segFacts.filter((x): x is SegmentFacts => !!x);

    for (const sf of present) {
      if (sf.container === 'ts') {
        if (!sf.hasPat || !sf.hasPmt) add('segment.pat-pmt', `${sf.uri} lacks ${!sf.hasPat ? 'a PAT' : 'a PMT'}`, v.uri);
        if (sf.packetsOk === false) add('segment.ts-packets', `${sf.uri} is not a whole number of 188-byte packets with sync bytes`, v.uri);
      }
      if (sf.hasVideo && sf.startsWithIdr === false) add('segment.idr', `${sf.uri} does not start with an IDR frame`, v.uri);
      if (isVideo && !sf.hasVideo && sf.container === 'ts') add('segment.idr', `${sf.uri} of a video variant carries no video`, v.uri);
    }

    // Keyframes every GOP (2 s) across the whole rendition.
    if (isVideo) {
      const keys = present.flatMap((x) => x.keyframesS).sort((a, b) => a - b);
      const fr = frameOf(v.uri);
      for (let i = 1; i < keys.length; i++) {
        if (keys[i] - keys[i - 1] > 2 + fr + 0.002) {
          add('segment.keyframe-interval', `keyframes ${(keys[i] - keys[i - 1]).toFixed(3)} s apart at ${keys[i - 1].toFixed(3)} s (at most 2 s)`, v.uri);
          break;
        }
      }
      const last = present[present.length - 1];
      if (keys.length && last?.startS !== null && last?.durationS !== null && last !== undefined) {
        const end = (last.startS ?? 0) + (last.durationS ?? 0);
        if (end - keys[keys.length - 1] > 2 + fr + 0.002) add('segment.keyframe-interval', 'more than 2 s without a keyframe at the end', v.uri);
      }
    }

    // Summed EXTINF against the real duration.
    const first = present[0];
    const lastSeg = present[present.length - 1];
    let start: number | null = null;
    let end: number | null = null;
    if (first?.startS != null && lastSeg?.startS != null && lastSeg.durationS != null && present.length === m.segments.length) {
      start = first.startS;
      end = lastSeg.startS + lastSeg.durationS;
      const real = end - start;
      if (Math.abs(real - total) > tolerance(v.uri, isVideo)) {
        add('media.duration', `summed EXTINF ${total.toFixed(3)} s differs from the real duration ${real.toFixed(3)} s by more than one frame`, v.uri);
      }
      // EXTINF of each segment against its measured span (next start - this start).
      for (let i = 0; i < present.length - 1; i++) {
        const a = present[i].startS;
        const b = present[i + 1].startS;
        if (a !== null && b !== null && Math.abs(b - a - m.segments[i].durationS) > tolerance(v.uri, isVideo)) {
          add('media.extinf', `EXTINF ${m.segments[i].durationS} of ${m.segments[i].uri} differs from its measured ${(b - a).toFixed(3)} s`, v.uri);
          break;
        }
      }
    }
    if (input.durationS !== undefined && Math.abs(total - input.durationS) > tolerance(v.uri, isVideo) + (isVideo ? 0 : audioFrame(v.uri))) {
      add('media.duration', `summed EXTINF ${total.toFixed(3)} s differs from the presentation's ${input.durationS.toFixed(3)} s`, v.uri);
    }
    ranges.push({ uri: v.uri, start, total, end, video: isVideo });

    // Declared attributes against the segments.
    const vFacts = present.find((x) => x.hasVideo);
    const found = new Set<string>();
    for (const x of present) {
      if (x.videoCodecs) found.add(x.videoCodecs);
      if (x.audioCodecs) found.add(x.audioCodecs);
    }
    if (v.codecs && found.size) {
      const declared = new Set(v.codecs);
      const missing = [...found].filter((c) => !declared.has(c));
      const extra = [...declared].filter((c) => !found.has(c));
      if (missing.length) add('master.codecs', `CODECS lacks ${missing.join(', ')} found in the segments`, v.uri);
      if (extra.length) add('master.codecs', `CODECS declares ${extra.join(', ')} not found in the segments`, v.uri);
    }
    if (vFacts && v.resolution && vFacts.width !== null && vFacts.height !== null && (vFacts.width !== v.resolution.width || vFacts.height !== v.resolution.height)) {
      add('master.resolution', `RESOLUTION ${v.resolution.width}x${v.resolution.height} but the stream is ${vFacts.width}x${vFacts.height}`, v.uri);
    }
    if (vFacts?.frameDurationS && v.frameRateText && /^\d+(\.\d+)?$/.test(v.frameRateText)) {
      const measured = 1 / vFacts.frameDurationS;
      if (Math.abs(measured - Number(v.frameRateText)) / measured > 0.01) add('master.frame-rate', `FRAME-RATE ${v.frameRateText} but the stream runs at ${measured.toFixed(3)}`, v.uri);
    }

    // Bit rates.
    if (present.length === m.segments.length && m.targets.length) {
      const measure = measureBandwidth(
        m.segments.map((s, i) => ({ durationS: s.durationS, bytes: present[i].size })),
        m.targets[0],
      );
      if (v.averageBandwidth !== null && Math.abs(measure.averageBps - v.averageBandwidth) > 0.1 * v.averageBandwidth) {
        add('bandwidth.average', `measured average ${Math.round(measure.averageBps)} b/s is not within 10 % of AVERAGE-BANDWIDTH ${v.averageBandwidth}`, v.uri);
      }
      if (v.bandwidth !== null && Math.abs(measure.peakBps - v.bandwidth) > 0.1 * v.bandwidth) {
        add('bandwidth.peak', `measured peak ${Math.round(measure.peakBps)} b/s is not within 10 % of BANDWIDTH ${v.bandwidth}`, v.uri);
      }
      if (measure.peakBps > 2 * measure.averageBps + 1) {
        add('bandwidth.peak-average', `peak ${Math.round(measure.peakBps)} b/s exceeds twice the average ${Math.round(measure.averageBps)} b/s`, v.uri);
      }
    } else if (v.bandwidth !== null && v.averageBandwidth !== null && v.bandwidth > 2 * v.averageBandwidth) {
      add('bandwidth.peak-average', `BANDWIDTH ${v.bandwidth} exceeds twice AVERAGE-BANDWIDTH ${v.averageBandwidth}`, v.uri);
    }
  }

  // Independent segments.
  const allFacts = videoVariants.flatMap((v) => facts(v.uri) ?? []);
  const independentTag = master.tags.some((t) => t.name === 'EXT-X-INDEPENDENT-SEGMENTS');
  if (allFacts.length) {
    const allIdr = allFacts.every((x) => !x.hasVideo || x.startsWithIdr === true);
    if (allIdr && !independentTag) add('master.independent-segments', 'every segment starts with an IDR: EXT-X-INDEPENDENT-SEGMENTS is expected');
    if (!allIdr && independentTag) add('master.independent-segments', 'EXT-X-INDEPENDENT-SEGMENTS is declared but some segments do not start with an IDR');
  } else if (!independentTag) {
    add('master.independent-segments', 'EXT-X-INDEPENDENT-SEGMENTS missing');
  }

  // Same time range in every rendition: start and end within one frame when segments were measured,
  // the summed EXTINF otherwise (an AAC priming frame may precede time zero and end one frame late).
  if (ranges.length > 1) {
    const ref = ranges.find((r) => r.video) ?? ranges[0];
    for (const r of ranges) {
      if (r === ref) continue;
      const t = Math.max(tolerance(r.uri, r.video), tolerance(ref.uri, ref.video));
      if (r.start !== null && ref.start !== null && r.end !== null && ref.end !== null) {
        if (Math.abs(r.start - ref.start) > t || Math.abs(r.end - ref.end) > t) {
          add('media.same-range', `${r.uri} covers ${r.start.toFixed(3)}-${r.end.toFixed(3)} s, ${ref.uri} ${ref.start.toFixed(3)}-${ref.end.toFixed(3)} s`, r.uri);
        }
      } else if (Math.abs(r.total - ref.total) > (r.video && ref.video ? t : 2 * t)) {
        add('media.same-range', `${r.uri} lasts ${r.total.toFixed(3)} s, ${ref.uri} ${ref.total.toFixed(3)} s`, r.uri);
      }
    }
  }

  // Aligned boundaries: the same media sequence number starts at the same time everywhere.
  const parsed = variants.map((v) => ({ v, m: media.get(v.uri), f: facts(v.uri), video: isVideoVariant(v) })).filter((x) => x.m);
  const refA = parsed.find((x) => x.video && x.f) ?? parsed.find((x) => x.f);
  if (refA) {
    for (const x of parsed) {
      if (x === refA) continue;
      if (x.m!.segments.length !== refA.m!.segments.length) {
        add('segment.aligned', `${x.v.uri} has ${x.m!.segments.length} segments, ${refA.v.uri} ${refA.m!.segments.length}`, x.v.uri);
        continue;
      }
      const t = Math.max(tolerance(x.v.uri, x.video), tolerance(refA.v.uri, refA.video));
      const startsOf = (p: typeof x): (number | null)[] => {
        const byUri = new Map((p.f ?? []).map((s) => [s.uri, s]));
        if (p.f) return p.m!.segments.map((s) => byUri.get(s.uri)?.startS ?? null);
        // Without facts, boundaries follow from the summed EXTINF.
        let acc = 0;
        return p.m!.segments.map((s) => {
          const at = acc;
          acc += s.durationS;
          return at;
        });
      };
      const a = startsOf(x);
      const b = startsOf(refA);
      const relative = !x.f || !refA.f;
      const a0 = a[0] ?? 0;
      const b0 = b[0] ?? 0;
      for (let i = 0; i < a.length; i++) {
        const ai = a[i];
        const bi = b[i];
        if (ai === null || bi === null) continue;
        const d = relative ? ai - a0 - (bi - b0) : ai - bi;
        if (Math.abs(d) > t) {
          add('segment.aligned', `segment ${x.m!.segments[i].msn} starts ${d.toFixed(3)} s away from ${refA.v.uri}`, x.v.uri);
          break;
        }
      }
    }
  }
  return out;
}

function checkMediaGroups(tags: Tag[], add: (rule: string, message: string, uri?: string) => void): void {
  const groups = new Map<string, { names: Set<string>; defaults: number }>();
  for (const t of tags.filter((x) => x.name === 'EXT-X-MEDIA')) {
    const a = parseAttributes(t.value);
    const type = a.get('TYPE') ?? '';
    const group = a.get('GROUP-ID') ?? '';
    const name = a.get('NAME') ?? '';
    if (!type || !group || !name) add('master.media-groups', `EXT-X-MEDIA on line ${t.line} lacks TYPE, GROUP-ID or NAME`);
    const key = `${type}/${group}`;
    const g = groups.get(key) ?? { names: new Set<string>(), defaults: 0 };
    if (g.names.has(name)) add('master.media-groups', `NAME "${name}" appears twice in group ${group}`);
    g.names.add(name);
    if (a.get('DEFAULT') === 'YES') g.defaults++;
    groups.set(key, g);
    if (type !== 'VIDEO' && !a.get('LANGUAGE')) add('master.media-groups', `rendition "${name}" of group ${group} has no LANGUAGE`);
  }
  for (const [key, g] of groups) if (g.defaults > 1) add('master.media-groups', `group ${key} has ${g.defaults} DEFAULT=YES renditions`);
}

// ---------------------------------------------------------------------------------------------

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
  const uris = parseText(master).uris.filter((u) => u.before.some((t) => t.name === 'EXT-X-STREAM-INF')).map((u) => u.uri);
  const media: Record<string, string> = {};
  const segments: Record<string, SegmentFacts[]> = {};
  for (const uri of uris) {
    const path = resolveUri(masterPath, uri);
    const text = await loader.text(path);
    media[uri] = text;
    const parsedMedia = parseMedia(uri, text);
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
