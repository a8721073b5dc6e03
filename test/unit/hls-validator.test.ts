import { describe, expect, it } from 'vitest';
import { measureBandwidth, orderVariants, writeMasterPlaylist, writeVodMediaPlaylist, type VariantEntry } from '../../src/media/hls-playlists.ts';
import { alignmentRules, mediaPlaylistRules, readVod, segmentRules, validateVod, variantRules, versionRules, type VodPresentation, type Violation } from '../../src/media/hls-validator.ts';
import { parseAttributes } from '../../src/media/hls-reader.ts';
import { loadVodInput, resolveUri, segmentFactsFromTs, type HlsLoader, type SegmentFacts, type VodInput } from '../../src/media/hls-vod-input.ts';
import { inspectTsSegment, parseH264Sps } from '../../src/media/ts-segment.ts';

// ---------------------------------------------------------------------------------------------
// A well-formed presentation, built from facts; each test breaks one rule of REFERENCE.md.

interface VariantSpec {
  name: string;
  video: { width: number; height: number; codecs: string } | null;
  /** Bytes per second of each segment. */
  rate: number;
}

const specs: VariantSpec[] = [
  { name: '720p', video: { width: 1280, height: 720, codecs: 'avc1.64001f' }, rate: 250_000 },
  { name: '480p', video: { width: 854, height: 480, codecs: 'avc1.64001f' }, rate: 120_000 },
  { name: '360p', video: { width: 640, height: 360, codecs: 'avc1.64001e' }, rate: 60_000 },
  { name: 'audio', video: null, rate: 9_000 },
];
const durations = [6, 6, 2];
const frame = 1 / 30;
const t0 = 1.4;

function facts(spec: VariantSpec): SegmentFacts[] {
  let at = t0;
  return durations.map((d, i) => {
    const start = at;
    at += d;
    const keys = spec.video ? Array.from({ length: Math.ceil(d / 2) }, (_, k) => start + 2 * k) : [];
    return {
      uri: `seg-0000${i}.ts`,
      size: Math.round(spec.rate * d),
      container: 'ts',
      startS: spec.video ? start : start - 1024 / 48000,
      durationS: spec.video ? d : d + (i === 0 ? 1024 / 48000 : 0),
      hasVideo: !!spec.video,
      hasAudio: true,
      startsWithIdr: spec.video ? true : null,
      keyframesS: keys,
      hasPat: true,
      hasPmt: true,
      packetsOk: true,
      videoCodecs: spec.video?.codecs ?? null,
      audioCodecs: 'mp4a.40.2',
      width: spec.video?.width ?? null,
      height: spec.video?.height ?? null,
      frameDurationS: spec.video ? frame : null,
      audioFrameS: 1024 / 48000,
    } satisfies SegmentFacts;
  });
}

function goodInput(): VodInput {
  const media: Record<string, string> = {};
  const segments: Record<string, SegmentFacts[]> = {};
  const variants: VariantEntry[] = [];
  for (const s of specs) {
    const f = facts(s);
    const segs = f.map((x, i) => ({ uri: x.uri, durationS: s.video ? durations[i] : x.durationS! }));
    const uri = `${s.name}/index.m3u8`;
    media[uri] = writeVodMediaPlaylist(segs);
    segments[uri] = f;
    const bw = measureBandwidth(segs.map((x, i) => ({ durationS: x.durationS, bytes: f[i].size })), 6);
    variants.push({
      uri,
      bandwidth: Math.ceil(bw.peakBps),
      averageBandwidth: Math.ceil(bw.averageBps),
      codecs: s.video ? `${s.video.codecs},mp4a.40.2` : 'mp4a.40.2',
      ...(s.video ? { resolution: { width: s.video.width, height: s.video.height }, frameRate: 30 } : {}),
    });
  }
  return { master: writeMasterPlaylist(orderVariants(variants), { version: 3, independentSegments: true }), media, segments, durationS: 14 };
}

const rules = (input: VodInput): string[] => [...new Set(validateVod(input).map((v) => v.rule))].sort();
const withMaster = (fn: (m: string) => string): VodInput => {
  const i = goodInput();
  return { ...i, master: fn(i.master) };
};
const withMedia = (uri: string, fn: (m: string) => string): VodInput => {
  const i = goodInput();
  return { ...i, media: { ...i.media, [uri]: fn(i.media[uri]) } };
};
const withFacts = (uri: string, fn: (f: SegmentFacts[]) => SegmentFacts[]): VodInput => {
  const i = goodInput();
  return { ...i, segments: { ...i.segments, [uri]: fn(structuredClone(i.segments![uri])) } };
};

