/**
 * Measures an MPEG-TS as it streams past (no I/O here: the caller pushes chunks): packet sync, programs
 * and streams from PAT/PMT, null-packet share, PCR spacing, the transport rate in PCR time (over the
 * file and per window), and how far ahead of the PCR each PES's decode time sits. A constant mux rate
 * is only real when the rate holds per window *and* every access unit still arrives before its decode
 * time (lead >= 0) without running ahead of the decoder buffer.
 */
const packetSize = 188;
const pcrHz = 27_000_000;
const wrap33 = 2 ** 33;

export interface TsStream {
  pid: number;
  streamType: number;
}

export interface TsMuxReport {
  bytes: number;
  packets: number;
  /** Packets not starting with 0x47 (or a trailing partial packet). */
  syncErrors: number;
  nullPackets: number;
  programs: number;
  pcrPid: number | null;
  streams: TsStream[];
  pcrCount: number;
  maxPcrIntervalMs: number;
  /** Bits per second between the first and the last PCR, in PCR time. */
  rateBps: number;
  /** Slowest and fastest window of `windowS` seconds of PCR time. */
  windowMinBps: number;
  windowMaxBps: number;
  windows: number;
  /** Decode (or presentation) time minus PCR where each PES starts, ms; negative = late. */
  minLeadMs: number;
  maxLeadMs: number;
  /** Span of video PTS plus one frame, seconds (0 without video). */
  videoSpanS: number;
}

/** Stream types carrying video (MPEG-1/2, MPEG-4 part 2, H.264, HEVC). */
const videoTypes = new Set([0x01, 0x02, 0x10, 0x1b, 0x24]);

function unwrap(prev: number | null, v: number, modulus: number): number {
  if (prev === null) return v;
  let x = v;
  while (x < prev - modulus / 2) x += modulus;
  return x;
}

export class TsMuxMeter {
  private rest: Buffer = Buffer.alloc(0);
  private offset = 0;
  private packets = 0;
  private syncErrors = 0;
  private nullPackets = 0;
  private pmtPids = new Set<number>();
  private programs = 0;
  private pcrPid: number | null = null;
  private streams = new Map<number, number>();
  private pcrOff: number[] = [];
  private pcrVal: number[] = [];
  private pesOff: number[] = [];
  private pesTime: number[] = [];
  private videoPts: number[] = [];
  private lastTime: number | null = null;

  constructor(private readonly windowS = 1) {}

  push(chunk: Buffer): void {
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    let i = 0;
    for (; i + packetSize <= buf.length; i += packetSize) this.packet(buf.subarray(i, i + packetSize));
    this.rest = Buffer.from(buf.subarray(i));
  }

  private packet(p: Buffer): void {
    const off = this.offset;
    this.offset += packetSize;
    this.packets++;
    if (p[0] !== 0x47) {
      this.syncErrors++;
      return;
    }
    const pid = ((p[1] & 0x1f) << 8) | p[2];
    if (pid === 0x1fff) {
      this.nullPackets++;
      return;
    }
    const pusi = (p[1] & 0x40) !== 0;
    const afc = (p[3] >> 4) & 3;
    let payload = 4;
    if (afc & 2) {
      const len = p[4];
      if (len > 0 && (p[5] & 0x10) && pid === this.pcrPid) {
        const base = p[6] * 2 ** 25 + p[7] * 2 ** 17 + p[8] * 2 ** 9 + p[9] * 2 + (p[10] >> 7);
        const ext = ((p[10] & 1) << 8) | p[11];
        const prev = this.pcrVal.length ? this.pcrVal[this.pcrVal.length - 1] : null;
        this.pcrVal.push(unwrap(prev, base * 300 + ext, wrap33 * 300));
        this.pcrOff.push(off);
      }
      payload = 5 + len;
    }
    if (!(afc & 1) || payload >= packetSize || !pusi) return;
    const d = p.subarray(payload);
    if (pid === 0) return this.pat(d);
    if (this.pmtPids.has(pid)) return this.pmt(d);
    if (this.streams.has(pid) && d.length >= 14 && d[0] === 0 && d[1] === 0 && d[2] === 1) this.pes(off, pid, d);
  }

  private pat(d: Buffer): void {
    const s = d.subarray(1 + d[0]);
    const len = ((s[1] & 0x0f) << 8) | s[2];
    const programs = new Set<number>();
    for (let i = 8; i + 4 <= 3 + len - 4; i += 4) {
      const program = (s[i] << 8) | s[i + 1];
      if (program === 0) continue;
      programs.add(program);
      this.pmtPids.add(((s[i + 2] & 0x1f) << 8) | s[i + 3]);
    }
    this.programs = Math.max(this.programs, programs.size);
  }

  private pmt(d: Buffer): void {
    const s = d.subarray(1 + d[0]);
    if (s[0] !== 0x02) return;
    const len = ((s[1] & 0x0f) << 8) | s[2];
    this.pcrPid = ((s[8] & 0x1f) << 8) | s[9];
    const infoLen = ((s[10] & 0x0f) << 8) | s[11];
    for (let i = 12 + infoLen; i + 5 <= 3 + len - 4; ) {
      const type = s[i];
      const pid = ((s[i + 1] & 0x1f) << 8) | s[i + 2];
      const esLen = ((s[i + 3] & 0x0f) << 8) | s[i + 4];
      this.streams.set(pid, type);
      i += 5 + esLen;
    }
  }

