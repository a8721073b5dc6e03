import { describe, expect, it } from 'vitest';
import type { LiveSlot } from '../../src/media/live-ledger.ts';
import { missingStretches, slotSeconds, spliceRefill } from '../../src/media/live-refill.ts';

const t0 = Date.UTC(2026, 11, 5, 8, 0, 0, 0);

/** Slots of `run` every 2 s from `fromS` seconds after t0, numbered from `msn`; a discontinuity at the first unless `continued`. */
function slots(run: number, fromS: number, count: number, msn = 0, o: { continued?: boolean; parts?: number } = {}): LiveSlot[] {
  return Array.from({ length: count }, (_, i) => ({
    msn: msn + i, run, seq: i, pdtMs: t0 + (fromS + 2 * i) * 1000,
    discontinuity: i === 0 && msn > 0 && !o.continued,
    parts: Array.from({ length: o.parts ?? 1 }, () => ({ durationS: 2, bytes: 1000 })),
  }));
}

describe('gap-only refill of a live recording', () => {
  // the capture has the whole minute; the transcoder started 11 s late, died at 31 s and came back at 44 s
  const captured = slots(1, 0, 30);
  const transcoded = [...slots(1, 11, 10), ...slots(2, 44, 8, 10)];

  it('when the transcoder started late and died for a while, then only the captured stretches it did not cover are missing', () => {
    const gaps = missingStretches(transcoded, captured);
    expect(gaps.map((g) => g.map((s) => s.msn))).toEqual([[0, 1, 2, 3, 4], [15, 16, 17, 18, 19, 20, 21]]);
    expect(gaps.map(slotSeconds)).toEqual([10, 14]);
  });

  it('when the capture itself has a discontinuity inside a gap (a reconnect), then the gap is split there', () => {
    const cap = [...slots(1, 0, 5), ...slots(2, 12, 3, 5)];
    expect(missingStretches([], cap).map((g) => g.length)).toEqual([5, 3]);
  });

  it('when the transcoder covered everything, then nothing is missing', () => {
    expect(missingStretches(slots(1, 0, 30), captured)).toEqual([]);
  });

  it('when refilled stretches are spliced in, then the slots follow the clock, are numbered from 0, and every stretch opens with a discontinuity', () => {
    const refills = [
      { run: 3, startPdtMs: t0, positions: [0, 1, 2, 3, 4].map((seq) => ({ seq, parts: [{ durationS: 2, bytes: 5 }] })) },
      { run: 4, startPdtMs: t0 + 30_000, positions: [0, 1, 2, 3, 4, 5, 6].map((seq) => ({ seq, parts: [{ durationS: 2, bytes: 5 }] })) },
    ];
    const out = spliceRefill({ slots: transcoded }, refills);
    expect(out.map((s) => s.msn)).toEqual(out.map((_, i) => i));
    expect(out.map((s) => `${s.run}:${s.seq}${s.discontinuity ? '!' : ''}`)).toEqual([
      '3:0', '3:1', '3:2', '3:3', '3:4',
      '1:0!', ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((q) => `1:${q}`),
      '4:0!', ...[1, 2, 3, 4, 5, 6].map((q) => `4:${q}`),
      '2:0!', ...[1, 2, 3, 4, 5, 6, 7].map((q) => `2:${q}`),
    ]);
    expect(slotSeconds(out)).toBe(60);
    // the refilled stretch at 30 s overlaps the transcoder's last second before it died: time never runs backwards
    out.slice(1).forEach((s, i) => expect(s.pdtMs).toBeGreaterThanOrEqual(out[i].pdtMs + 2000));
  });
});