describe('validateVod', () => {
  it('when the presentation follows every rule, then there is no violation', () => {
    expect(validateVod(goodInput())).toEqual([]);
  });

  it('when #EXTM3U is missing, then master.extm3u', () => {
    expect(rules(withMaster((m) => m.replace('#EXTM3U\n', '')))).toContain('master.extm3u');
  });

  it('when EXT-X-VERSION is repeated or higher than needed, then master.version', () => {
    expect(rules(withMaster((m) => m.replace('#EXT-X-VERSION:3', '#EXT-X-VERSION:3\n#EXT-X-VERSION:3')))).toContain('master.version');
    expect(rules(withMaster((m) => m.replace('#EXT-X-VERSION:3', '#EXT-X-VERSION:7')))).toEqual(['master.version']);
  });

  it('when a media playlist with decimal EXTINF claims version 2, or 6 without EXT-X-MAP, then media.version', () => {
    expect(rules(withMedia('720p/index.m3u8', (m) => m.replace('#EXT-X-VERSION:3', '#EXT-X-VERSION:2')))).toEqual(['media.version']);
    expect(rules(withMedia('720p/index.m3u8', (m) => m.replace('#EXT-X-VERSION:3', '#EXT-X-VERSION:6')))).toContain('media.version');
  });

  it('when BANDWIDTH or AVERAGE-BANDWIDTH is missing, then master.bandwidth / master.average-bandwidth', () => {
    expect(rules(withMaster((m) => m.replace(/BANDWIDTH=\d+,AVERAGE/, 'AVERAGE')))).toContain('master.bandwidth');
    expect(rules(withMaster((m) => m.replace(/AVERAGE-BANDWIDTH=\d+,/, '')))).toContain('master.average-bandwidth');
  });

  it('when CODECS is missing or names a codec the segments do not carry, then master.codecs', () => {
    expect(rules(withMaster((m) => m.replace(/,CODECS="[^"]*"/, '')))).toContain('master.codecs');
    expect(rules(withMaster((m) => m.replace('CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720', 'CODECS="avc1.640028,mp4a.40.2",RESOLUTION=1280x720')))).toEqual(['master.codecs']);
  });

  it('when RESOLUTION is missing or wrong on a video variant, then master.resolution', () => {
    expect(rules(withMaster((m) => m.replace(',RESOLUTION=854x480', '')))).toEqual(['master.resolution']);
    expect(rules(withMaster((m) => m.replace('RESOLUTION=854x480', 'RESOLUTION=852x480')))).toEqual(['master.resolution']);
  });

  it('when FRAME-RATE is missing, has no 3 decimals or disagrees with the stream, then master.frame-rate', () => {
    expect(rules(withMaster((m) => m.replace(',FRAME-RATE=30.000\n480p', '\n480p')))).toEqual(['master.frame-rate']);
    expect(rules(withMaster((m) => m.replace('FRAME-RATE=30.000\n480p', 'FRAME-RATE=30\n480p')))).toEqual(['master.frame-rate']);
    expect(rules(withMaster((m) => m.replace('FRAME-RATE=30.000\n480p', 'FRAME-RATE=25.000\n480p')))).toEqual(['master.frame-rate']);
  });

  it('when there is a single video bit rate, then master.video-bitrates', () => {
    const i = goodInput();
    const master = i.master.split('\n').filter((l, n, all) => !/^(480p|360p)/.test(l) && !/^(480p|360p)/.test(all[n + 1] ?? '')).join('\n');
    expect(rules({ ...i, master })).toContain('master.video-bitrates');
  });

  it('when a segment does not start with an IDR, then segment.idr and INDEPENDENT-SEGMENTS is wrong', () => {
    expect(rules(withFacts('480p/index.m3u8', (f) => f.map((x, n) => (n === 1 ? { ...x, startsWithIdr: false } : x))))).toEqual(['master.independent-segments', 'segment.idr']);
  });

  it('when every segment starts with an IDR but the tag is missing, then master.independent-segments', () => {
    expect(rules(withMaster((m) => m.replace('#EXT-X-INDEPENDENT-SEGMENTS\n', '')))).toEqual(['master.independent-segments']);
  });

  it('when alternative renditions are malformed, then master.media-groups', () => {
    const media = '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Chinese",DEFAULT=YES,URI="a/zh.m3u8"\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Chinese",DEFAULT=YES,LANGUAGE="zh",URI="a/zh2.m3u8"\n';
    const broken = withMaster((m) => m.replace('#EXT-X-INDEPENDENT-SEGMENTS\n', `#EXT-X-INDEPENDENT-SEGMENTS\n${media}`).replace('FRAME-RATE=30.000\n480p', 'FRAME-RATE=30.000,AUDIO="other"\n480p'));
    const messages = validateVod(broken).filter((v) => v.rule === 'master.media-groups').map((v) => v.message);
    expect(messages).toEqual([
      'AUDIO="other" names no EXT-X-MEDIA group of TYPE=AUDIO',
      'rendition "Chinese" of group aud has no LANGUAGE',
      'NAME "Chinese" appears twice in group aud',
      'group AUDIO/aud has 2 DEFAULT=YES renditions',
    ]);
  });

  it('when no variant is at or under 192 kb/s, then master.cellular', () => {
    const i = goodInput();
    const master = i.master.replace(/#EXT-X-STREAM-INF:[^\n]*CODECS="mp4a.40.2"\naudio\/index.m3u8\n/, '');
    expect(rules({ ...i, master })).toContain('master.cellular');
  });

  it('when the first variant is not the video one nearest 2 Mb/s, then master.first-variant', () => {
    const i = goodInput();
    const lines = i.master.trimEnd().split('\n');
    const audio = lines.splice(-2, 2);
    lines.splice(3, 0, ...audio);
    expect(rules({ ...i, master: `${lines.join('\n')}\n` })).toEqual(['master.first-variant']);
  });

  it('when an EXTINF exceeds the target duration, then media.target-duration', () => {
    expect(rules(withMedia('720p/index.m3u8', (m) => m.replace('#EXT-X-TARGETDURATION:6', '#EXT-X-TARGETDURATION:5')))).toContain('media.target-duration');
    expect(rules(withMedia('720p/index.m3u8', (m) => m.replace('#EXT-X-TARGETDURATION:6', '#EXT-X-TARGETDURATION:6\n#EXT-X-TARGETDURATION:6')))).toContain('media.target-duration');
  });

  it('when PLAYLIST-TYPE VOD or ENDLIST is missing, then media.playlist-type / media.endlist', () => {
    expect(rules(withMedia('360p/index.m3u8', (m) => m.replace('#EXT-X-PLAYLIST-TYPE:VOD\n', '')))).toEqual(['media.playlist-type']);
    expect(rules(withMedia('360p/index.m3u8', (m) => m.replace('#EXT-X-ENDLIST\n', '')))).toEqual(['media.endlist']);
  });

  it('when a rendition ends a second early, then media.same-range', () => {
    const i = withFacts('audio/index.m3u8', (f) => f.map((x, n) => (n === 2 ? { ...x, durationS: 1 } : x)));
    const media = { ...i.media, 'audio/index.m3u8': i.media['audio/index.m3u8'].replace('#EXTINF:2.000000,', '#EXTINF:1.000000,') };
    expect(rules({ ...i, media })).toContain('media.same-range');
  });

  it('when summed EXTINF disagrees with the real duration by more than a frame, then media.duration', () => {
    expect(rules(withMedia('480p/index.m3u8', (m) => m.replace('#EXTINF:2.000000,', '#EXTINF:2.100000,')))).toContain('media.duration');
  });

  it('when keyframes are 4 s apart, then segment.keyframe-interval', () => {
    expect(rules(withFacts('720p/index.m3u8', (f) => f.map((x) => ({ ...x, keyframesS: [x.startS!] }))))).toEqual(['segment.keyframe-interval']);
  });

  it('when boundaries of a rendition are shifted, then segment.aligned', () => {
    expect(rules(withFacts('360p/index.m3u8', (f) => f.map((x, n) => (n === 1 ? { ...x, startS: x.startS! + 0.5, keyframesS: x.keyframesS.map((k) => k + 0.5) } : x))))).toContain('segment.aligned');
  });

  it('when a TS segment lacks the PAT or PMT, then segment.pat-pmt', () => {
    expect(rules(withFacts('480p/index.m3u8', (f) => f.map((x, n) => (n === 2 ? { ...x, hasPat: false } : x))))).toEqual(['segment.pat-pmt']);
    expect(rules(withFacts('480p/index.m3u8', (f) => f.map((x, n) => (n === 0 ? { ...x, hasPmt: false } : x))))).toEqual(['segment.pat-pmt']);
  });

  it('when declared bit rates are 30 % off the measured ones, then bandwidth.average / bandwidth.peak', () => {
    const i = goodInput();
    const avg = /AVERAGE-BANDWIDTH=(\d+)/.exec(i.master)![1];
    expect(rules({ ...i, master: i.master.replace(`AVERAGE-BANDWIDTH=${avg}`, `AVERAGE-BANDWIDTH=${Math.round(Number(avg) * 1.3)}`) })).toEqual(['bandwidth.average']);
    const peak = /BANDWIDTH=(\d+),AVERAGE/.exec(i.master)![1];
    expect(rules({ ...i, master: i.master.replace(`BANDWIDTH=${peak},`, `BANDWIDTH=${Math.round(Number(peak) * 0.7)},`) })).toEqual(['bandwidth.peak']);
  });

  it('when one segment carries most of the bits, then bandwidth.peak-average', () => {
    expect(rules(withFacts('360p/index.m3u8', (f) => f.map((x, n) => (n === 1 ? { ...x, size: x.size * 10 } : x))))).toContain('bandwidth.peak-average');
  });

  it('when a variant has no media playlist or a segment is missing, then master.uri / segment.missing', () => {
    const i = goodInput();
    const { ['480p/index.m3u8']: _gone, ...media } = i.media;
    expect(rules({ ...i, media })).toContain('master.uri');
    expect(rules(withFacts('360p/index.m3u8', (f) => f.slice(0, 2)))).toContain('segment.missing');
  });

  it('when fMP4 segments come without EXT-X-MAP, then media.map', () => {
    expect(rules(withFacts('audio/index.m3u8', (f) => f.map((x) => ({ ...x, container: 'fmp4', hasPat: null, hasPmt: null }))))).toEqual(['media.map']);
  });

  it('when the multivariant playlist carries media tags, then playlist.syntax', () => {
    expect(rules(withMaster((m) => m.replace('#EXT-X-INDEPENDENT-SEGMENTS', '#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-TARGETDURATION:6')))).toContain('playlist.syntax');
  });

  it('when a media playlist gives its media sequence after the first segment, then playlist.syntax (RFC 8216 4.3.3.2)', () => {
    const late = (m: string) => m.replace('#EXT-X-MEDIA-SEQUENCE:0\n', '').replace('seg-00000.ts\n', 'seg-00000.ts\n#EXT-X-MEDIA-SEQUENCE:0\n');
    expect(rules(withMedia('720p/index.m3u8', late))).toEqual(['playlist.syntax']);
  });

  it('when a media playlist carries EXT-X-INDEPENDENT-SEGMENTS twice, then playlist.syntax', () => {
    expect(rules(withMedia('720p/index.m3u8', (m) => m.replace('#EXT-X-INDEPENDENT-SEGMENTS\n', '#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-INDEPENDENT-SEGMENTS\n')))).toEqual(['playlist.syntax']);
  });

  it('when the known presentation length differs from every rendition, then media.duration', () => {
    expect(rules({ ...goodInput(), durationS: 15 })).toEqual(['media.duration']);
  });
});

describe('helpers', () => {
  it('when attribute lists hold quoted commas, then they are kept whole', () => {
    expect(Object.fromEntries(parseAttributes('BANDWIDTH=1,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1x1'))).toEqual({ BANDWIDTH: '1', CODECS: 'avc1.64001f,mp4a.40.2', RESOLUTION: '1x1' });
  });
  it('when URIs are relative, then they resolve against their playlist', () => {
    expect(resolveUri('master.m3u8', '720p/index.m3u8')).toBe('720p/index.m3u8');
    expect(resolveUri('720p/index.m3u8', 'seg-00000.ts')).toBe('720p/seg-00000.ts');
    expect(resolveUri('720p/index.m3u8', '../audio/x.ts')).toBe('audio/x.ts');
    expect(resolveUri('720p/index.m3u8', 'https://cdn.example/x.ts')).toBe('https://cdn.example/x.ts');
  });
});

// ---------------------------------------------------------------------------------------------
// MPEG-TS parsing on synthetic packets.

const sps720 = Buffer.from('6764001facd9405005bb0110000003001000000303c0f1831960', 'hex');

function packet(pid: number, pusi: boolean, payload: Buffer, cc: number): Buffer {
  const p = Buffer.alloc(188, 0xff);
  p[0] = 0x47;
  p[1] = (pusi ? 0x40 : 0) | (pid >> 8);
  p[2] = pid & 0xff;
  const room = 184;
  if (payload.length >= room) {
    p[3] = 0x10 | (cc & 0x0f);
    payload.copy(p, 4, 0, room);
  } else {
    p[3] = 0x30 | (cc & 0x0f);
    const af = room - payload.length - 1;
    p[4] = af;
    if (af > 0) p[5] = 0;
    payload.copy(p, 5 + af);
  }
  return p;
}

function packets(pid: number, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0, cc = 0; o < data.length; o += 184, cc++) out.push(packet(pid, o === 0, data.subarray(o, o + 184), cc));
  return out;
}

function section(tableId: number, body: Buffer): Buffer {
  const len = body.length + 5 + 4;
  return Buffer.concat([Buffer.from([0, tableId, 0xb0 | (len >> 8), len & 0xff, 0, 1, 0xc1, 0, 0]), body, Buffer.alloc(4)]);
}

const pat = section(0x00, Buffer.from([0x00, 0x01, 0xf0, 0x00]));
const pmt = section(0x02, Buffer.from([0xe1, 0x00, 0xf0, 0x00, 0x1b, 0xe1, 0x00, 0xf0, 0x00, 0x0f, 0xe1, 0x01, 0xf0, 0x00]));

function pts(t: number): Buffer {
  const v = Math.round(t * 90000);
  const hi = Math.floor(v / 2 ** 30) & 0x07;
  const lo = v % 2 ** 30;
  return Buffer.from([0x21 | (hi << 1), (lo >> 22) & 0xff, (((lo >> 15) & 0x7f) << 1) | 1, (lo >> 7) & 0xff, ((lo & 0x7f) << 1) | 1]);
}

function pes(streamId: number, t: number, es: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 1, streamId, 0, 0, 0x80, 0x80, 5]), pts(t), es]);
}

