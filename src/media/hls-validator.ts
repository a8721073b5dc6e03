/**
 * Our VOD HLS validator: every rule of REFERENCE.md that applies to VOD, checked on the multivariant
 * playlist, its media playlists and per-segment facts (hls-vod-input.ts gathers them). Pure. The
 * presentation is read once (`readVod`), then each group of rules is a function returning its
 * violations: versions, variants, media playlists, segments, alignment.
 */
import { getOptions, parse, setOptions } from 'hls-parser';
import { measureBandwidth, requiredVersion } from './hls-playlists.ts';
import { parseAttributes, readMediaPlaylistText, readPlaylistText, readVariants, type MasterVariant, type MediaPlaylistParsed, type ParsedText, type Tag } from './hls-reader.ts';
import type { SegmentFacts, VodInput } from './hls-vod-input.ts';

export interface Violation {
  rule: string;
  message: string;
  uri?: string;
}

/** A presentation read once, with the measures every rule shares. */
export interface VodPresentation {
  input: VodInput;
  master: ParsedText;
  variants: MasterVariant[];
  /** Media playlists of the variants that have one, by variant URI. */
  media: Map<string, MediaPlaylistParsed>;
  facts(uri: string): SegmentFacts[] | undefined;
  isVideo(v: MasterVariant): boolean;
  videoVariants: MasterVariant[];
  /** A variant's video frame duration (measured, else from FRAME-RATE, else 1/30 s). */
  frameOf(uri: string): number;
  /** A variant's AAC frame duration (measured, else 1024/48000 s). */
  audioFrame(uri: string): number;
  /** "Within one frame": the variant's video frame; audio-only variants also get one AAC frame. */
  tolerance(uri: string, isVideo: boolean): number;
}

type Add = (rule: string, message: string, uri?: string) => void;

function collector(): { out: Violation[]; add: Add } {
  const out: Violation[] = [];
  return { out, add: (rule, message, uri) => out.push(uri ? { rule, message, uri } : { rule, message }) };
}

const videoCodec = (c: string): boolean => /^(avc1|avc3|hvc1|hev1|dvh1|dvhe|av01|vp09|mp4v)\b/.test(c);

/**
 * The syntax rule's second opinion: a standard parser (hls-parser) must accept every playlist, in its
 * strict mode: without it the library only logs what RFC 8216 forbids (a media sequence given after the
 * first segment, a tag repeated) and accepts the playlist. Its console output is silenced (its options
 * are module-wide: set for this synchronous call only, then restored for other users of the library).
 */
function parsePlaylistQuietly(text: string): void {
  const saved = { ...getOptions() };
  setOptions({ ...saved, silent: true, strictMode: true });
  try {
    parse(text);
  } finally {
    setOptions(saved);
  }
}

/** Checks a VOD presentation against REFERENCE.md; an empty list means it passes. */
export function validateVod(input: VodInput): Violation[] {
  const { vod, violations } = readVod(input);
  return [...violations, ...versionRules(vod), ...variantRules(vod), ...mediaPlaylistRules(vod), ...segmentRules(vod), ...alignmentRules(vod)];
}

