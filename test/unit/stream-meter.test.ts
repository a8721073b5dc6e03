import { describe, expect, it } from 'vitest';
import { StreamMeter, streamAdvice } from '../../src/media/stream-meter.ts';

/** Feeds `seconds` of a 25 fps stream with a keyframe every `gop` frames and 40 ms audio frames. */
function feed(m: StreamMeter, t0: number, seconds: number, gop: number, videoBytes = 5000): number {
  let now = t0;
  for (let f = 0; f < seconds * 25; f++) {
    now = t0 + f * 40;
    m.feed({ video: true, bytes: videoBytes, dts: f * 40, keyframe: f % gop === 0 }, now);
    m.feed({ video: false, bytes: 200, dts: f * 40, keyframe: false }, now);
  }
  return now;
}

describe('stream meter', () => {
  it('when a 25 fps stream with 2 s keyframes arrives, then frame rate, bitrate and keyframe interval are measured and nothing is advised', () => {
    const m = new StreamMeter(0);
    const now = feed(m, 0, 10, 50);
    const s = m.snapshot(now);
    expect(s.fps).toBe(25);
    expect(s.keyframeIntervalS).toBe(2);
    expect(s.videoKbps).toBe(1000);
    expect(s.bitrateKbps).toBe(1040);
    expect(streamAdvice(s)).toEqual([]);
  });

  it('when keyframes come every 5 s, the picture is starved or the encoder stalls, then each gets its advice', () => {
    const slow = new StreamMeter(0);
    const now = feed(slow, 0, 12, 125);
    expect(streamAdvice(slow.snapshot(now))).toEqual(['keyframe_interval']);
    const thin = new StreamMeter(0);
    const t = feed(thin, 0, 6, 50, 1000);
    expect(streamAdvice(thin.snapshot(t))).toEqual(['bitrate_low']);
    expect(streamAdvice(thin.snapshot(t + 5000))).toContain('stalled');
  });

  it('when only video arrives, then the missing sound is advised', () => {
    const m = new StreamMeter(0);
    for (let f = 0; f < 100; f++) m.feed({ video: true, bytes: 6000, dts: f * 40, keyframe: f % 50 === 0 }, f * 40);
    expect(streamAdvice(m.snapshot(3960))).toEqual(['no_audio']);
  });
});
