/**
 * Pure parsing of `ffprobe -print_format json -show_format -show_streams -show_error` output into a
 * typed MediaInfo (media-info.ts), or the reason a teacher is given (probe-failures.ts). No I/O here:
 * the runner (src/infra/ffmpeg.runner.ts) runs ffprobe and hands its JSON, stderr and exit code over.
 */
import { z } from 'zod';
import { parseRational, rationalValue, type AudioStreamInfo, type MediaInfo, type Rotation, type VideoStreamInfo } from './media-info.ts';
import { failureFromProbeError, probeFailure, type ProbeFailure, type ProbeFailureReason } from './probe-failures.ts';

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

function fail(reason: ProbeFailureReason, detail: Parameters<typeof probeFailure>[1] = {}): ProbeOutcome {
  return { ok: false, failure: probeFailure(reason, detail) };
}

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

type RawFormat = NonNullable<z.infer<typeof probeSchema>['format']>;

/** A stream's own length: its duration, else the Matroska DURATION tag; null when unknown or zero. */
function streamDuration(s: RawStream): number | null {
  const d = s.duration ?? parseClock(s.tags?.DURATION ?? s.tags?.duration) ?? undefined;
  return d !== undefined && d > 0 ? d : null;
}

/**
 * Which picture and sound to use, or why there is no lesson in the file: a text or image format, a
 * still picture, a picture we cannot decode, sound only, nothing at all.
 */
function chooseStreams(formatName: string, streams: RawStream[]): { ok: true; v: RawStream; a: RawStream | undefined; counts: MediaInfo['streamCounts'] } | { ok: false; reason: ProbeFailureReason; codec?: string } {
  if (textFormats.test(formatName)) return { ok: false, reason: 'not-media' };
  const pictures = streams.filter(isPictureStream);
  const audios = streams.filter((s) => s.codec_type === 'audio');
  const counts = { video: pictures.length, audio: audios.length, other: streams.length - pictures.length - audios.length };

  const decodableVideo = pictures.filter((s) => knownCodec(s) && (s.width ?? 0) > 0 && (s.height ?? 0) > 0);
  const decodableAudio = audios.filter((s) => knownCodec(s) && (s.channels ?? 0) > 0 && (s.sample_rate ?? 0) > 0);

  if (imageFormats.test(formatName) && (decodableVideo.length === 0 || decodableVideo.every((s) => (s.nb_frames ?? 1) <= 1 && !(s.duration && s.duration > 0.5)))) {
    return { ok: false, reason: decodableAudio.length ? 'no-video' : 'picture-only' };
  }
  if (decodableVideo.length === 0) {
    if (pictures.length > 0 && !decodableAudio.length) return { ok: false, reason: 'undecodable', codec: pictures[0].codec_name };
    return { ok: false, reason: decodableAudio.length > 0 ? 'no-video' : 'no-streams' };
  }
  const v = pickStream(decodableVideo, (s) => (flag(s, 'default') ? 1e9 : 0) + (s.width ?? 0) * (s.height ?? 0))!;
  const a = pickStream(decodableAudio, (s) => (flag(s, 'default') ? 1e3 : 0) + Math.min(s.channels ?? 0, 8));
  return { ok: true, v, a, counts };
}

/** The picture stream as the pipeline plans with it (`startS` and `durationS` measured by the caller). */
function videoStreamInfo(v: RawStream, startS: number, durationS: number): VideoStreamInfo {
  const sar = parseRational(v.sample_aspect_ratio, ':') ?? { num: 1, den: 1 };
  const { rotation, matrix } = rotationOf(v);
  const width = v.width!;
  const height = v.height!;
  const sarValue = rationalValue(sar);
  // Anamorphic pixels widen (or narrow) the picture; the height is kept, as players do.
  const shownW = sarValue > 0 && Math.abs(sarValue - 1) > 1e-3 ? width * sarValue : width;
  const quarter = rotation === 90 || rotation === 270;
  const rRate = parseRational(v.r_frame_rate);
  const avgRate = parseRational(v.avg_frame_rate);
  const transfer = v.color_transfer ?? null;
  const fieldOrder = v.field_order ?? null;
  return {
    index: v.index ?? 0,
    codec: v.codec_name!,
    profile: v.profile ?? null,
    width,
    height,
    sar,
    dar: parseRational(v.display_aspect_ratio, ':'),
    rotation,
    displayMatrix: matrix,
    displayWidth: quarter ? height : shownW,
    displayHeight: quarter ? shownW : height,
    pixFmt: v.pix_fmt ?? null,
    bitDepth: bitDepthOf(v),
    fieldOrder,
    interlaced: fieldOrder !== null && ['tt', 'bb', 'tb', 'bt'].includes(fieldOrder),
    rFrameRate: rRate,
    avgFrameRate: avgRate,
    vfr: !!rRate && !!avgRate && Math.abs(rationalValue(rRate) - rationalValue(avgRate)) / rationalValue(rRate) > 0.01,
    colorTransfer: transfer,
    colorPrimaries: v.color_primaries ?? null,
    colorSpace: v.color_space ?? null,
    hdr: transfer === 'smpte2084' ? 'pq' : transfer === 'arib-std-b67' ? 'hlg' : null,
    startS,
    durationS,
    frames: v.nb_frames ?? null,
    bitRate: v.bit_rate ?? null,
  };
}

