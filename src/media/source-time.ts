/**
 * The publisher's own timeline, as the ingest relays it (src/media/publisher-timeline.ts: one timeline
 * per publisher connection that only moves forward), seen from the segments of a pull (issue 11 item 1:
 * which captured seconds no transcoder segment covers is decided on the source's timestamps, not on two
 * processes' wall clocks). Every pull of the ingest (the capture's remux, the transcoder's ladder)
 * starts its output timestamps at the first timestamp it read, which ffmpeg prints in its input dump;
 * the mpegts muxer then shifts them by a constant. A segment's first PTS thus gives its source time.
 * Pure: lines and numbers in.
 */

/** ffmpeg's mpegts muxer shifts every timestamp by twice its max delay (-muxdelay, 0.7 s by default). */
export const mpegtsShiftS = 1.4;
/** MPEG-TS timestamps wrap at 2^33 ticks of 90 kHz. */
const wrapS = 2 ** 33 / 90_000;

/** The first timestamp of ffmpeg's input, ms, from its input dump ("  Duration: N/A, start: 20.072000, bitrate: N/A"). */
export function inputStartMs(line: string): number | null {
  const m = /Duration: [^,]*, start: (-?\d+(?:\.\d+)?)/.exec(line);
  return m ? Math.round(Number(m[1]) * 1000) : null;
}

/** Source time (ms) of a segment whose first PTS is `firstPtsS`, written by a pull whose input started at `pullStartMs`. */
export function segmentSourceMs(pullStartMs: number, firstPtsS: number): number {
  // a little before 0 is sound's encoder priming; far before, the 33-bit clock wrapped
  const rel = firstPtsS - mpegtsShiftS < -wrapS / 2 ? firstPtsS - mpegtsShiftS + wrapS : firstPtsS - mpegtsShiftS;
  return Math.round(pullStartMs + rel * 1000);
}

/** Learns a pull's input start from ffmpeg's stderr lines (runFfmpeg's onStderrLine). */
export class PullStart {
  ms: number | null = null;
  readonly feed = (line: string): void => {
    if (this.ms === null) this.ms = inputStartMs(line);
  };
}
