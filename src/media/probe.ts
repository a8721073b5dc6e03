/**
 * Pure parsing of `ffprobe -print_format json -show_format -show_streams -show_error` output into a
 * typed MediaInfo, and the teacher-readable reasons a file cannot become a lesson. No I/O here: the
 * runner (src/infra/ffmpeg.runner.ts) runs ffprobe and hands its JSON, stderr and exit code over.
 */
import type { ProcessingFailureCode } from '../domain/processing-failures.ts';
import { z } from 'zod';

export type Rotation = 0 | 90 | 180 | 270;
export type HdrTransfer = 'pq' | 'hlg';

export interface Rational {
  num: number;
  den: number;
}

export interface VideoStreamInfo {
  /** Absolute stream index in the file (for `-map 0:{index}`). */
  index: number;
  codec: string;
  profile: string | null;
  /** Coded picture size (before sample aspect ratio and rotation). */
  width: number;
  height: number;
  /** Sample (pixel) aspect ratio; 1:1 when unknown. */
  sar: Rational;
  /** Display aspect ratio as the file states it, null when absent. */
  dar: Rational | null;
  /** Clockwise rotation a player applies for display (display matrix or legacy `rotate` tag). */
  rotation: Rotation;
  /** The 3x3 display matrix (16.16 / 2.30 fixed point) when the file carries one: flips live there. */
  displayMatrix: number[] | null;
  /** Size shown to viewers: SAR applied, then rotation; not rounded to even. */
  displayWidth: number;
  displayHeight: number;
  pixFmt: string | null;
  bitDepth: number;
  fieldOrder: string | null;
  interlaced: boolean;
  /** ffprobe `r_frame_rate` (the timestamp grid) and `avg_frame_rate` (frames / duration). */
  rFrameRate: Rational | null;
  avgFrameRate: Rational | null;
  /** Variable frame rate suspected: the two rates disagree by more than 1 %. */
  vfr: boolean;
  colorTransfer: string | null;
  colorPrimaries: string | null;
  colorSpace: string | null;
  hdr: HdrTransfer | null;
  /** Start relative to the file's start, seconds. */
  startS: number;
  durationS: number | null;
  frames: number | null;
  bitRate: number | null;
}

export interface AudioStreamInfo {
  index: number;
  codec: string;
  profile: string | null;
  channels: number;
  channelLayout: string | null;
  sampleRate: number;
  startS: number;
  durationS: number | null;
  bitRate: number | null;
}

export interface MediaInfo {
  formatName: string;
  /** The file's start time; stream starts and ends below are relative to it, as ffmpeg sees them. */
  formatStartS: number;
  formatLongName: string | null;
  sizeBytes: number;
  bitRate: number | null;
  video: VideoStreamInfo;
  /** The audio track to use; null when the file has none (silence is generated). */
  audio: AudioStreamInfo | null;
  /** Every stream count, for logs. */
  streamCounts: { video: number; audio: number; other: number };
  /** Length of the lesson: end of the longer of picture and sound, from the file's start. */
  durationS: number;
  videoEndS: number;
  audioEndS: number | null;
}

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

/** Why a file cannot be made into a lesson, worded for the teacher who uploaded it. */
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

export type ProbeOutcome = { ok: true; info: MediaInfo } | { ok: false; failure: ProbeFailure };

/** What the runner saw when it ran ffprobe on the file. */
export interface ProbeRun {
  json: unknown;
  stderr: string;
  exitCode: number | null;
  fileSize: number;
  /** The file's first bytes (64 are plenty), to tell a cut-off MP4 from something that never was one. */
  head?: Uint8Array;
}

const num = z.union([z.number(), z.string()]).optional().transform((v) => {
  if (v === undefined || v === '' || v === 'N/A') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : undefined;
});

const streamSchema = z.looseObject({
  index: num,
  codec_name: z.string().optional(),
  codec_type: z.string().optional(),
  profile: z.string().optional(),
  width: num,
  height: num,
  sample_aspect_ratio: z.string().optional(),
  display_aspect_ratio: z.string().optional(),
  pix_fmt: z.string().optional(),
  bits_per_raw_sample: num,
  field_order: z.string().optional(),
  r_frame_rate: z.string().optional(),
  avg_frame_rate: z.string().optional(),
  color_transfer: z.string().optional(),
  color_primaries: z.string().optional(),
  color_space: z.string().optional(),
  start_time: num,
  duration: num,
  nb_frames: num,
  bit_rate: num,
  channels: num,
  channel_layout: z.string().optional(),
  sample_rate: num,
  disposition: z.record(z.string(), z.union([z.number(), z.string()])).optional(),
  tags: z.record(z.string(), z.string()).optional(),
  side_data_list: z.array(z.looseObject({ side_data_type: z.string().optional(), rotation: num, displaymatrix: z.string().optional() })).optional(),
});
type RawStream = z.infer<typeof streamSchema>;