  private pes(off: number, pid: number, d: Buffer): void {
    const flags = d[7] >> 6;
    if (!(flags & 2)) return;
    const ts = (b: number) => (d[b] & 0x0e) * 2 ** 29 + d[b + 1] * 2 ** 22 + (d[b + 2] >> 1) * 2 ** 15 + d[b + 3] * 2 ** 7 + (d[b + 4] >> 1);
    const pts = ts(9);
    const dts = flags === 3 ? ts(14) : pts;
    const t = unwrap(this.lastTime, dts, wrap33);
    this.lastTime = t;
    this.pesOff.push(off);
    this.pesTime.push(t);
    if (videoTypes.has(this.streams.get(pid) ?? -1)) this.videoPts.push(unwrap(this.lastTime, pts, wrap33));
  }

  finish(): TsMuxReport {
    if (this.rest.length) this.syncErrors++;
    const n = this.pcrVal.length;
    let maxGap = 0;
    for (let i = 1; i < n; i++) maxGap = Math.max(maxGap, this.pcrVal[i] - this.pcrVal[i - 1]);
    const rate = (a: number, b: number) => ((this.pcrOff[b] - this.pcrOff[a]) * 8 * pcrHz) / (this.pcrVal[b] - this.pcrVal[a]);
    let wMin = Infinity;
    let wMax = 0;
    let windows = 0;
    for (let a = 0, b = 1; b < n; b++) {
      if (this.pcrVal[b] - this.pcrVal[a] >= this.windowS * pcrHz) {
        const r = rate(a, b);
        wMin = Math.min(wMin, r);
        wMax = Math.max(wMax, r);
        windows++;
        a = b;
      }
    }
    let minLead = Infinity;
    let maxLead = -Infinity;
    for (let i = 0, k = 0; i < this.pesOff.length && n >= 2; i++) {
      const o = this.pesOff[i];
      while (k < n - 2 && this.pcrOff[k + 1] <= o) k++;
      const pcrAt = this.pcrVal[k] + ((o - this.pcrOff[k]) * (this.pcrVal[k + 1] - this.pcrVal[k])) / (this.pcrOff[k + 1] - this.pcrOff[k]);
      const lead = (this.pesTime[i] * 300 - pcrAt) / pcrHz * 1000;
      minLead = Math.min(minLead, lead);
      maxLead = Math.max(maxLead, lead);
    }
    let videoSpanS = 0;
    if (this.videoPts.length > 1) {
      const sorted = [...this.videoPts].sort((x, y) => x - y);
      let minStep = Infinity;
      for (let i = 1; i < sorted.length; i++) if (sorted[i] > sorted[i - 1]) minStep = Math.min(minStep, sorted[i] - sorted[i - 1]);
      videoSpanS = (sorted[sorted.length - 1] - sorted[0] + (Number.isFinite(minStep) ? minStep : 0)) / 90_000;
    }
    return {
      bytes: this.offset + this.rest.length,
      packets: this.packets,
      syncErrors: this.syncErrors,
      nullPackets: this.nullPackets,
      programs: this.programs,
      pcrPid: this.pcrPid,
      streams: [...this.streams].map(([pid, streamType]) => ({ pid, streamType })),
      pcrCount: n,
      maxPcrIntervalMs: (maxGap / pcrHz) * 1000,
      rateBps: n >= 2 ? rate(0, n - 1) : 0,
      windowMinBps: windows ? wMin : 0,
      windowMaxBps: wMax,
      windows,
      minLeadMs: Number.isFinite(minLead) ? minLead : 0,
      maxLeadMs: Number.isFinite(maxLead) ? maxLead : 0,
      videoSpanS,
    };
  }
}

/** Ways a measured stream misses a constant mux rate of `rateBps` (tolerance as a fraction, 0.01 = 1 %). */
export function muxRateProblems(r: TsMuxReport, rateBps: number, tolerance = 0.01): string[] {
  const out: string[] = [];
  const off = (v: number) => Math.abs(v - rateBps) / rateBps;
  if (r.syncErrors) out.push(`${r.syncErrors} packets out of sync`);
  if (r.programs !== 1) out.push(`${r.programs} programs, want exactly 1`);
  if (r.pcrCount < 2) out.push('fewer than two PCRs');
  if (r.maxPcrIntervalMs > 40) out.push(`PCR gap of ${r.maxPcrIntervalMs.toFixed(1)} ms exceeds 40 ms`);
  if (off(r.rateBps) > tolerance) out.push(`mux rate ${Math.round(r.rateBps)} b/s is not within ${tolerance * 100} % of ${rateBps}`);
  if (r.windows && (off(r.windowMinBps) > tolerance || off(r.windowMaxBps) > tolerance)) {
    out.push(`per-window mux rate ${Math.round(r.windowMinBps)}..${Math.round(r.windowMaxBps)} b/s strays more than ${tolerance * 100} % from ${rateBps}`);
  }
  if (r.nullPackets === 0) out.push('no null packets: the streams fill the whole mux, it cannot stay constant');
  if (r.minLeadMs < 0) out.push(`an access unit arrives ${(-r.minLeadMs).toFixed(1)} ms after its decode time: the mux rate is too low for the streams`);
  // ISO/IEC 13818-1 2.4.2.6: data may wait at most one second in the decoder buffer
  if (r.maxLeadMs > 1000) out.push(`an access unit arrives ${r.maxLeadMs.toFixed(0)} ms before its decode time (more than 1 s)`);
  return out;
}
