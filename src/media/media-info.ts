/**
 * What a source is made of, as the pipeline plans with it: the chosen picture and sound streams with
 * their sizes, rates and colour, and the lengths measured from the file. Pure: built by parseProbe
 * (probe.ts) from ffprobe's output and refined by withMeasuredEnds.
 */

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
