/**
 * Why a file cannot become a lesson, judged from what ffprobe and ffmpeg said and from the file's first
 * bytes, and worded for the teacher who uploaded it (each reason also has a machine code from
 * src/domain/processing-failures.ts). Pure.
 */
import type { ProcessingFailureCode } from '../domain/processing-failures.ts';
import type { MediaInfo } from './media-info.ts';

export type ProbeFailureReason =
  | 'empty'
  | 'not-media'
  | 'picture-only'
  | 'truncated'
  | 'no-streams'
  | 'no-video'
  | 'undecodable'
  | 'too-small'
  | 'unknown-duration'
  | 'too-long';

/** The machine code of each reason (src/domain/processing-failures.ts). */
export const probeFailureCodes = {
  empty: 'source_empty',
  'not-media': 'media_unreadable',
  'picture-only': 'picture_only',
  truncated: 'media_truncated',
  'no-streams': 'no_media_streams',
  'no-video': 'no_video_stream',
  undecodable: 'video_codec_unsupported',
  'too-small': 'picture_too_small',
  'unknown-duration': 'duration_unknown',
  'too-long': 'duration_too_long',
} as const satisfies Record<ProbeFailureReason, ProcessingFailureCode>;

export interface ProbeFailure {
  reason: ProbeFailureReason;
  message: string;
}

const uploadAgain = 'Please export the lesson again as an MP4 (H.264) video and upload it.';

/** Teacher-readable messages, one per reason (the catalog shows them as processing.error). */
export function failureMessage(reason: ProbeFailureReason, detail: { durationS?: number; maxDurationS?: number; codec?: string } = {}): string {
  switch (reason) {
    case 'empty':
      return 'The uploaded file is empty. Please upload the lesson video again.';
    case 'not-media':
      return `This file is not a video we can read (it may be a document or another kind of file renamed to look like a video). ${uploadAgain}`;
    case 'picture-only':
      return 'This file is a still picture, not a video. Please upload the video of the lesson.';
    case 'truncated':
      return 'This video file is incomplete: it ends before its own recorded length, usually because the recording, copy or upload was interrupted. Please upload the complete file again.';
    case 'no-streams':
      return `This file contains no picture or sound that we can play. ${uploadAgain}`;
    case 'no-video':
      return 'This file has sound but no picture. Please upload a video of the lesson (an audio-only recording cannot be published as a lesson).';
    case 'undecodable':
      return `The picture in this file is stored in a format we cannot decode${detail.codec ? ` (${detail.codec})` : ''}. ${uploadAgain}`;
    case 'too-small':
      return 'The picture in this video is too small to be shown. Please upload a video of at least 64x64 pixels.';
    case 'unknown-duration':
      return `We could not tell how long this video is, so it cannot be processed. ${uploadAgain}`;
    case 'too-long':
      return `The lesson is ${formatDuration(detail.durationS ?? 0)} long; the longest accepted is ${formatDuration(detail.maxDurationS ?? 0)}. Please shorten it or split it into parts.`;
  }
}

/** "1 h 05 min", "12 min 30 s", "45 s". */
export function formatDuration(s: number): string {
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return sec ? `${m} min ${String(sec).padStart(2, '0')} s` : `${m} min`;
  return `${sec} s`;
}

/** A failure with its teacher-readable message. */
export function probeFailure(reason: ProbeFailureReason, detail: Parameters<typeof failureMessage>[1] = {}): ProbeFailure {
  return { reason, message: failureMessage(reason, detail) };
}

const isoBoxTypes = new Set(['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'pnot', 'uuid', 'moof', 'styp', 'sidx']);

/** The file starts like an MP4/MOV (a box header with a known type). */
export function looksLikeIsoBmff(head: Uint8Array | undefined): boolean {
  if (!head || head.length < 8) return false;
  const type = String.fromCharCode(head[4], head[5], head[6], head[7]);
  return isoBoxTypes.has(type);
}

/** The file starts with readable text (a document, a subtitle, a web page) rather than media. */
export function looksLikeText(head: Uint8Array | undefined): boolean {
  if (!head || head.length === 0) return false;
  let printable = 0;
  for (const b of head) if (b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 0x80) printable++;
  return printable === head.length && !head.includes(0);
}

/** Maps ffprobe's complaint about an unreadable file to the reason a teacher understands. */
export function failureFromProbeError(stderr: string, errorString = '', head?: Uint8Array): ProbeFailure {
  const text = `${stderr}\n${errorString}`;
  const cut = /moov atom not found|partial file|truncat|end of file|Premature end|stream ends prematurely|invalid (?:atom|box) size/i.test(text);
  // "moov atom not found" is also what a renamed text file gets: only a file that starts like an MP4 was cut short.
  if (cut && !looksLikeText(head) && (head === undefined || looksLikeIsoBmff(head))) return probeFailure('truncated');
  return probeFailure('not-media');
}

/** The too-long failure for a (re-measured) source, or null. */
export function durationFailure(info: MediaInfo, maxDurationS: number): ProbeFailure | null {
  return info.durationS > maxDurationS + 0.5 ? probeFailure('too-long', { durationS: info.durationS, maxDurationS }) : null;
}

/** ffmpeg stopped on data it could not decode (a cut-off or corrupt source, not our fault). */
export function looksUndecodable(stderrTail: string): boolean {
  return /Invalid data found when processing input|moov atom not found|partial file|Invalid NAL unit size|corrupt|Error splitting the input into NAL units/i.test(stderrTail);
}

/**
 * After the transcode: ffmpeg's log shows the demuxer hit the end of the data early, or the output is
 * clearly shorter than the file's own stated length. Either way the upload was cut short.
 */
export function looksTruncated(ffmpegLog: string, expectedS: number, producedS: number): boolean {
  if (/partial file|Invalid NAL unit size|moov atom not found|ends prematurely/i.test(ffmpegLog) && producedS < expectedS - 0.5) return true;
  return expectedS > 2 && producedS < expectedS * 0.9 - 0.5;
}