const nal = (bytes: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 1]), bytes]);

function adts(payload: number): Buffer {
  const len = payload + 7;
  return Buffer.concat([Buffer.from([0xff, 0xf1, 0x4c, 0x80 | (len >> 11), (len >> 3) & 0xff, ((len & 7) << 5) | 0x1f, 0xfc]), Buffer.alloc(payload)]);
}

function segment(opts: { pat?: boolean; pmt?: boolean; idrFirst?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  if (opts.pat !== false) parts.push(...packets(0, pat));
  if (opts.pmt !== false) parts.push(...packets(0x1000, pmt));
  for (let i = 0; i < 60; i++) {
    const key = i % 30 === 0 && (i > 0 || opts.idrFirst !== false);
    const es = Buffer.concat([nal(Buffer.from([0x09, 0xf0])), ...(key ? [nal(sps720), nal(Buffer.from([0x68, 0xeb]))] : []), nal(Buffer.from([key ? 0x65 : 0x41, 0x88, 0x84]))]);
    parts.push(...packets(0x100, pes(0xe0, 10 + i / 30, es)));
    if (i % 2 === 0) parts.push(...packets(0x101, pes(0xc0, 10 + i / 30, Buffer.concat([adts(20), adts(20)]))));
  }
  return Buffer.concat(parts);
}

describe('inspectTsSegment', () => {
  it('when a segment has PAT, PMT, H.264 and AAC, then tables, keyframes, timing and codec strings are read', () => {
    const f = inspectTsSegment(segment());
    expect(f).toMatchObject({ syncOk: true, hasPat: true, pmtPids: [0x1000], hasPmt: true, tablesFirst: true, startS: 10 });
    expect(f.streams.map((s) => s.codec)).toEqual(['h264', 'aac']);
    expect(f.video).toMatchObject({ codecs: 'avc1.64001f', width: 1280, height: 720, startsWithIdr: true, keyframesS: [10, 11], frames: 60 });
    expect(f.durationS).toBeCloseTo(2, 6);
    expect(f.audio).toMatchObject({ codecs: 'mp4a.40.2', sampleRate: 48000, channels: 2, frames: 60 });
  });

  it('when the segment starts with a P frame, then startsWithIdr is false', () => {
    expect(inspectTsSegment(segment({ idrFirst: false })).video?.startsWithIdr).toBe(false);
  });

  it('when the PAT or PMT is missing, then the validator facts say so', () => {
    expect(segmentFactsFromTs('x.ts', segment({ pat: false }))).toMatchObject({ hasPat: false, hasPmt: false });
    expect(segmentFactsFromTs('x.ts', segment({ pmt: false }))).toMatchObject({ hasPat: true, hasPmt: false });
  });

  it('when bytes are not whole packets, then packetsOk is false', () => {
    expect(segmentFactsFromTs('x.ts', Buffer.concat([segment(), Buffer.from([0x47, 1, 2])])).packetsOk).toBe(false);
  });

  it('when an SPS carries emulation prevention bytes, then the picture size is still right', () => {
    expect(parseH264Sps(sps720)).toEqual({ codecs: 'avc1.64001f', width: 1280, height: 720 });
    expect(parseH264Sps(Buffer.from('6764001eacd940a02ff970110000030001000003003c0f162d96', 'hex'))).toEqual({ codecs: 'avc1.64001e', width: 640, height: 360 });
  });
});

describe('loadVodInput', () => {
  it('when a presentation is read through a loader, then media playlists and segment facts are gathered by relative URI', async () => {
    const files: Record<string, string | Buffer> = {
      'master.m3u8': '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=1,AVERAGE-BANDWIDTH=1,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000\nv/index.m3u8\n',
      'v/index.m3u8': writeVodMediaPlaylist([{ uri: 'a.ts', durationS: 2 }, { uri: 'b.ts', durationS: 2 }]),
      'v/a.ts': segment(),
    };
    const loader: HlsLoader = {
      text: async (p) => String(files[p]),
      bytes: async (p) => {
        const b = files[p];
        if (!Buffer.isBuffer(b)) throw new Error(`missing ${p}`);
        return b;
      },
    };
    const input = await loadVodInput(loader);
    expect(Object.keys(input.media)).toEqual(['v/index.m3u8']);
    expect(input.segments!['v/index.m3u8'].map((s) => [s.uri, s.videoCodecs])).toEqual([['a.ts', 'avc1.64001f']]);
    expect(validateVod(input).map((v) => v.rule)).toContain('segment.missing');
  });
});

describe('rule groups, each alone', () => {
  type Group = (vod: VodPresentation) => Violation[];
  const groups: Record<string, Group> = { versionRules, variantRules, mediaPlaylistRules, segmentRules, alignmentRules };
  /** Rules each group finds in the input (groups that find nothing left out). */
  const byGroup = (input: VodInput): Record<string, string[]> => {
    const { vod } = readVod(input);
    const out: Record<string, string[]> = {};
    for (const [name, fn] of Object.entries(groups)) {
      const found = [...new Set(fn(vod).map((v) => v.rule))].sort();
      if (found.length) out[name] = found;
    }
    return out;
  };

  it('when the presentation is well formed, then reading it and every group find nothing', () => {
    expect(readVod(goodInput()).violations).toEqual([]);
    expect(byGroup(goodInput())).toEqual({});
  });

  it('when a variant has no media playlist, then reading the presentation reports it', () => {
    const i = goodInput();
    const media = { ...i.media };
    delete media['480p/index.m3u8'];
    expect(readVod({ ...i, media }).violations.map((v) => v.rule)).toEqual(['master.uri']);
  });

  it('when the master declares a higher version than needed, then only the version rules find it', () => {
    expect(byGroup(withMaster((m) => m.replace('#EXT-X-VERSION:3', '#EXT-X-VERSION:7')))).toEqual({ versionRules: ['master.version'] });
  });

  it('when a video variant lacks RESOLUTION, then only the variant rules find it', () => {
    expect(byGroup(withMaster((m) => m.replace(',RESOLUTION=854x480', '')))).toEqual({ variantRules: ['master.resolution'] });
  });

  it('when a media playlist lacks ENDLIST, then only the media playlist rules find it', () => {
    expect(byGroup(withMedia('360p/index.m3u8', (m) => m.replace('#EXT-X-ENDLIST\n', '')))).toEqual({ mediaPlaylistRules: ['media.endlist'] });
  });

  it('when a segment lacks its PAT, then only the segment rules find it', () => {
    expect(byGroup(withFacts('480p/index.m3u8', (f) => f.map((x, n) => (n === 2 ? { ...x, hasPat: false } : x))))).toEqual({ segmentRules: ['segment.pat-pmt'] });
  });

  it('when one rendition has a segment fewer, then the alignment rules find the count and the range', () => {
    const i = goodInput();
    const shorter = i.media['360p/index.m3u8'].replace(/#EXTINF:2\.000000,\nseg-00002\.ts\n/, '');
    const found = byGroup({ ...i, media: { ...i.media, '360p/index.m3u8': shorter }, segments: { ...i.segments, '360p/index.m3u8': i.segments!['360p/index.m3u8'].slice(0, 2) } });
    expect(found.alignmentRules).toEqual(['media.same-range', 'segment.aligned']);
  });
});
