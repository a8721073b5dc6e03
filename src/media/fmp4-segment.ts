/**
 * Pure fMP4 (CMAF) inspection for HLS checks: tracks and codec strings of an initialization segment
 * (avcC, esds), and per-track timing and sync samples of a media segment (tfdt, trun). The fMP4
 * counterpart of ts-segment.ts.
 */
import { boxes, type Box } from './fmp4-boxes.ts';

function child(b: Buffer, parent: Box | { body: number; end: number }, type: string): Box | undefined {
  for (const x of boxes(b, parent.body, parent.end)) if (x.type === type) return x;
  return undefined;
}

function children(b: Buffer, parent: { body: number; end: number }, type: string): Box[] {
  return [...boxes(b, parent.body, parent.end)].filter((x) => x.type === type);
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

export interface Fmp4Track {
  trackId: number;
  /** `vide`, `soun`... */
  handler: string;
  timescale: number;
  /** RFC 6381 codec string (`avc1.64001f`, `mp4a.40.2`) when known. */
  codecs: string | null;
  width: number | null;
  height: number | null;
  sampleRate: number | null;
  channels: number | null;
  defaultSampleDuration: number;
  defaultSampleFlags: number;
}

export interface Fmp4Init {
  tracks: Fmp4Track[];
}

/** Reads an object descriptor length (1-4 bytes, 7 bits each). */
function descLength(b: Buffer, off: number): [number, number] {
  let len = 0;
  let i = 0;
  for (; i < 4; i++) {
    const v = b[off + i];
    len = (len << 7) | (v & 0x7f);
    if (!(v & 0x80)) break;
  }
  return [len, off + i + 1];
}

function mp4aCodecs(b: Buffer, esds: Box): string | null {
  let off = esds.body + 4;
  const end = esds.end;
  while (off + 2 <= end) {
    const tag = b[off];
    const [len, next] = descLength(b, off + 1);
    if (tag === 0x03) {
      const flags = b[next + 2];
      off = next + 3 + (flags & 0x80 ? 2 : 0) + (flags & 0x40 ? 1 + b[next + 3] : 0) + (flags & 0x20 ? 2 : 0);
      continue;
    }
    if (tag === 0x04) {
      const oti = b[next];
      let o = next + 13;
      while (o + 2 <= next + len) {
        const t = b[o];
        const [l, n] = descLength(b, o + 1);
        if (t === 0x05 && l >= 1) {
          let aot = b[n] >> 3;
          if (aot === 31 && l >= 2) aot = 32 + (((b[n] & 7) << 3) | (b[n + 1] >> 5));
          return `mp4a.${hex2(oti)}.${aot}`;
        }
        o = n + l;
      }
      return `mp4a.${hex2(oti)}`;
    }
    off = next + len;
  }
  return null;
}

/** Tracks of an fMP4 initialization segment (ftyp + moov). */
export function inspectFmp4Init(input: Uint8Array): Fmp4Init {
  const b = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const moov = [...boxes(b, 0, b.length)].find((x) => x.type === 'moov');
  if (!moov) return { tracks: [] };
  const trex = new Map<number, { dur: number; flags: number }>();
  const mvex = child(b, moov, 'mvex');
  if (mvex) for (const t of children(b, mvex, 'trex')) trex.set(b.readUInt32BE(t.body + 4), { dur: b.readUInt32BE(t.body + 12), flags: b.readUInt32BE(t.body + 20) });
  const tracks: Fmp4Track[] = [];
  for (const trak of children(b, moov, 'trak')) {
    const tkhd = child(b, trak, 'tkhd');
    const mdia = child(b, trak, 'mdia');
    if (!tkhd || !mdia) continue;
    const trackId = b.readUInt32BE(tkhd.body + (b[tkhd.body] === 1 ? 20 : 12));
    const mdhd = child(b, mdia, 'mdhd');
    const hdlr = child(b, mdia, 'hdlr');
    const timescale = mdhd ? b.readUInt32BE(mdhd.body + (b[mdhd.body] === 1 ? 20 : 12)) : 0;
    const handler = hdlr ? b.toString('latin1', hdlr.body + 8, hdlr.body + 12) : '';
    const stsd = child(b, child(b, child(b, mdia, 'minf') ?? mdia, 'stbl') ?? mdia, 'stsd');
    let codecs: string | null = null;
    let width: number | null = null;
    let height: number | null = null;
    let sampleRate: number | null = null;
    let channels: number | null = null;
    const entry = stsd ? [...boxes(b, stsd.body + 8, stsd.end)][0] : undefined;
    if (entry && /^(avc1|avc3)$/.test(entry.type)) {
      width = b.readUInt16BE(entry.body + 24);
      height = b.readUInt16BE(entry.body + 26);
      const avcC = [...boxes(b, entry.body + 78, entry.end)].find((x) => x.type === 'avcC');
      codecs = avcC ? `${entry.type}.${hex2(b[avcC.body + 1])}${hex2(b[avcC.body + 2])}${hex2(b[avcC.body + 3])}` : entry.type;
    } else if (entry && /^(hvc1|hev1)$/.test(entry.type)) {
      width = b.readUInt16BE(entry.body + 24);
      height = b.readUInt16BE(entry.body + 26);
      codecs = entry.type;
    } else if (entry && entry.type === 'mp4a') {
      channels = b.readUInt16BE(entry.body + 16);
      sampleRate = b.readUInt32BE(entry.body + 24) >>> 16;
      const esds = [...boxes(b, entry.body + 28, entry.end)].find((x) => x.type === 'esds');
      codecs = esds ? mp4aCodecs(b, esds) : 'mp4a';
    }
    const defaults = trex.get(trackId) ?? { dur: 0, flags: 0 };
    tracks.push({ trackId, handler, timescale, codecs, width, height, sampleRate, channels, defaultSampleDuration: defaults.dur, defaultSampleFlags: defaults.flags });
  }
  return { tracks };
}

export interface Fmp4TrackTiming {
  trackId: number;
  handler: string;
  /** Presentation start of the first sample, seconds. */
  startS: number;
  durationS: number;
  samples: number;
  firstIsSync: boolean;
  /** Presentation times of sync samples, seconds. */
  syncS: number[];
  /** Median sample duration, seconds. */
  sampleDurationS: number;
}

/** Timing of every track fragment in an fMP4 media segment, using the init's timescales and defaults. */
export function inspectFmp4Segment(input: Uint8Array, init: Fmp4Init): Fmp4TrackTiming[] {
  const b = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const acc = new Map<number, { start: number; dur: number; samples: number; first: boolean | null; sync: number[]; durs: number[] }>();
  for (const moof of [...boxes(b, 0, b.length)].filter((x) => x.type === 'moof')) {
    for (const traf of children(b, moof, 'traf')) {
      const tfhd = child(b, traf, 'tfhd');
      if (!tfhd) continue;
      const tf = b.readUInt32BE(tfhd.body) & 0xffffff;
      const trackId = b.readUInt32BE(tfhd.body + 4);
      const track = init.tracks.find((t) => t.trackId === trackId);
      let o = tfhd.body + 8;
      if (tf & 0x1) o += 8;
      if (tf & 0x2) o += 4;
      let defDur = track?.defaultSampleDuration ?? 0;
      let defFlags = track?.defaultSampleFlags ?? 0;
      if (tf & 0x8) {
        defDur = b.readUInt32BE(o);
        o += 4;
      }
      if (tf & 0x10) o += 4;
      if (tf & 0x20) defFlags = b.readUInt32BE(o);
      const tfdt = child(b, traf, 'tfdt');
      let dts = tfdt ? (b[tfdt.body] === 1 ? Number(b.readBigUInt64BE(tfdt.body + 4)) : b.readUInt32BE(tfdt.body + 4)) : 0;
      const scale = track?.timescale || 90000;
      const a = acc.get(trackId) ?? { start: Infinity, dur: 0, samples: 0, first: null, sync: [], durs: [] };
      for (const trun of children(b, traf, 'trun')) {
        const version = b[trun.body];
        const rf = b.readUInt32BE(trun.body) & 0xffffff;
        const count = b.readUInt32BE(trun.body + 4);
        let p = trun.body + 8;
        if (rf & 0x1) p += 4;
        let firstFlags: number | null = null;
        if (rf & 0x4) {
          firstFlags = b.readUInt32BE(p);
          p += 4;
        }
        for (let i = 0; i < count && p <= trun.end; i++) {
          let dur = defDur;
          let flags = i === 0 && firstFlags !== null ? firstFlags : defFlags;
          let cts = 0;
          if (rf & 0x100) {
            dur = b.readUInt32BE(p);
            p += 4;
          }
          if (rf & 0x200) p += 4;
          if (rf & 0x400) {
            flags = b.readUInt32BE(p);
            p += 4;
          }
          if (rf & 0x800) {
            cts = version === 0 ? b.readUInt32BE(p) : b.readInt32BE(p);
            p += 4;
          }
          const sync = !((flags >> 16) & 1);
          const pts = (dts + cts) / scale;
          if (a.first === null) a.first = sync;
          if (sync) a.sync.push(pts);
          a.start = Math.min(a.start, pts);
          a.dur += dur / scale;
          a.durs.push(dur / scale);
          a.samples++;
          dts += dur;
        }
      }
      acc.set(trackId, a);
    }
  }
  return [...acc.entries()].map(([trackId, a]) => {
    const sorted = [...a.durs].sort((x, y) => x - y);
    return {
      trackId,
      handler: init.tracks.find((t) => t.trackId === trackId)?.handler ?? '',
      startS: Number.isFinite(a.start) ? a.start : 0,
      durationS: a.dur,
      samples: a.samples,
      firstIsSync: a.first ?? false,
      syncS: a.sync.sort((x, y) => x - y),
      sampleDurationS: sorted[Math.floor(sorted.length / 2)] ?? 0,
    };
  });
}