/** Reads the presentation; syntax violations (and variants without a media playlist) come with it. */
export function readVod(input: VodInput): { vod: VodPresentation; violations: Violation[] } {
  const { out, add } = collector();
  try {
    parsePlaylistQuietly(input.master);
  } catch (err) {
    add('playlist.syntax', `multivariant playlist does not parse: ${(err as Error).message}`);
  }
  const master = readPlaylistText(input.master);
  if (master.first !== '#EXTM3U') add('master.extm3u', 'the multivariant playlist must start with #EXTM3U');
  if (master.tags.some((t) => t.name === 'EXTINF' || t.name === 'EXT-X-TARGETDURATION')) add('playlist.syntax', 'the multivariant playlist carries media playlist tags');
  const variants = readVariants(master);
  if (!variants.length) add('master.variants', 'the multivariant playlist lists no variant');

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
    if (readPlaylistText(text).first !== '#EXTM3U') add('media.extm3u', 'a media playlist must start with #EXTM3U', v.uri);
    media.set(v.uri, readMediaPlaylistText(v.uri, text));
  }

  const facts = (uri: string): SegmentFacts[] | undefined => input.segments?.[uri];
  const isVideo = (v: MasterVariant): boolean => !!v.resolution || (v.codecs?.some(videoCodec) ?? false) || (facts(v.uri)?.some((f) => f.hasVideo) ?? false);
  const videoVariants = variants.filter(isVideo);
  const frameOf = (uri: string): number => {
    const v = variants.find((x) => x.uri === uri);
    const fromFacts = facts(uri)?.find((x) => x.frameDurationS)?.frameDurationS;
    if (fromFacts) return fromFacts;
    const fr = v?.frameRateText ? Number(v.frameRateText) : NaN;
    return Number.isFinite(fr) && fr > 0 ? 1 / fr : 1 / 30;
  };
  const presentationFrame = Math.max(...videoVariants.map((v) => frameOf(v.uri)), 0) || 1 / 30;
  const audioFrame = (uri: string): number => facts(uri)?.find((x) => x.audioFrameS)?.audioFrameS ?? 1024 / 48000;
  const tolerance = (uri: string, video: boolean): number => (video ? frameOf(uri) : Math.max(presentationFrame, audioFrame(uri))) + 0.002;
  return { vod: { input, master, variants, media, facts, isVideo, videoVariants, frameOf, audioFrame, tolerance }, violations: out };
}

/** EXT-X-VERSION: one per playlist, exactly what the features used need (the master: no higher). */
export function versionRules(vod: VodPresentation): Violation[] {
  const { out, add } = collector();
  let needed = 1;
  for (const m of vod.media.values()) {
    const req = requiredVersion({ decimalDurations: m.decimalDurations, map: m.hasMap, byterange: m.hasByterange });
    needed = Math.max(needed, req);
    if (m.versions.length > 1) add('media.version', 'more than one EXT-X-VERSION', m.uri);
    const declared = m.versions[0] ?? 1;
    if (declared < req) add('media.version', `EXT-X-VERSION ${declared} is lower than the features used need (${req})`, m.uri);
    if (declared > req) add('media.version', `EXT-X-VERSION ${declared} is higher than the features used need (${req})`, m.uri);
  }
  const masterVersions = vod.master.tags.filter((t) => t.name === 'EXT-X-VERSION').map((t) => Number(t.value));
  if (masterVersions.length > 1) add('master.version', 'more than one EXT-X-VERSION');
  if (masterVersions.length && masterVersions[0] > needed) add('master.version', `EXT-X-VERSION ${masterVersions[0]} is higher than the presentation needs (${needed})`);
  return out;
}

/**
 * The variants: BANDWIDTH, AVERAGE-BANDWIDTH, CODECS, and for video RESOLUTION and FRAME-RATE (3
 * decimals); rendition groups that exist and are well formed; the ladder (two video rates, one
 * variant for cellular links, the video variant nearest 2 Mb/s first).
 */
export function variantRules(vod: VodPresentation): Violation[] {
  const { out, add } = collector();
  const { variants, master, videoVariants } = vod;
  for (const v of variants) {
    if (v.bandwidth === null) add('master.bandwidth', 'BANDWIDTH missing or not an integer', v.uri);
    if (v.averageBandwidth === null) add('master.average-bandwidth', 'AVERAGE-BANDWIDTH missing or not an integer', v.uri);
    if (!v.codecs?.length) add('master.codecs', 'CODECS missing', v.uri);
    if (vod.isVideo(v)) {
      if (!v.resolution) add('master.resolution', 'RESOLUTION missing on a video variant', v.uri);
      if (v.frameRateText === null) add('master.frame-rate', 'FRAME-RATE missing on a video variant', v.uri);
      else if (!/^\d+\.\d{3}$/.test(v.frameRateText)) add('master.frame-rate', `FRAME-RATE ${v.frameRateText} is not written with 3 decimals`, v.uri);
    }
    for (const g of ['AUDIO', 'VIDEO', 'SUBTITLES', 'CLOSED-CAPTIONS'] as const) {
      const group = v.attrs.get(g);
      if (group === undefined || (g === 'CLOSED-CAPTIONS' && group === 'NONE')) continue;
      const exists = master.tags.some((t) => t.name === 'EXT-X-MEDIA' && parseAttributes(t.value).get('TYPE') === g && parseAttributes(t.value).get('GROUP-ID') === group);
      if (!exists) add('master.media-groups', `${g}="${group}" names no EXT-X-MEDIA group of TYPE=${g}`, v.uri);
    }
  }
  checkMediaGroups(master.tags, add);
  if (!variants.length) return out;
  const videoRates = new Set(videoVariants.map((v) => v.bandwidth).filter((b): b is number => b !== null));
  if (videoRates.size < 2) add('master.video-bitrates', `at least two video bit rates are needed, found ${videoRates.size}`);
  const bws = variants.map((v) => v.bandwidth).filter((b): b is number => b !== null);
  if (!bws.some((b) => b <= 192_000)) add('master.cellular', 'no variant at or under 192 kb/s for cellular links');
  const first = variants[0];
  if (videoVariants.length && first.bandwidth !== null) {
    const dist = (b: number) => Math.abs(Math.log(Math.max(1, b) / 2_000_000));
    const nearest = Math.min(...videoVariants.map((v) => dist(v.bandwidth ?? 0)));
    const okWindow = first.bandwidth >= 1_000_000 && first.bandwidth <= 3_000_000 && vod.isVideo(first);
    if (!okWindow && (!vod.isVideo(first) || dist(first.bandwidth) > nearest + 1e-9)) {
      add('master.first-variant', `the first listed variant (${first.bandwidth} b/s) is not the video variant nearest 2 Mb/s`, first.uri);
    }
  }
  return out;
}

