import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runFfmpeg } from '../infra/ffmpeg.runner.ts';
import type { TranscodePlan, VideoRendition } from '../media/ffmpeg-args.ts';
import { buildPosterArgs, buildStoryboardArgs, buildStoryboardVtt, concatListInput, planStoryboard, type StoryboardPlan } from '../media/image-args.ts';
import type { RenditionOutput, TranscodeContext } from './transcode-context.ts';

export interface TranscodeImages {
  posterFile: string;
  storyboard: StoryboardPlan;
  storyboardFile: string;
  vttFile: string;
}

/** Step "images": the poster (10 % in, largest rendition up to 720p) and storyboard (keyframes of the smallest). */
export async function makeImages(ctx: TranscodeContext, plan: TranscodePlan, outputs: RenditionOutput[], durationS: number): Promise<TranscodeImages> {
  const { config, signal, log, dir } = ctx;
  const videos = outputs.filter((o) => o.kind === 'video');
  const posterSrc = videos.find((o) => shortSide(o.rendition as VideoRendition) <= 720) ?? videos[0];
  const pr = posterSrc.rendition as VideoRendition;
  const posterFile = path.join(dir, 'poster.jpg');
  const posterRun = async (s: { file: string; offsetS: number }) => {
    const input = await readableInput(ctx, posterSrc, posterSrc.segments.filter((x) => x.file === s.file), 'poster');
    await runFfmpeg(buildPosterArgs({ input, atS: s.offsetS, width: pr.width, height: pr.height, output: posterFile }), { ffmpegPath: config.FFMPEG_PATH, signal, log });
  };
  await posterRun(segmentAt(posterSrc.segments, durationS * 0.1));
  // Nothing decodable at that instant (a tail without frames): the very first picture will do.
  if (!(await exists(posterFile))) await posterRun({ file: posterSrc.segments[0].file, offsetS: 0 });

  const sbSrc = videos[videos.length - 1];
  const sr = sbSrc.rendition as VideoRendition;
  const storyboard = planStoryboard(durationS, sr.width, sr.height, { gopSeconds: plan.gopSeconds });
  const storyboardFile = path.join(dir, 'storyboard.jpg');
  const sbInput = sbSrc.init ? await readableInput(ctx, sbSrc, sbSrc.segments, 'storyboard') : path.join(ctx.outDir, sbSrc.name, 'index.m3u8');
  await runFfmpeg(buildStoryboardArgs({ input: sbInput, plan: storyboard, output: storyboardFile }), { ffmpegPath: config.FFMPEG_PATH, signal, log });
  const vttFile = path.join(dir, 'storyboard.vtt');
  await writeFile(vttFile, buildStoryboardVtt(storyboard, 'storyboard.jpg', durationS));
  return { posterFile, storyboard, storyboardFile, vttFile };
}

/** An ffmpeg input for some segments of a rendition: a TS segment decodes on its own; fMP4 is read as init + segments through a concat list. */
async function readableInput(ctx: TranscodeContext, o: RenditionOutput, segs: RenditionOutput['segments'], tag: string): Promise<string> {
  if (!o.init) return segs.length === 1 ? segs[0].file : path.join(ctx.outDir, o.name, 'index.m3u8');
  const list = path.join(ctx.dir, `${o.name}-${tag}.txt`);
  await writeFile(list, [o.init.file, ...segs.map((x) => x.file)].join('\n') + '\n');
  return concatListInput(list);
}

/** The segment playing at `atS` and the offset into it (the first segment when past the end). */
export function segmentAt(segments: readonly { file: string; durationS: number }[], atS: number): { file: string; offsetS: number } {
  let start = 0;
  for (const s of segments) {
    if (atS < start + s.durationS) return { file: s.file, offsetS: Math.max(0, atS - start) };
    start += s.durationS;
  }
  return { file: segments[0].file, offsetS: 0 };
}

const exists = (file: string): Promise<boolean> => stat(file).then((s) => s.size > 0, () => false);
const shortSide = (r: VideoRendition): number => Math.min(r.width, r.height);
