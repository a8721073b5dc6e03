import { describe, expect, it } from 'vitest';
import { measuredFrameRate } from '../../src/media/ts-segment.ts';

/** Facts of a segment whose frames sit at the given presentation times (end: last plus one interval, as inspectTsSegment measures). */
function facts(pts: number[], intervalS: number) {
  return { frames: pts.length, firstPtsS: pts[0], endS: pts[pts.length - 1] + intervalS };
}

describe('measuredFrameRate (FRAME-RATE of a remuxed live source)', () => {
  it('when a 25 fps segment is measured, then its rate is 25', () => {
    const pts = Array.from({ length: 50 }, (_, i) => 10 + i * 0.04);
    expect(measuredFrameRate(facts(pts, 0.04))).toBe(25);
  });

  it('when a 30 fps stream carries millisecond timestamps (RTMP), then its rate is 30, not what one rounded interval says', () => {
    const pts = Array.from({ length: 60 }, (_, i) => Math.round((i * 1000) / 30) / 1000);
    // the median interval alone (33 ms) would say 30.303
    expect(measuredFrameRate(facts(pts, 0.033))).toBe(30);
  });

  it('when an NTSC segment is measured, then its rate is 29.97', () => {
    const pts = Array.from({ length: 60 }, (_, i) => (i * 1001) / 30000);
    expect(measuredFrameRate(facts(pts, 1001 / 30000))).toBe(29.97);
  });

  it('when a slide is sent at an uncommon rate, then that rate is kept to three decimals', () => {
    const pts = Array.from({ length: 25 }, (_, i) => i * 0.08);
    expect(measuredFrameRate(facts(pts, 0.08))).toBe(12.5);
  });

  it('when a segment has a single frame, then no rate is claimed', () => {
    expect(measuredFrameRate(facts([3], 0))).toBeNull();
  });
});