const probeSchema = z.looseObject({
  streams: z.array(streamSchema).optional(),
  format: z
    .looseObject({
      format_name: z.string().optional(),
      format_long_name: z.string().optional(),
      start_time: num,
      duration: num,
      size: num,
      bit_rate: num,
      probe_score: num,
    })
    .optional(),
  error: z.looseObject({ code: num, string: z.string().optional() }).optional(),
});

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

function fail(reason: ProbeFailureReason, detail: Parameters<typeof failureMessage>[1] = {}): ProbeOutcome {
  return { ok: false, failure: { reason, message: failureMessage(reason, detail) } };
}

/** Parses "30000/1001" or "4:3"; null for 0/0, N/A and nonsense. */
export function parseRational(s: string | undefined, sep: '/' | ':' = '/'): Rational | null {
  if (!s) return null;
  const [a, b] = s.split(sep);
  const n = Number(a);
  const d = b === undefined ? 1 : Number(b);
  if (!Number.isFinite(n) || !Number.isFinite(d) || n <= 0 || d <= 0) return null;
  return { num: n, den: d };
}

export const rationalValue = (r: Rational): number => r.num / r.den;

/** "01:02:03.500000000" (Matroska DURATION tag) to seconds. */
function parseClock(s: string | undefined): number | undefined {
  const m = /^(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(s?.trim() ?? '');
  if (!m) return undefined;
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

/** The 9 integers of ffprobe's `displaymatrix` text ("\n00000000: 0 65536 0\n..."). */
export function parseDisplayMatrix(text: string | undefined): number[] | null {
  if (!text) return null;
  const values: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*[0-9a-f]{8}:\s*(-?\d+)\s+(-?\d+)\s+(-?\d+)\s*$/i.exec(line);
    if (m) values.push(Number(m[1]), Number(m[2]), Number(m[3]));
  }
  return values.length === 9 ? values : null;
}

/**
 * Clockwise display rotation, as ffmpeg's own autorotate decides it: the display matrix's
 * counter-clockwise angle negated, else the legacy mov `rotate` tag (already clockwise).
 */
function rotationOf(s: RawStream): { rotation: Rotation; matrix: number[] | null } {
  const sd = s.side_data_list?.find((d) => d.side_data_type === 'Display Matrix' || d.rotation !== undefined);
  const matrix = parseDisplayMatrix(sd?.displaymatrix);
  let deg: number | undefined;
  if (sd?.rotation !== undefined) deg = -sd.rotation;
  else if (s.tags?.rotate !== undefined && Number.isFinite(Number(s.tags.rotate))) deg = Number(s.tags.rotate);
  if (deg === undefined) return { rotation: 0, matrix };
  const q = ((Math.round(deg / 90) * 90) % 360 + 360) % 360;
  return { rotation: q as Rotation, matrix };
}

function bitDepthOf(s: RawStream): number {
  if (s.bits_per_raw_sample && s.bits_per_raw_sample >= 8 && s.bits_per_raw_sample <= 16) return s.bits_per_raw_sample;
  const fmt = s.pix_fmt ?? '';
  const planar = /^(?:yuv|yuva|gray|gbr|gbrap)[a-z0-9]*?p?(9|10|12|14|16)(?:le|be)$/.exec(fmt);
  if (planar) return Number(planar[1]);
  const semi = /^p0(10|12|16)/.exec(fmt);
  return semi ? Number(semi[1]) : 8;
}

const flag = (s: RawStream, key: string): boolean => Number(s.disposition?.[key] ?? 0) === 1;

function isPictureStream(s: RawStream): boolean {
  return s.codec_type === 'video' && !flag(s, 'attached_pic') && !flag(s, 'timed_thumbnails');
}

function knownCodec(s: RawStream): boolean {
  return !!s.codec_name && s.codec_name !== 'none' && s.codec_name !== 'unknown';
}

function pickStream(candidates: RawStream[], score: (s: RawStream) => number): RawStream | undefined {
  return [...candidates].sort((a, b) => score(b) - score(a) || (a.index ?? 0) - (b.index ?? 0))[0];
}

const imageFormats = /(^|,)(image2|[a-z0-9]+_pipe|png|mjpeg|apng|bmp|ico)(,|$)/;
/** Formats ffprobe may "recognise" in any text: never a lesson. */
const textFormats = /(^|,)(tty|srt|ass|webvtt|subviewer|subviewer1|microdvd|mpl2|jacosub|sami|realtext|pjs|stl|vplayer|lrc|aqtitle|ffmetadata|hls|dash|concat)(,|$)/;

/**
 * Parses one ffprobe run into a MediaInfo, or a failure a teacher can act on. `maxDurationS` adds the
 * length check (the handler passes the configured maximum).
 */
export function parseProbe(run: ProbeRun, maxDurationS?: number): ProbeOutcome {
  if (run.fileSize === 0) return fail('empty');
  const parsed = probeSchema.safeParse(run.json ?? {});
  const data = parsed.success ? parsed.data : {};
  const stderr = run.stderr ?? '';
  if (!parsed.success || data.error || (run.exitCode !== null && run.exitCode !== 0) || !data.format) {
    return { ok: false, failure: failureFromProbeError(stderr, (data as { error?: { string?: string } }).error?.string ?? '', run.head) };
  }
  const format = data.format;
  const formatName = format.format_name ?? 'unknown';
  const streams = data.streams ?? [];
  if (textFormats.test(formatName)) return fail('not-media');
  const pictures = streams.filter(isPictureStream);
  const audios = streams.filter((s) => s.codec_type === 'audio');
  const counts = { video: pictures.length, audio: audios.length, other: streams.length - pictures.length - audios.length };

  const decodableVideo = pictures.filter((s) => knownCodec(s) && (s.width ?? 0) > 0 && (s.height ?? 0) > 0);
  const decodableAudio = audios.filter((s) => knownCodec(s) && (s.channels ?? 0) > 0 && (s.sample_rate ?? 0) > 0);

  if (imageFormats.test(formatName) && (decodableVideo.length === 0 || decodableVideo.every((s) => (s.nb_frames ?? 1) <= 1 && !(s.duration && s.duration > 0.5)))) {
    return decodableAudio.length ? fail('no-video') : fail('picture-only');
  }
  if (decodableVideo.length === 0) {
    if (pictures.length > 0 && !decodableAudio.length) return fail('undecodable', { codec: pictures[0].codec_name });
    if (decodableAudio.length > 0) return fail('no-video');
    return fail('no-streams');
  }

  const v = pickStream(decodableVideo, (s) => (flag(s, 'default') ? 1e9 : 0) + (s.width ?? 0) * (s.height ?? 0))!;
  const a = pickStream(decodableAudio, (s) => (flag(s, 'default') ? 1e3 : 0) + Math.min(s.channels ?? 0, 8));

  const fmtStart = format.start_time ?? 0;
  const streamDuration = (s: RawStream): number | null => {
    const d = s.duration ?? parseClock(s.tags?.DURATION ?? s.tags?.duration) ?? undefined;
    return d !== undefined && d > 0 ? d : null;
  };
  const startOf = (s: RawStream): number => Math.max(0, (s.start_time ?? fmtStart) - fmtStart);

  const sar = parseRational(v.sample_aspect_ratio, ':') ?? { num: 1, den: 1 };
  const { rotation, matrix } = rotationOf(v);
  const width = v.width!;
  const height = v.height!;
  const sarValue = rationalValue(sar);
  // Anamorphic pixels widen (or narrow) the picture; the height is kept, as players do.
  const shownW = sarValue > 0 && Math.abs(sarValue - 1) > 1e-3 ? width * sarValue : width;
  const quarter = rotation === 90 || rotation === 270;
  const displayWidth = quarter ? height : shownW;
  const displayHeight = quarter ? shownW : height;
  if (Math.min(displayWidth, displayHeight) < 64) return fail('too-small');

  const rRate = parseRational(v.r_frame_rate);
  const avgRate = parseRational(v.avg_frame_rate);
  const vfr = !!rRate && !!avgRate && Math.abs(rationalValue(rRate) - rationalValue(avgRate)) / rationalValue(rRate) > 0.01;
  const transfer = v.color_transfer ?? null;
  const fieldOrder = v.field_order ?? null;

  const formatDurationS = format.duration && format.duration > 0 ? format.duration : null;
  const vDur = streamDuration(v) ?? formatDurationS;
  if (vDur === null) return fail('unknown-duration');
  const videoEndS = startOf(v) + vDur;
  const aDur = a ? streamDuration(a) ?? formatDurationS : null;
  const audioEndS = a && aDur !== null ? startOf(a) + aDur : null;
  const durationS = Math.max(videoEndS, audioEndS ?? 0);

  // An MP4/MOV whose sample tables promise more bytes than the file holds was cut short (moov up front).
  if (/(^|,)(mov|mp4)(,|$)/.test(formatName) && run.fileSize > 0) {
    const promised = [v, a].reduce((sum, s) => {
      const d = s ? streamDuration(s) : null;
      return s && s.bit_rate && d ? sum + (s.bit_rate * d) / 8 : sum;
    }, 0);
    if (promised > 0 && run.fileSize < promised * 0.97) return fail('truncated');
  }
  if (maxDurationS !== undefined && durationS > maxDurationS + 0.5) return fail('too-long', { durationS, maxDurationS });

  const video: VideoStreamInfo = {
    index: v.index ?? 0,
    codec: v.codec_name!,
    profile: v.profile ?? null,
    width,
    height,
    sar,
    dar: parseRational(v.display_aspect_ratio, ':'),
    rotation,
    displayMatrix: matrix,
    displayWidth,
    displayHeight,
    pixFmt: v.pix_fmt ?? null,
    bitDepth: bitDepthOf(v),
    fieldOrder,
    interlaced: fieldOrder !== null && ['tt', 'bb', 'tb', 'bt'].includes(fieldOrder),
    rFrameRate: rRate,
    avgFrameRate: avgRate,
    vfr,
    colorTransfer: transfer,
    colorPrimaries: v.color_primaries ?? null,
    colorSpace: v.color_space ?? null,
    hdr: transfer === 'smpte2084' ? 'pq' : transfer === 'arib-std-b67' ? 'hlg' : null,
    startS: startOf(v),
    durationS: vDur,
    frames: v.nb_frames ?? null,
    bitRate: v.bit_rate ?? null,
  };
  const audio: AudioStreamInfo | null = a
    ? {
        index: a.index ?? 0,
        codec: a.codec_name!,
        profile: a.profile ?? null,
        channels: a.channels!,
        channelLayout: a.channel_layout ?? null,
        sampleRate: a.sample_rate!,
        startS: startOf(a),
        durationS: aDur,
        bitRate: a.bit_rate ?? null,
      }
    : null;
  return {
    ok: true,
    info: {
      formatName,
      formatStartS: fmtStart,
      formatLongName: format.format_long_name ?? null,
      sizeBytes: run.fileSize,
      bitRate: format.bit_rate ?? null,
      video,
      audio,
      streamCounts: counts,
      durationS,
      videoEndS,
      audioEndS,
    },
  };
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
  if (cut && !looksLikeText(head) && (head === undefined || looksLikeIsoBmff(head))) return { reason: 'truncated', message: failureMessage('truncated') };
  return { reason: 'not-media', message: failureMessage('not-media') };
}

/**
 * Replaces header lengths with the real ends of the streams, measured from their last packets
 * (`ends`: absolute end time per stream index, see the runner's probeStreamEnds). Containers such as
 * Matroska, ASF or FLV state lengths that include start offsets or preroll; padding and trimming
 * planned on them would leave the renditions different lengths.
 */
export function withMeasuredEnds(info: MediaInfo, ends: Readonly<Record<number, number>>): MediaInfo {
  const rel = (abs: number | undefined): number | null => (abs !== undefined && Number.isFinite(abs) ? Math.max(0, abs - info.formatStartS) : null);
  const vEnd = rel(ends[info.video.index]);
  const aEnd = info.audio ? rel(ends[info.audio.index]) : null;
  if (vEnd === null && aEnd === null) return info;
  const videoEndS = vEnd ?? info.videoEndS;
  const audioEndS = info.audio ? aEnd ?? info.audioEndS : null;
  return {
    ...info,
    video: { ...info.video, durationS: Math.max(0, videoEndS - info.video.startS) },
    audio: info.audio && audioEndS !== null ? { ...info.audio, durationS: Math.max(0, audioEndS - info.audio.startS) } : info.audio,
    videoEndS,
    audioEndS,
    durationS: Math.max(videoEndS, audioEndS ?? 0),
  };
}

/** The too-long failure for a (re-measured) source, or null. */
export function durationFailure(info: MediaInfo, maxDurationS: number): ProbeFailure | null {
  return info.durationS > maxDurationS + 0.5 ? { reason: 'too-long', message: failureMessage('too-long', { durationS: info.durationS, maxDurationS }) } : null;
}

/**
 * After the transcode: ffmpeg's log shows the demuxer hit the end of the data early, or the output is
 * clearly shorter than the file's own stated length. Either way the upload was cut short.
 */
/** ffmpeg stopped on data it could not decode (a cut-off or corrupt source, not our fault). */
export function looksUndecodable(stderrTail: string): boolean {
  return /Invalid data found when processing input|moov atom not found|partial file|Invalid NAL unit size|corrupt|Error splitting the input into NAL units/i.test(stderrTail);
}

export function looksTruncated(ffmpegLog: string, expectedS: number, producedS: number): boolean {
  if (/partial file|Invalid NAL unit size|moov atom not found|ends prematurely/i.test(ffmpegLog) && producedS < expectedS - 0.5) return true;
  return expectedS > 2 && producedS < expectedS * 0.9 - 0.5;
}
