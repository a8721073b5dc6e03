/**
 * Pure MPEG-TS segment inspection for HLS checks: PAT/PMT presence, elementary streams, PTS range,
 * keyframes (H.264/HEVC NAL types), codec strings from the real bitstream (H.264 SPS, ADTS header) and
 * the coded picture size. Works on a whole segment in memory (segments are a few MB).
 */

export interface TsStreamInfo {
  pid: number;
  streamType: number;
  kind: 'video' | 'audio' | 'other';
  codec: 'h264' | 'hevc' | 'aac' | 'mp3' | 'ac3' | 'eac3' | 'other';
}

export interface TsVideoFacts {
  /** RFC 6381 codec string from the SPS, e.g. `avc1.64001f`; null when no SPS was seen. */
  codecs: string | null;
  width: number | null;
  height: number | null;
  /** First access unit in decode order is an IDR (H.264 type 5, HEVC IRAP). */
  startsWithIdr: boolean;
  /** Presentation times (seconds) of every keyframe in the segment, ascending. */
  keyframesS: number[];
  firstPtsS: number;
  /** Last presentation end: highest PTS plus one frame. */
  endS: number;
  frames: number;
  /** Median frame interval, seconds. */
  frameDurationS: number;
}

export interface TsAudioFacts {
  /** `mp4a.40.2` for AAC-LC (object type from the ADTS header). */
  codecs: string | null;
  sampleRate: number | null;
  channels: number | null;
  firstPtsS: number;
  endS: number;
  frames: number;
}

export interface TsSegmentFacts {
  size: number;
  /** Every packet is 188 bytes and starts with 0x47. */
  syncOk: boolean;
  hasPat: boolean;
  /** PMT PIDs the PAT names. */
  pmtPids: number[];
  /** A PMT section was found on a PID the PAT names. */
  hasPmt: boolean;
  /** PAT and PMT come before the first PES packet (a player can start decoding the segment alone). */
  tablesFirst: boolean;
  streams: TsStreamInfo[];
  video: TsVideoFacts | null;
  audio: TsAudioFacts | null;
  /** Start of the segment: first video PTS, else first audio PTS (seconds, 90 kHz clock). */
  startS: number | null;
  durationS: number | null;
}

const PACKET = 188;

function streamKind(type: number): Pick<TsStreamInfo, 'kind' | 'codec'> {
  switch (type) {
    case 0x1b:
      return { kind: 'video', codec: 'h264' };
    case 0x24:
      return { kind: 'video', codec: 'hevc' };
    case 0x01:
    case 0x02:
    case 0x10:
      return { kind: 'video', codec: 'other' };
    case 0x0f:
      return { kind: 'audio', codec: 'aac' };
    case 0x03:
    case 0x04:
      return { kind: 'audio', codec: 'mp3' };
    case 0x81:
      return { kind: 'audio', codec: 'ac3' };
    case 0x87:
      return { kind: 'audio', codec: 'eac3' };
    default:
      return { kind: 'other', codec: 'other' };
  }
}

interface Pes {
  pts: number | null;
  dts: number | null;
  data: Buffer;
}

function readTimestamp(b: Buffer, o: number): number {
  // 33-bit PTS/DTS spread over 5 bytes with marker bits.
  return (((b[o] >> 1) & 0x07) * 2 ** 30) + ((b[o + 1] << 22) | ((b[o + 2] >> 1) << 15) | (b[o + 3] << 7) | (b[o + 4] >> 1));
}

function parsePes(buf: Buffer): Pes | null {
  if (buf.length < 9 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 1) return null;
  const flags = buf[7];
  const headerLen = buf[8];
  let pts: number | null = null;
  let dts: number | null = null;
  if (flags & 0x80 && buf.length >= 14) pts = readTimestamp(buf, 9);
  if ((flags & 0xc0) === 0xc0 && buf.length >= 19) dts = readTimestamp(buf, 14);
  return { pts, dts, data: buf.subarray(9 + headerLen) };
}

/** NAL unit payloads of an Annex B byte stream. */
function nalUnits(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  let start = -1;
  while (i + 2 < data.length) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if (start >= 0) out.push(data.subarray(start, i > 0 && data[i - 1] === 0 ? i - 1 : i));
      start = i + 3;
      i += 3;
    } else i++;
  }
  if (start >= 0 && start < data.length) out.push(data.subarray(start));
  return out;
}

