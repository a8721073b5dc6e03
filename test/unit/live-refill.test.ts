import { describe, expect, it } from 'vitest';
import type { LiveSlot } from '../../src/media/live-ledger.ts';
import { missingStretches, refillGaps, slotSeconds, spliceRefill } from '../../src/media/live-refill.ts';
import { inputStartMs, segmentSourceMs } from '../../src/media/source-time.ts';

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

/** Slots on the publisher's timeline: `durations` back to back from source time `fromMs`, their wall clock `skewMs` off it (plus t0). */
function timed(run: number, fromMs: number, durations: number[], o: { msn?: number; skewMs?: number } = {}): LiveSlot[] {
  let at = fromMs;
  return durations.map((d, i) => {
    const s: LiveSlot = { msn: (o.msn ?? 0) + i, run, seq: i, pdtMs: t0 + at + (o.skewMs ?? 0), srcMs: at, discontinuity: i === 0 && (o.msn ?? 0) > 0, parts: [{ durationS: d, bytes: 1000 }] };
    at += Math.round(d * 1000);
    return s;
  });
}
const runs = (...r: [number, number][]) => r.map(([run, epoch]) => ({ run, epoch, startedAtMs: 0, sizes: {}, frameRate: null, plan: null }));

describe('the refill aligned on the publisher\'s timeline', () => {
  // the capture: 60 s cut at the publisher's keyframes (2.1 s segments); its wall clock 2.3 s behind the transcoder's
  const captured = { slots: timed(1, 10_000, Array(28).fill(2.1), { skewMs: -2300 }), runs: runs([1, 1]) };
  const end = 10_000 + 28 * 2100;

  it('when the transcoder started 7.3 s late and its clock disagrees with the capture\'s by 2.3 s, then exactly the 7.3 s it missed are refilled, cut inside the captured segments', () => {
    const transcoded = { slots: timed(1, 17_300, [...Array(25).fill(2), 1.5]), runs: runs([1, 1]) };
    const gaps = refillGaps(transcoded, captured);
    expect(gaps).toHaveLength(1);
    expect(gaps[0].slots.map((s) => s.msn)).toEqual([0, 1, 2, 3]);
    expect(gaps[0].trim).toEqual({ startS: 0, durationS: 7.3 });
    // placed on the transcoder's clock, ending where its first slot starts
    expect(gaps[0].startPdtMs + 7300).toBe(transcoded.slots[0].pdtMs);
    // the wall clocks alone refill five whole slots: 3.2 s of what the transcoder has, twice
    expect(missingStretches(transcoded.slots, captured.slots).map(slotSeconds)).toEqual([10.5]);
  });

  it('when the transcoder died for a while, then the span between its last and its next slot is refilled, to the millisecond', () => {
    const transcoded = { slots: [...timed(1, 10_000, Array(10).fill(2)), ...timed(2, 34_500, Array(13).fill(2), { msn: 10 })], runs: runs([1, 1], [2, 1]) };
    const gaps = refillGaps(transcoded, captured);
    // captured slot k spans [10 + 2.1k, 12.1 + 2.1k) s: 30 s falls in slot 9, 60.5 s in slot 24
    expect(gaps.map((g) => [g.slots[0].msn, g.slots.length, g.trim])).toEqual([
      [9, 3, { startS: 1.1, durationS: 4.5 }],
      [24, 4, { startS: 0.1, durationS: 8.3 }],
    ]);
    expect(gaps.reduce((t, g) => t + g.trim!.durationS, 0) + slotSeconds(transcoded.slots)).toBeCloseTo((end - 10_000) / 1000, 5);
  });

  it('when the transcoder\'s first frame comes a frame after the capture\'s, then nothing is refilled', () => {
    const transcoded = { slots: timed(1, 10_033, Array(29).fill(2).concat([0.767]), {}), runs: runs([1, 1]) };
    expect(refillGaps(transcoded, captured)).toEqual([]);
  });

  it('when a reconnect starts a new timeline (a new epoch), then each epoch is compared with itself', () => {
    const cap = { slots: [...timed(1, 10_000, [2, 2, 2]), ...timed(2, 0, [2, 2, 2], { msn: 3 })], runs: runs([1, 1], [2, 2]) };
    // the transcoder has the first epoch only, and the second epoch's timeline overlaps the first's numbers
    const transcoded = { slots: timed(5, 10_000, [2, 2, 2]), runs: runs([5, 1]) };
    const gaps = refillGaps(transcoded, cap);
    expect(gaps.map((g) => [g.slots.map((s) => s.msn), g.trim])).toEqual([[[3, 4, 5], { startS: 0, durationS: 6 }]]);
  });

  it('when a slot has no source time (a ledger from before), then the wall clocks decide, whole slots', () => {
    const transcoded = { slots: timed(1, 17_300, Array(25).fill(2)).map(({ srcMs, ...s }) => s), runs: runs([1, 1]) };
    const gaps = refillGaps(transcoded, captured);
    expect(gaps.map((g) => g.trim)).toEqual([null]);
  });

  it('when ffmpeg prints its input dump, then the pull\'s start and its segments\' source times are read from it', () => {
    expect(inputStartMs('[info]   Duration: N/A, start: 20.072000, bitrate: N/A')).toBe(20_072);
    expect(inputStartMs('[info] Input #0, flv, from \'rtmp://x\':')).toBeNull();
    // the mpegts muxer's 1.4 s shift, sound's priming a little before it
    expect(segmentSourceMs(20_072, 1.4)).toBe(20_072);
    expect(segmentSourceMs(20_072, 3.4)).toBe(22_072);
    expect(segmentSourceMs(20_072, 1.378667)).toBe(20_051);
  });
});
