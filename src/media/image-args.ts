/**
 * Pure argument builders for the pictures of a lesson: the poster (one JPEG frame) and the storyboard
 * (a sprite of keyframe thumbnails with its WebVTT track), taken from an already-oriented rendition.
 */
import { even, fmtS } from './ffmpeg-args.ts';

export interface PosterArgsOptions {
  input: string;
  /** Seek offset into the input, seconds. */
  atS: number;
  width: number;
  height: number;
  output: string;
}

/**
 * Input URL reading an fMP4 rendition as one seekable file: its init section then its segments, listed
 * in a text file (ffmpeg's `concatf` protocol; the HLS demuxer of ffmpeg 5.1 cannot seek in fMP4).
 */
export function concatListInput(listFile: string): string {
  return `concatf:${listFile}`;
}

/** One JPEG frame (the poster) from an already-oriented rendition. */
export function buildPosterArgs(o: PosterArgsOptions): string[] {
  return [
    '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning',
    // Input seek: jump to the keyframe before, then decode up to the exact instant.
    '-ss', fmtS(Math.max(0, o.atS)),
    '-i', o.input,
    '-map', '0:v:0',
    '-frames:v', '1',
    '-vf', `scale=${o.width}:${o.height},setsar=1`,
    // JPEG quality 2-31 (lower is better): 3 keeps slide text crisp at a modest size.
    '-q:v', '3',
    '-update', '1',
    o.output,
  ];
}

export interface StoryboardPlan {
  intervalS: number;
  count: number;
  columns: number;
  rows: number;
  thumbWidth: number;
  thumbHeight: number;
}

/**
 * Storyboard layout: one thumbnail per interval (a whole number of GOPs, so every thumbnail is a
 * keyframe), at most `maxThumbs` in one sprite, `thumbWidth` wide (aspect kept, even height).
 */
export function planStoryboard(durationS: number, width: number, height: number, opts: { gopSeconds: number; maxThumbs?: number; thumbWidth?: number; columns?: number }): StoryboardPlan {
  const maxThumbs = opts.maxThumbs ?? 400;
  const thumbWidth = opts.thumbWidth ?? 160;
  const gop = opts.gopSeconds;
  const intervalS = Math.max(gop, Math.ceil(durationS / maxThumbs / gop) * gop);
  const count = Math.max(1, Math.floor(Math.max(0, durationS - 0.25) / intervalS) + 1);
  const columns = Math.min(opts.columns ?? 10, count);
  return { intervalS, count, columns, rows: Math.ceil(count / columns), thumbWidth, thumbHeight: even((thumbWidth * height) / width) };
}

/** The storyboard sprite from a rendition's keyframes only (cheap: no other frame is decoded). */
export function buildStoryboardArgs(o: { input: string; plan: StoryboardPlan; output: string }): string[] {
  const p = o.plan;
  const i = p.intervalS;
  // First keyframe of each interval bucket (0.05 s of slack for 29.97 fps keyframe instants).
  const select = `select='isnan(prev_selected_t)+gt(floor((t+0.05)/${i}),floor((prev_selected_t+0.05)/${i}))'`;
  return [
    '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning',
    // Decode keyframes only: thumbnails fall on GOP boundaries anyway.
    '-skip_frame', 'nokey',
    '-i', o.input,
    '-map', '0:v:0',
    '-an',
    '-vf', `${select},scale=${p.thumbWidth}:${p.thumbHeight},setsar=1,tile=${p.columns}x${p.rows}`,
    '-frames:v', '1',
    '-q:v', '4',
    '-update', '1',
    o.output,
  ];
}

function vttTime(s: number): string {
  const ms = Math.round(s * 1000);
  const h = Math.floor(ms / 3600000);
  const m = Math.floor((ms % 3600000) / 60000);
  const sec = Math.floor((ms % 60000) / 1000);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
}

/** WebVTT thumbnail track: one cue per sprite cell, `image#xywh=x,y,w,h` (relative image URI). */
export function buildStoryboardVtt(plan: StoryboardPlan, imageUri: string, durationS: number): string {
  const lines = ['WEBVTT', ''];
  for (let k = 0; k < plan.count; k++) {
    const start = k * plan.intervalS;
    const end = Math.min(durationS, (k + 1) * plan.intervalS);
    if (end <= start) break;
    const x = (k % plan.columns) * plan.thumbWidth;
    const y = Math.floor(k / plan.columns) * plan.thumbHeight;
    lines.push(`${vttTime(start)} --> ${vttTime(end)}`, `${imageUri}#xywh=${x},${y},${plan.thumbWidth},${plan.thumbHeight}`, '');
  }
  return lines.join('\n');
}