class BitReader {
  private pos = 0;
  constructor(private readonly b: Buffer) {}
  bit(): number {
    const byte = this.b[this.pos >> 3];
    if (byte === undefined) throw new Error('end of SPS');
    const v = (byte >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return v;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      zeros++;
      if (zeros > 31) throw new Error('bad exp-golomb');
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k % 2 ? (k + 1) / 2 : -k / 2;
  }
}

function unescapeRbsp(nal: Buffer): Buffer {
  const out: number[] = [];
  let zeros = 0;
  for (const byte of nal) {
    // Emulation prevention: 00 00 03 carries 00 00 in the raw byte sequence payload.
    if (zeros >= 2 && byte === 3) {
      zeros = 0;
      continue;
    }
    out.push(byte);
    zeros = byte === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** Codec string and picture size from an H.264 SPS NAL (header byte included). */
export function parseH264Sps(nal: Buffer): { codecs: string; width: number | null; height: number | null } {
  const profile = nal[1];
  const constraints = nal[2];
  const level = nal[3];
  const codecs = `avc1.${hex2(profile)}${hex2(constraints)}${hex2(level)}`;
  try {
    const r = new BitReader(unescapeRbsp(nal.subarray(4)));
    r.ue(); // seq_parameter_set_id
    let chromaFormat = 1;
    if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
      chromaFormat = r.ue();
      if (chromaFormat === 3) r.bit();
      r.ue();
      r.ue();
      r.bit();
      if (r.bit()) {
        for (let i = 0; i < (chromaFormat !== 3 ? 8 : 12); i++) {
          if (r.bit()) {
            const size = i < 6 ? 16 : 64;
            let last = 8;
            let next = 8;
            for (let j = 0; j < size; j++) {
              if (next !== 0) next = (last + r.se() + 256) % 256;
              last = next === 0 ? last : next;
            }
          }
        }
      }
    }
    r.ue(); // log2_max_frame_num_minus4
    const pocType = r.ue();
    if (pocType === 0) r.ue();
    else if (pocType === 1) {
      r.bit();
      r.se();
      r.se();
      const n = r.ue();
      for (let i = 0; i < n; i++) r.se();
    }
    r.ue(); // max_num_ref_frames
    r.bit();
    const wMbs = r.ue() + 1;
    const hMapUnits = r.ue() + 1;
    const frameMbsOnly = r.bit();
    if (!frameMbsOnly) r.bit();
    r.bit();
    let crop = [0, 0, 0, 0];
    if (r.bit()) crop = [r.ue(), r.ue(), r.ue(), r.ue()];
    const subW = chromaFormat === 1 || chromaFormat === 2 ? 2 : 1;
    const subH = chromaFormat === 1 ? 2 : 1;
    const cropX = chromaFormat === 0 ? 1 : subW;
    const cropY = (chromaFormat === 0 ? 1 : subH) * (2 - frameMbsOnly);
    return {
      codecs,
      width: wMbs * 16 - cropX * (crop[0] + crop[1]),
      height: (2 - frameMbsOnly) * hMapUnits * 16 - cropY * (crop[2] + crop[3]),
    };
  } catch {
    return { codecs, width: null, height: null };
  }
}

const adtsRates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

interface Adts {
  objectType: number;
  sampleRate: number | null;
  channels: number;
  frames: number;
}

/** Walks ADTS frames in one PES payload. */
function parseAdts(data: Buffer): Adts | null {
  let o = 0;
  let first: Omit<Adts, 'frames'> | null = null;
  let frames = 0;
  while (o + 7 <= data.length && data[o] === 0xff && (data[o + 1] & 0xf6) === 0xf0) {
    const profile = data[o + 2] >> 6;
    const rateIdx = (data[o + 2] >> 2) & 0x0f;
    const channels = ((data[o + 2] & 1) << 2) | (data[o + 3] >> 6);
    const len = ((data[o + 3] & 3) << 11) | (data[o + 4] << 3) | (data[o + 5] >> 5);
    const blocks = (data[o + 6] & 3) + 1;
    if (!first) first = { objectType: profile + 1, sampleRate: adtsRates[rateIdx] ?? null, channels };
    frames += blocks;
    if (len < 7) break;
    o += len;
  }
  return first ? { ...first, frames } : null;
}

function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** What the program tables (PAT, PMT) of a segment said, and whether they came before any media. */
interface TableState {
  hasPat: boolean;
  pmtPids: Set<number>;
  hasPmt: boolean;
  tablesFirst: boolean;
  sawPes: boolean;
  streams: Map<number, TsStreamInfo>;
}

/** Reads a PAT (its programs' PMT pids) or a PMT (its elementary streams) starting in this payload. */
function readTable(pid: number, payload: Buffer, t: TableState): void {
  const sec = payload.subarray(1 + payload[0]);
  const tableId = sec[0];
  const sectionLength = ((sec[1] & 0x0f) << 8) | sec[2];
  const end = Math.min(sec.length, 3 + sectionLength - 4);
  if (pid === 0 && tableId === 0x00) {
    t.hasPat = true;
    for (let i = 8; i + 4 <= end; i += 4) {
      const program = (sec[i] << 8) | sec[i + 1];
      const pmtPid = ((sec[i + 2] & 0x1f) << 8) | sec[i + 3];
      if (program !== 0) t.pmtPids.add(pmtPid);
    }
  } else if (tableId === 0x02) {
    t.hasPmt = true;
    if (!t.sawPes && t.hasPat) t.tablesFirst = true;
    const infoLen = ((sec[10] & 0x0f) << 8) | sec[11];
    for (let i = 12 + infoLen; i + 5 <= end; ) {
      const type = sec[i];
      const esPid = ((sec[i + 1] & 0x1f) << 8) | sec[i + 2];
      const esInfo = ((sec[i + 3] & 0x0f) << 8) | sec[i + 4];
      if (!t.streams.has(esPid)) t.streams.set(esPid, { pid: esPid, streamType: type, ...streamKind(type) });
      i += 5 + esInfo;
    }
  }
}

/** Inspects one MPEG-TS segment. */
export function inspectTsSegment(input: Uint8Array): TsSegmentFacts {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const size = buf.length;
  let syncOk = size > 0 && size % PACKET === 0;
  const t: TableState = { hasPat: false, pmtPids: new Set(), hasPmt: false, tablesFirst: false, sawPes: false, streams: new Map() };
  const pending = new Map<number, Buffer[]>();
  const pesByPid = new Map<number, Pes[]>();

  const flush = (pid: number) => {
    const parts = pending.get(pid);
    if (!parts?.length) return;
    const pes = parsePes(Buffer.concat(parts));
    if (pes) {
      const list = pesByPid.get(pid) ?? [];
      list.push(pes);
      pesByPid.set(pid, list);
    }
    pending.set(pid, []);
  };

  for (let off = 0; off + PACKET <= size; off += PACKET) {
    if (buf[off] !== 0x47) {
      syncOk = false;
      continue;
    }
    const pusi = (buf[off + 1] & 0x40) !== 0;
    const pid = ((buf[off + 1] & 0x1f) << 8) | buf[off + 2];
    const afc = (buf[off + 3] >> 4) & 3;
    let p = off + 4;
    if (afc === 2 || afc === 0) continue;
    if (afc === 3) p += 1 + buf[off + 4];
    if (p >= off + PACKET) continue;
    const payload = buf.subarray(p, off + PACKET);
    if (pid === 0 || t.pmtPids.has(pid)) {
      if (pusi) readTable(pid, payload, t);
      continue;
    }
    // 0x00-0x1F carry tables (SDT, NIT...), 0x1FFF is stuffing: no elementary stream there.
    if (pid < 0x20 || pid === 0x1fff) continue;
    if (pusi) {
      t.sawPes = true;
      flush(pid);
      pending.set(pid, [payload]);
    } else if (pending.has(pid)) {
      pending.get(pid)!.push(payload);
    }
  }
  for (const pid of pending.keys()) flush(pid);

  const list = [...t.streams.values()];
  const videoStream = list.find((s) => s.kind === 'video');
  const audioStream = list.find((s) => s.kind === 'audio');
  const video = videoStream ? videoFacts(videoStream, pesByPid.get(videoStream.pid) ?? []) : null;
  const audio = audioStream ? audioFacts(audioStream, pesByPid.get(audioStream.pid) ?? []) : null;
  const startS = video ? video.firstPtsS : audio ? audio.firstPtsS : null;
  const endS = video ? video.endS : audio ? audio.endS : null;
  return {
    size,
    syncOk,
    hasPat: t.hasPat,
    pmtPids: [...t.pmtPids],
    hasPmt: t.hasPmt,
    tablesFirst: t.tablesFirst,
    streams: list,
    video,
    audio,
    startS,
    durationS: startS !== null && endS !== null ? endS - startS : null,
  };
}

function isKeyNal(codec: TsStreamInfo['codec'], nal: Buffer): boolean {
  if (!nal.length) return false;
  if (codec === 'hevc') {
    const t = (nal[0] >> 1) & 0x3f;
    return t >= 16 && t <= 21;
  }
  return (nal[0] & 0x1f) === 5;
}

function videoFacts(s: TsStreamInfo, pes: Pes[]): TsVideoFacts | null {
  const timed = pes.filter((p) => p.pts !== null);
  if (!timed.length) return null;
  let codecs: string | null = null;
  let width: number | null = null;
  let height: number | null = null;
  const keyframes: number[] = [];
  let startsWithIdr = false;
  timed.forEach((p, i) => {
    const nals = nalUnits(p.data);
    const key = nals.some((n) => isKeyNal(s.codec, n));
    if (i === 0) startsWithIdr = key;
    if (key) keyframes.push(p.pts! / 90000);
    if (!codecs && s.codec === 'h264') {
      const sps = nals.find((n) => n.length > 4 && (n[0] & 0x1f) === 7);
      if (sps) ({ codecs, width, height } = parseH264Sps(sps));
    }
  });
  const ptsList = timed.map((p) => p.pts! / 90000).sort((a, b) => a - b);
  const diffs = ptsList.slice(1).map((v, i) => v - ptsList[i]).filter((d) => d > 0);
  const frameDurationS = median(diffs);
  return {
    codecs,
    width,
    height,
    startsWithIdr,
    keyframesS: keyframes.sort((a, b) => a - b),
    firstPtsS: ptsList[0],
    endS: ptsList[ptsList.length - 1] + frameDurationS,
    frames: ptsList.length,
    frameDurationS,
  };
}

/** Frame rates cameras, OBS and our encoders send: a measure within 1 % of one is that rate. */
const commonFrameRates = [23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60];

/**
 * A segment's video frame rate for FRAME-RATE (REFERENCE: 3 decimals), measured from its frames and
 * their span. A remuxed stream has the publisher's millisecond timestamps, so one frame interval
 * rounds either way; the whole span does not, and a common rate within 1 % is taken as that rate.
 * Null when the segment has too few frames to tell.
 */
export function measuredFrameRate(v: Pick<TsVideoFacts, 'frames' | 'firstPtsS' | 'endS'>): number | null {
  const span = v.endS - v.firstPtsS;
  if (v.frames < 2 || !(span > 0)) return null;
  const fps = v.frames / span;
  const near = commonFrameRates.reduce((a, b) => (Math.abs(b - fps) < Math.abs(a - fps) ? b : a));
  return Math.abs(near - fps) <= near * 0.01 ? near : Math.round(fps * 1000) / 1000;
}

function audioFacts(s: TsStreamInfo, pes: Pes[]): TsAudioFacts | null {
  const timed = pes.filter((p) => p.pts !== null);
  if (!timed.length) return null;
  let codecs: string | null = null;
  let sampleRate: number | null = null;
  let channels: number | null = null;
  let frames = 0;
  let endS = 0;
  for (const p of timed) {
    const adts = s.codec === 'aac' ? parseAdts(p.data) : null;
    if (adts) {
      if (!codecs) {
        codecs = `mp4a.40.${adts.objectType}`;
        sampleRate = adts.sampleRate;
        channels = adts.channels;
      }
      frames += adts.frames;
      const end = p.pts! / 90000 + (adts.sampleRate ? (adts.frames * 1024) / adts.sampleRate : 0);
      if (end > endS) endS = end;
    }
  }
  const first = Math.min(...timed.map((p) => p.pts! / 90000));
  return { codecs, sampleRate, channels, firstPtsS: first, endS: Math.max(endS, first), frames };
}
