import { describe, expect, it } from 'vitest';
import { TsMuxMeter, muxRateProblems, type TsMuxReport } from '../../src/media/ts-mux-meter.ts';

const pid = { pmt: 0x1000, video: 0x100, nul: 0x1fff };

function packet(p: number, flags: number, body: number[]): Buffer {
  const b = Buffer.alloc(188, 0xff);
  b[0] = 0x47;
  b[1] = flags | (p >> 8);
  b[2] = p & 0xff;
  Buffer.from(body).copy(b, 3);
  return b;
}

const pat = () => packet(0, 0x40, [0x10, 0x00, 0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xe0 | (pid.pmt >> 8), pid.pmt & 0xff, 0, 0, 0, 0]);
const pmt = () => packet(pid.pmt, 0x40, [0x10, 0x00, 0x02, 0xb0, 18, 0x00, 0x01, 0xc1, 0, 0, 0xe1, 0x00, 0xf0, 0x00, 0x1b, 0xe1, 0x00, 0xf0, 0x00, 0, 0, 0, 0]);
const nul = () => packet(pid.nul, 0, [0x10]);

function ts33(prefix: number, t: number): number[] {
  return [(prefix << 4) | (Math.floor(t / 2 ** 29) & 0x0e) | 1, Math.floor(t / 2 ** 22) & 0xff, (Math.floor(t / 2 ** 14) & 0xfe) | 1, Math.floor(t / 2 ** 7) & 0xff, ((t * 2) & 0xfe) | 1];
}

/** A video PES start carrying PTS = DTS + 2 frames, DTS in 90 kHz. */
const pes = (dts: number) => packet(pid.video, 0x40, [0x10, 0, 0, 1, 0xe0, 0, 0, 0x80, 0xc0, 10, ...ts33(3, dts + 7200), ...ts33(1, dts)]);

function pcrPacket(pcr: number): Buffer {
  const base = Math.floor(pcr / 300);
  const ext = pcr % 300;
  return packet(pid.video, 0, [0x20, 183, 0x10, Math.floor(base / 2 ** 25) & 0xff, Math.floor(base / 2 ** 17) & 0xff, Math.floor(base / 2 ** 9) & 0xff, Math.floor(base / 2) & 0xff, ((base & 1) << 7) | 0x7e | (ext >> 8), ext & 0xff]);
}

/**
 * A synthetic CBR stream: PAT/PMT every 100 ms, PCR every `pcrMs`, one 25 fps frame start per 40 ms
 * whose DTS is `leadS` after its arrival, null packets everywhere else.
 */
function cbrStream(o: { rateBps: number; seconds: number; leadS: number; pcrMs?: number; nulls?: boolean }): Buffer {
  const out: Buffer[] = [];
  const n = Math.floor((o.seconds * o.rateBps) / 8 / 188);
  let nextTable = 0;
  let nextPcr = 0;
  let nextFrame = 0;
  const t0 = 1.4;
  for (let k = 0; k < n; k++) {
    const t = (k * 188 * 8) / o.rateBps;
    if (t >= nextTable) {
      out.push(k % 2 ? pmt() : pat());
      if (k % 2) nextTable += 0.1;
    } else if (t >= nextPcr) {
      out.push(pcrPacket(Math.round((t0 + t) * 27_000_000)));
      nextPcr += (o.pcrMs ?? 20) / 1000;
    } else if (t >= nextFrame) {
      out.push(pes(Math.round((t0 + t + o.leadS) * 90_000)));
      nextFrame += 0.04;
    } else {
      out.push(o.nulls === false ? packet(pid.video, 0, [0x10]) : nul());
    }
  }
  return Buffer.concat(out);
}

function measure(buf: Buffer, chunk = 1000): TsMuxReport {
  const m = new TsMuxMeter();
  for (let i = 0; i < buf.length; i += chunk) m.push(buf.subarray(i, i + chunk));
  return m.finish();
}

describe('TS mux meter', () => {
  it('when a constant 2 Mb/s stream is pushed in odd-sized chunks, then rate, windows, PCR spacing, programs and decode lead are measured', () => {
    const r = measure(cbrStream({ rateBps: 2_000_000, seconds: 3, leadS: 0.5 }), 1001);
    expect(r.syncErrors).toBe(0);
    expect(r.programs).toBe(1);
    expect(r.pcrPid).toBe(pid.video);
    expect(r.streams).toEqual([{ pid: pid.video, streamType: 0x1b }]);
    expect(r.rateBps).toBeCloseTo(2_000_000, -2);
    expect(r.windows).toBe(2);
    expect(Math.abs(r.windowMinBps - 2e6) / 2e6).toBeLessThan(0.001);
    expect(Math.abs(r.windowMaxBps - 2e6) / 2e6).toBeLessThan(0.001);
    expect(r.maxPcrIntervalMs).toBeGreaterThan(20);
    expect(r.maxPcrIntervalMs).toBeLessThan(23);
    expect(r.minLeadMs).toBeGreaterThan(499);
    expect(r.maxLeadMs).toBeLessThan(501);
    expect(r.videoSpanS).toBeCloseTo(3, 1);
    expect(muxRateProblems(r, 2_000_000)).toEqual([]);
  });

  it('when the file is measured against another rate, then the rate problem names both', () => {
    expect(muxRateProblems(measure(cbrStream({ rateBps: 2_000_000, seconds: 3, leadS: 0.5 })), 2_100_000).join('\n')).toMatch(/mux rate 2000000 b\/s is not within 1 % of 2100000/);
  });

  it('when frames arrive after their decode time, then the stream is reported late', () => {
    expect(muxRateProblems(measure(cbrStream({ rateBps: 2_000_000, seconds: 2, leadS: -0.1 })), 2_000_000).join('\n')).toMatch(/after its decode time/);
  });

  it('when frames arrive more than a second early, then the decoder buffer rule is reported', () => {
    expect(muxRateProblems(measure(cbrStream({ rateBps: 2_000_000, seconds: 2, leadS: 1.5 })), 2_000_000).join('\n')).toMatch(/more than 1 s/);
  });

  it('when PCRs come every 60 ms, then the 40 ms PCR rule is reported', () => {
    expect(muxRateProblems(measure(cbrStream({ rateBps: 2_000_000, seconds: 2, leadS: 0.5, pcrMs: 60 })), 2_000_000).join('\n')).toMatch(/PCR gap of 6\d\.\d ms exceeds 40 ms/);
  });

  it('when there is no stuffing, then the mux is reported as full', () => {
    expect(muxRateProblems(measure(cbrStream({ rateBps: 2_000_000, seconds: 2, leadS: 0.5, nulls: false })), 2_000_000).join('\n')).toMatch(/no null packets/);
  });

  it('when bytes are out of sync or a packet is cut short, then sync errors are counted', () => {
    const buf = cbrStream({ rateBps: 2_000_000, seconds: 1, leadS: 0.5 });
    buf[188 * 10] = 0x00;
    const r = measure(Buffer.concat([buf, Buffer.alloc(100, 0x47)]));
    expect(r.syncErrors).toBe(2);
    expect(muxRateProblems(r, 2_000_000).join('\n')).toMatch(/2 packets out of sync/);
  });
});