function audioStreamInfo(a: RawStream, startS: number, durationS: number | null): AudioStreamInfo {
  return {
    index: a.index ?? 0,
    codec: a.codec_name!,
    profile: a.profile ?? null,
    channels: a.channels!,
    channelLayout: a.channel_layout ?? null,
    sampleRate: a.sample_rate!,
    startS,
    durationS,
    bitRate: a.bit_rate ?? null,
  };
}

/** An MP4/MOV whose sample tables promise more bytes than the file holds was cut short (moov up front). */
function promisesMoreThanHeld(formatName: string, fileSize: number, streams: (RawStream | undefined)[]): boolean {
  if (!/(^|,)(mov|mp4)(,|$)/.test(formatName) || fileSize <= 0) return false;
  const promised = streams.reduce((sum, s) => {
    const d = s ? streamDuration(s) : null;
    return s && s.bit_rate && d ? sum + (s.bit_rate * d) / 8 : sum;
  }, 0);
  return promised > 0 && fileSize < promised * 0.97;
}

/**
 * Parses one ffprobe run into a MediaInfo, or a failure a teacher can act on. `maxDurationS` adds the
 * length check (the handler passes the configured maximum).
 */
export function parseProbe(run: ProbeRun, maxDurationS?: number): ProbeOutcome {
  if (run.fileSize === 0) return fail('empty');
  const parsed = probeSchema.safeParse(run.json ?? {});
  const data = parsed.success ? parsed.data : {};
  if (!parsed.success || data.error || (run.exitCode !== null && run.exitCode !== 0) || !data.format) {
    return { ok: false, failure: failureFromProbeError(run.stderr ?? '', (data as { error?: { string?: string } }).error?.string ?? '', run.head) };
  }
  const format: RawFormat = data.format;
  const formatName = format.format_name ?? 'unknown';
  const chosen = chooseStreams(formatName, data.streams ?? []);
  if (!chosen.ok) return fail(chosen.reason, { codec: chosen.codec });
  const { v, a, counts } = chosen;

  const fmtStart = format.start_time ?? 0;
  const startOf = (s: RawStream): number => Math.max(0, (s.start_time ?? fmtStart) - fmtStart);
  const formatDurationS = format.duration && format.duration > 0 ? format.duration : null;
  const vDur = streamDuration(v) ?? formatDurationS;
  const video = videoStreamInfo(v, startOf(v), vDur ?? 0);
  if (Math.min(video.displayWidth, video.displayHeight) < 64) return fail('too-small');
  if (vDur === null) return fail('unknown-duration');
  const videoEndS = video.startS + vDur;
  const aDur = a ? streamDuration(a) ?? formatDurationS : null;
  const audio = a ? audioStreamInfo(a, startOf(a), aDur) : null;
  const audioEndS = audio && aDur !== null ? audio.startS + aDur : null;
  const durationS = Math.max(videoEndS, audioEndS ?? 0);

  if (promisesMoreThanHeld(formatName, run.fileSize, [v, a])) return fail('truncated');
  if (maxDurationS !== undefined && durationS > maxDurationS + 0.5) return fail('too-long', { durationS, maxDurationS });
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

/**
 * The sound of a live source that sends no picture at all (a radio-style lesson, issue 11), or null
 * when it has a picture or no usable sound. Uploads without a picture stay refused (parseProbe).
 */
export function parseSoundOnly(run: ProbeRun): AudioStreamInfo | null {
  const parsed = probeSchema.safeParse(run.json ?? {});
  if (!parsed.success || parsed.data.error || !parsed.data.format) return null;
  const streams = parsed.data.streams ?? [];
  if (streams.some(isPictureStream)) return null;
  const a = pickStream(streams.filter((s) => s.codec_type === 'audio' && knownCodec(s) && (s.channels ?? 0) > 0 && (s.sample_rate ?? 0) > 0), (s) => Math.min(s.channels ?? 0, 8));
  return a ? audioStreamInfo(a, 0, null) : null;
}
