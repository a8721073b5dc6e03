/**
 * The VOD validator (hls-validator.ts) applied to a live recording. Two things differ from an uploaded
 * lesson, and the rules are adapted for them (decided in issue 4):
 *
 * 1. Discontinuities. Every publisher reconnect, ffmpeg restart or worker failover restarts the
 *    timestamps. The rules that compare timestamps across segments (summed EXTINF against the measured
 *    span, EXTINF against the next segment's start, keyframe spacing, same time range in every
 *    rendition, aligned boundaries) are checked on each continuous stretch between discontinuities on
 *    its own, never across one. Everything else (tags, versions, IDR starts, PAT/PMT, codecs,
 *    resolution, bit rates against the master) is checked on the whole recording.
 * 2. No re-encode. A live recording keeps the segments viewers already got, so a rate profile with a
 *    peak above twice the average (a still slide for minutes, then motion) cannot be evened out as the
 *    VOD transcode does. `bandwidth.peak-average` is reported as a relaxed rule (a warning in the job
 *    result), not a failure. BANDWIDTH and AVERAGE-BANDWIDTH themselves are measured and must match.
 */
import { validateVod, type Violation } from './hls-validator.ts';
import type { SegmentFacts } from './hls-vod-input.ts';
import { stretches, type LiveLedger } from './live-ledger.ts';
import { liveSegmentFile, writeRecordingPlaylist } from './live-playlists.ts';

/** Rules that compare timestamps across segments: checked within each continuous stretch. */
export const perStretchRules: readonly string[] = ['media.duration', 'media.extinf', 'segment.keyframe-interval', 'media.same-range', 'segment.aligned'];

/** Rules a live recording cannot always meet without re-encoding: warnings, not failures. */
export const relaxedLiveRules: readonly string[] = ['bandwidth.peak-average'];

/**
 * Rules relaxed for a session without sound (issue 11: a video-only publisher gets a video-only
 * ladder). The variant under 192 kb/s is the audio-only one, which would carry only silence: the
 * lowest picture rung is what a weak link can use.
 */
export const soundlessLiveRules: readonly string[] = ['master.cellular'];

/** Rules relaxed for a lesson of sound alone (issue 11: a radio-style class): it has no picture rung. */
export const pictureLessLiveRules: readonly string[] = ['master.video-bitrates'];

export interface LiveRecordingCheck {
  violations: Violation[];
  warnings: Violation[];
}

/**
 * Checks a recording: `master` as it will be uploaded, the media playlists written from the ledger,
 * and the facts of every segment keyed by media playlist URI (`{rendition}/index.m3u8`).
 */
export function validateLiveRecording(ledger: LiveLedger, master: string, facts: Record<string, SegmentFacts[]>): LiveRecordingCheck {
  const uris = ledger.renditions.map((r) => `${r.name}/index.m3u8`);
  const media = Object.fromEntries(uris.map((u, i) => [u, writeRecordingPlaylist(ledger.slots, i, { targetDurationS: ledger.targetDurationS })]));
  const parts = stretches(ledger.slots);
  const all: Violation[] = validateVod({ master, media, segments: facts }).filter((v) => parts.length === 1 || !perStretchRules.includes(v.rule));
  const cutWarnings: Violation[] = [];
  if (parts.length > 1) {
    parts.forEach((part, n) => {
      const names = new Set(part.map((s) => liveSegmentFile(s.run, s.seq)));
      const alone = part.map((s, i) => (i === 0 ? { ...s, discontinuity: false } : s));
      const sub = {
        master,
        media: Object.fromEntries(uris.map((u, i) => [u, writeRecordingPlaylist(alone, i, { targetDurationS: ledger.targetDurationS })])),
        segments: Object.fromEntries(uris.map((u) => [u, (facts[u] ?? []).filter((f) => names.has(f.uri))])),
      };
      for (const v of validateVod(sub)) {
        if (!perStretchRules.includes(v.rule)) continue;
        const tagged = { ...v, message: `${v.message} (stretch ${n + 1}, from segment ${part[0].msn})` };
        // A stretch cut by a dropped publisher or a killed encoder ends where each track's last frame
        // arrived: sound and picture may stop a few audio frames apart. Reported, not a failure.
        if (v.rule === 'media.same-range') cutWarnings.push(tagged);
        else all.push(tagged);
      }
    });
  }
  const soundless = ledger.renditions.every((r) => !r.codecs?.includes('mp4a'));
  const pictureLess = ledger.renditions.every((r) => r.kind === 'audio');
  const relaxed = [...relaxedLiveRules, ...(soundless ? soundlessLiveRules : []), ...(pictureLess ? pictureLessLiveRules : [])];
  return {
    violations: all.filter((v) => !relaxed.includes(v.rule)),
    warnings: [...all.filter((v) => relaxed.includes(v.rule)), ...cutWarnings],
  };
}