/** EXT-X-MEDIA renditions: TYPE, GROUP-ID and NAME, unique names, one DEFAULT, a LANGUAGE. */
function checkMediaGroups(tags: Tag[], add: Add): void {
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

/** Media playlists: one TARGETDURATION no EXTINF exceeds, segments, PLAYLIST-TYPE VOD, ENDLIST, EXT-X-MAP for fMP4. */
export function mediaPlaylistRules(vod: VodPresentation): Violation[] {
  const { out, add } = collector();
  for (const m of vod.media.values()) {
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
    if (vod.facts(m.uri)?.some((x) => x.container === 'fmp4') && !m.hasMap) add('media.map', 'fMP4 segments need EXT-X-MAP', m.uri);
  }
  return out;
}

/** A variant's segments with their facts, and the time it really covers when every segment was measured. */
interface VariantSpan {
  v: MasterVariant;
  m: MediaPlaylistParsed;
  video: boolean;
  /** Facts in playlist order (undefined: no facts for that segment); null when the variant has no facts. */
  segFacts: (SegmentFacts | undefined)[] | null;
  present: SegmentFacts[];
  /** Summed EXTINF. */
  total: number;
  start: number | null;
  end: number | null;
}

function spans(vod: VodPresentation): VariantSpan[] {
  const out: VariantSpan[] = [];
  for (const v of vod.variants) {
    const m = vod.media.get(v.uri);
    if (!m) continue;
    const total = m.segments.reduce((s, x) => s + (Number.isFinite(x.durationS) ? x.durationS : 0), 0);
    const f = vod.facts(v.uri);
    const byUri = new Map((f ?? []).map((x) => [x.uri, x]));
    const segFacts = f ? m.segments.map((s) => byUri.get(s.uri)) : null;
    const present = (segFacts ?? []).filter((x): x is SegmentFacts => !!x);
    const first = present[0];
    const last = present[present.length - 1];
    const measured = !!f && first?.startS != null && last?.startS != null && last.durationS != null && present.length === m.segments.length;
    out.push({ v, m, video: vod.isVideo(v), segFacts, present, total, start: measured ? first.startS : null, end: measured ? last.startS! + last.durationS! : null });
  }
  return out;
}

/**
 * Segments against their playlists: present, whole TS packets with PAT/PMT, starting with an IDR,
 * keyframes at most 2 s apart, EXTINF and the summed duration within one frame of what was measured,
 * CODECS/RESOLUTION/FRAME-RATE as in the stream, bit rates within 10 % of the declared ones and peak at
 * most twice the average, EXT-X-INDEPENDENT-SEGMENTS exactly when every segment starts with an IDR.
 */
export function segmentRules(vod: VodPresentation): Violation[] {
  const { out, add } = collector();
  for (const s of spans(vod)) {
    const { v, m, video, present } = s;
    // Without facts only the playlists can be checked (media playlist rules, alignment).
    if (!s.segFacts) continue;
    s.segFacts.forEach((sf, i) => {
      if (!sf) add('segment.missing', `no facts for segment ${m.segments[i].uri} (missing object?)`, v.uri);
    });
    for (const sf of present) {
      if (sf.container === 'ts') {
        if (!sf.hasPat || !sf.hasPmt) add('segment.pat-pmt', `${sf.uri} lacks ${!sf.hasPat ? 'a PAT' : 'a PMT'}`, v.uri);
        if (sf.packetsOk === false) add('segment.ts-packets', `${sf.uri} is not a whole number of 188-byte packets with sync bytes`, v.uri);
      }
      if (sf.hasVideo && sf.startsWithIdr === false) add('segment.idr', `${sf.uri} does not start with an IDR frame`, v.uri);
      if (video && !sf.hasVideo && sf.container === 'ts') add('segment.idr', `${sf.uri} of a video variant carries no video`, v.uri);
    }
    if (video) keyframeRule(vod, s, add);
    durationRule(vod, s, add);
    declaredAttributeRules(s, add);
    bandwidthRules(s, add);
  }
  const allFacts = vod.videoVariants.flatMap((v) => vod.facts(v.uri) ?? []);
  const independentTag = vod.master.tags.some((t) => t.name === 'EXT-X-INDEPENDENT-SEGMENTS');
  if (allFacts.length) {
    const allIdr = allFacts.every((x) => !x.hasVideo || x.startsWithIdr === true);
    if (allIdr && !independentTag) add('master.independent-segments', 'every segment starts with an IDR: EXT-X-INDEPENDENT-SEGMENTS is expected');
    if (!allIdr && independentTag) add('master.independent-segments', 'EXT-X-INDEPENDENT-SEGMENTS is declared but some segments do not start with an IDR');
  } else if (!independentTag) {
    add('master.independent-segments', 'EXT-X-INDEPENDENT-SEGMENTS missing');
  }
  return out;
}

/** Keyframes every GOP (2 s) across the whole rendition, the end included. */
function keyframeRule(vod: VodPresentation, { v, present }: VariantSpan, add: Add): void {
  const keys = present.flatMap((x) => x.keyframesS).sort((a, b) => a - b);
  const fr = vod.frameOf(v.uri);
  for (let i = 1; i < keys.length; i++) {
    if (keys[i] - keys[i - 1] > 2 + fr + 0.002) {
      add('segment.keyframe-interval', `keyframes ${(keys[i] - keys[i - 1]).toFixed(3)} s apart at ${keys[i - 1].toFixed(3)} s (at most 2 s)`, v.uri);
      break;
    }
  }
  const last = present[present.length - 1];
  if (keys.length && last !== undefined && last.startS !== null && last.durationS !== null) {
    const end = last.startS + last.durationS;
    if (end - keys[keys.length - 1] > 2 + fr + 0.002) add('segment.keyframe-interval', 'more than 2 s without a keyframe at the end', v.uri);
  }
}

/** Summed EXTINF against the measured span and the presentation's length; each EXTINF against its segment's span. */
function durationRule(vod: VodPresentation, s: VariantSpan, add: Add): void {
  const { v, m, video, present, total } = s;
  const tol = vod.tolerance(v.uri, video);
  if (s.start !== null && s.end !== null) {
    const real = s.end - s.start;
    if (Math.abs(real - total) > tol) add('media.duration', `summed EXTINF ${total.toFixed(3)} s differs from the real duration ${real.toFixed(3)} s by more than one frame`, v.uri);
    for (let i = 0; i < present.length - 1; i++) {
      const a = present[i].startS;
      const b = present[i + 1].startS;
      if (a !== null && b !== null && Math.abs(b - a - m.segments[i].durationS) > tol) {
        add('media.extinf', `EXTINF ${m.segments[i].durationS} of ${m.segments[i].uri} differs from its measured ${(b - a).toFixed(3)} s`, v.uri);
        break;
      }
    }
  }
  const d = vod.input.durationS;
  if (d !== undefined && Math.abs(total - d) > tol + (video ? 0 : vod.audioFrame(v.uri))) {
    add('media.duration', `summed EXTINF ${total.toFixed(3)} s differs from the presentation's ${d.toFixed(3)} s`, v.uri);
  }
}

/** CODECS, RESOLUTION and FRAME-RATE against what the segments carry. */
function declaredAttributeRules({ v, present }: VariantSpan, add: Add): void {
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
  const vFacts = present.find((x) => x.hasVideo);
  if (vFacts && v.resolution && vFacts.width !== null && vFacts.height !== null && (vFacts.width !== v.resolution.width || vFacts.height !== v.resolution.height)) {
    add('master.resolution', `RESOLUTION ${v.resolution.width}x${v.resolution.height} but the stream is ${vFacts.width}x${vFacts.height}`, v.uri);
  }
  if (vFacts?.frameDurationS && v.frameRateText && /^\d+(\.\d+)?$/.test(v.frameRateText)) {
    const measured = 1 / vFacts.frameDurationS;
    if (Math.abs(measured - Number(v.frameRateText)) / measured > 0.01) add('master.frame-rate', `FRAME-RATE ${v.frameRateText} but the stream runs at ${measured.toFixed(3)}`, v.uri);
  }
}

/** Measured rates within 10 % of BANDWIDTH and AVERAGE-BANDWIDTH; peak at most twice the average. */
function bandwidthRules({ v, m, present }: VariantSpan, add: Add): void {
  if (present.length === m.segments.length && m.targets.length) {
    const measure = measureBandwidth(m.segments.map((s, i) => ({ durationS: s.durationS, bytes: present[i].size })), m.targets[0]);
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

/**
 * Renditions aligned: the same time range in every rendition (start and end within one frame when
 * segments were measured, the summed EXTINF otherwise: an AAC priming frame may precede time zero and
 * end one frame late), and the same media sequence number starting at the same time everywhere.
 */
export function alignmentRules(vod: VodPresentation): Violation[] {
  const { out, add } = collector();
  const all = spans(vod);
  if (all.length > 1) {
    const ref = all.find((r) => r.video) ?? all[0];
    for (const r of all) {
      if (r === ref) continue;
      const t = Math.max(vod.tolerance(r.v.uri, r.video), vod.tolerance(ref.v.uri, ref.video));
      if (r.start !== null && ref.start !== null && r.end !== null && ref.end !== null) {
        if (Math.abs(r.start - ref.start) > t || Math.abs(r.end - ref.end) > t) {
          add('media.same-range', `${r.v.uri} covers ${r.start.toFixed(3)}-${r.end.toFixed(3)} s, ${ref.v.uri} ${ref.start.toFixed(3)}-${ref.end.toFixed(3)} s`, r.v.uri);
        }
      } else if (Math.abs(r.total - ref.total) > (r.video && ref.video ? t : 2 * t)) {
        add('media.same-range', `${r.v.uri} lasts ${r.total.toFixed(3)} s, ${ref.v.uri} ${ref.total.toFixed(3)} s`, r.v.uri);
      }
    }
  }
  const refA = all.find((x) => x.video && x.segFacts) ?? all.find((x) => x.segFacts);
  if (!refA) return out;
  const startsOf = (p: VariantSpan): (number | null)[] => {
    if (p.segFacts) return p.segFacts.map((f) => f?.startS ?? null);
    // Without facts, boundaries follow from the summed EXTINF.
    let acc = 0;
    return p.m.segments.map((s) => {
      const at = acc;
      acc += s.durationS;
      return at;
    });
  };
  const b = startsOf(refA);
  for (const x of all) {
    if (x === refA) continue;
    if (x.m.segments.length !== refA.m.segments.length) {
      add('segment.aligned', `${x.v.uri} has ${x.m.segments.length} segments, ${refA.v.uri} ${refA.m.segments.length}`, x.v.uri);
      continue;
    }
    const t = Math.max(vod.tolerance(x.v.uri, x.video), vod.tolerance(refA.v.uri, refA.video));
    const a = startsOf(x);
    const relative = !x.segFacts || !refA.segFacts;
    const a0 = a[0] ?? 0;
    const b0 = b[0] ?? 0;
    for (let i = 0; i < a.length; i++) {
      const ai = a[i];
      const bi = b[i];
      if (ai === null || bi === null) continue;
      const d = relative ? ai - a0 - (bi - b0) : ai - bi;
      if (Math.abs(d) > t) {
        add('segment.aligned', `segment ${x.m.segments[i].msn} starts ${d.toFixed(3)} s away from ${refA.v.uri}`, x.v.uri);
        break;
      }
    }
  }
  return out;
}
