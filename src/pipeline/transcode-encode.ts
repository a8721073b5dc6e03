import { appendFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FfmpegError, runFfmpeg } from '../infra/ffmpeg.runner.ts';
import { PermanentJobError } from '../jobs/permanent-error.ts';
import { buildTranscodeArgs, type TranscodePlan } from '../media/ffmpeg-args.ts';
import { withoutBoxes } from '../media/fmp4-boxes.ts';
import { inspectFmp4Init } from '../media/fmp4-segment.ts';
import { readMediaPlaylist, targetDurationFor, writeVodMediaPlaylist } from '../media/hls-playlists.ts';
import { failureMessage, looksTruncated, looksUndecodable } from '../media/probe-failures.ts';
import { lowerCaps, maxPeakRatio, stuffingBytes, stuffingPlan } from '../media/rate-guard.ts';
import { inspectTsSegment } from '../media/ts-segment.ts';
import type { RenditionOutput, TranscodeContext } from './transcode-context.ts';

/**
 * Step "encode": one ffmpeg for every rendition (one decode feeds the whole ladder), then the
 * segments as written, measured, with the audio sliver merged. A source that stops decoding or ends
 * before its own length fails at once: the teacher must upload it again.
 */
export async function encodeLadder(ctx: TranscodeContext, src: string, plan: TranscodePlan): Promise<{ outputs: RenditionOutput[]; producedS: number }> {
  const run = await runEncode(ctx, src, ctx.outDir, plan, undefined, [4, 80]);
  ctx.signal.throwIfAborted();
  const outputs = await collectOutputs(ctx.outDir, plan);
  await mergeAudioSlivers(outputs);
  const top = outputs.find((o) => o.kind === 'video')!;
  const producedS = top.segments.reduce((s, x) => s + x.durationS, 0);
  if (plan.durationS !== null && looksTruncated(run.stderrTail, plan.durationS, producedS)) {
    ctx.log.warn({ expectedS: plan.durationS, producedS, stderrTail: run.stderrTail }, 'source ends early');
    throw PermanentJobError.fromProbe({ reason: 'truncated', message: failureMessage('truncated') });
  }
  return { outputs, producedS };
}

/**
 * Step "rate guard": peak <= 2x average (src/media/rate-guard.ts). Bursty video renditions are
 * re-encoded with a lower cap, then what still misses is padded.
 */
export async function guardRates(ctx: TranscodeContext, src: string, plan: TranscodePlan, encoded: RenditionOutput[]): Promise<{ outputs: RenditionOutput[]; reencoded: string[]; stuffed: string[] }> {
  const { outDir, log } = ctx;
  let outputs = encoded;
  const reencoded: string[] = [];
  const stuffed: string[] = [];
  const lowered = lowerCaps(plan, outputs);
  if (lowered.names.length) {
    log.info({ renditions: lowered.names, caps: lowered.caps }, 'peak above 2x average: re-encoding with a lower cap');
    const redo = path.join(ctx.dir, 'redo');
    await runEncode(ctx, src, redo, lowered.plan, lowered.names, [80, 84]);
    for (const name of lowered.names) {
      await rm(path.join(outDir, name), { recursive: true, force: true });
      await rename(path.join(redo, name), path.join(outDir, name));
    }
    reencoded.push(...lowered.names);
    outputs = await collectOutputs(outDir, plan);
  }
  for (const o of outputs) {
    const target = targetDurationFor(o.segments.map((s) => s.durationS));
    const packets = stuffingPlan(o.segments.map((s) => ({ durationS: s.durationS, bytes: s.bytes })), target, maxPeakRatio);
    if (!packets.some((n) => n > 0)) continue;
    for (let i = 0; i < o.segments.length; i++) {
      if (packets[i] > 0) await appendFile(o.segments[i].file, stuffingBytes(packets[i], ctx.format));
    }
    stuffed.push(o.name);
  }
  if (stuffed.length) {
    log.info({ renditions: stuffed }, 'peak above 2x average: null packets added to the lightest segments');
    outputs = await collectOutputs(outDir, plan);
  }
  return { outputs, reencoded, stuffed };
}

/** One ffmpeg over the plan (or only the named renditions) into `target`, progress mapped onto `span`. */
async function runEncode(ctx: TranscodeContext, src: string, target: string, plan: TranscodePlan, only: string[] | undefined, span: [number, number]) {
  const { config, signal, log } = ctx;
  for (const r of plan.renditions) if (!only || only.includes(r.name)) await mkdir(path.join(target, r.name), { recursive: true });
  const args = buildTranscodeArgs({ input: src, inputOptions: ['-probesize', '50M', '-analyzeduration', '20M'], outDir: target, plan, preset: config.TRANSCODE_X264_PRESET, segmentFormat: ctx.format, only });
  try {
    return await runFfmpeg(args, { ffmpegPath: config.FFMPEG_PATH, durationS: plan.durationS, signal, log, onProgress: (pct) => ctx.progress(span[0] + ((span[1] - span[0]) * pct) / 100) });
  } catch (err) {
    if (err instanceof FfmpegError && !err.aborted && err.signal === null && looksUndecodable(err.stderrTail)) {
      log.warn({ stderrTail: err.stderrTail }, 'source could not be decoded');
      throw PermanentJobError.fromProbe({ reason: 'truncated', message: failureMessage('truncated') });
    }
    throw err;
  }
}

/** Segments of every rendition as ffmpeg wrote them, with sizes and the codecs of the real encode. */
export async function collectOutputs(outDir: string, plan: TranscodePlan): Promise<RenditionOutput[]> {
  const out: RenditionOutput[] = [];
  for (const r of plan.renditions) {
    const folder = path.join(outDir, r.name);
    const pl = readMediaPlaylist(await readFile(path.join(folder, 'index.m3u8'), 'utf8'));
    if (!pl.segments.length) throw new Error(`ffmpeg wrote no segment for ${r.name}`);
    const init = pl.mapUri ? { uri: pl.mapUri, file: path.join(folder, pl.mapUri) } : null;
    const segments: RenditionOutput['segments'] = [];
    for (const s of pl.segments) {
      const file = path.join(folder, s.uri);
      segments.push({ uri: s.uri, durationS: s.durationS, file, bytes: (await stat(file)).size });
    }
    let codecs: string[];
    if (init) {
      const tracks = inspectFmp4Init(await readFile(init.file)).tracks;
      codecs = ['vide', 'soun'].map((h) => tracks.find((t) => t.handler === h)?.codecs).filter((c): c is string => !!c);
    } else {
      const f = inspectTsSegment(await readFile(segments[0].file));
      codecs = [f.video?.codecs, f.audio?.codecs].filter((c): c is string => !!c);
    }
    out.push({ name: r.name, kind: r.kind, rendition: r, segments, init, codecs: codecs.join(',') });
  }
  return out;
}

/**
 * AAC's priming frame puts the audio-only rendition ~21 ms ahead of time zero, so when the lesson
 * length is a whole number of segments it gets one extra sliver segment the video renditions do not
 * have. The sliver is appended to the segment before it (TS packets, or fMP4 fragments without their
 * styp/sidx) so every rendition has the same segment count and boundaries (REFERENCE: aligned).
 */
async function mergeAudioSlivers(outputs: RenditionOutput[]): Promise<void> {
  const video = outputs.find((o) => o.kind === 'video');
  if (!video) return;
  for (const o of outputs) {
    if (o.kind !== 'audio' || o.segments.length !== video.segments.length + 1) continue;
    const last = o.segments[o.segments.length - 1];
    if (last.durationS >= 0.5) continue;
    const prev = o.segments[o.segments.length - 2];
    let tail: Buffer = await readFile(last.file);
    if (o.init) tail = withoutBoxes(tail, ['styp', 'sidx']);
    await appendFile(prev.file, tail);
    await rm(last.file, { force: true });
    prev.durationS = Math.round((prev.durationS + last.durationS) * 1e6) / 1e6;
    prev.bytes = (await stat(prev.file)).size;
    o.segments.pop();
    await writeFile(path.join(path.dirname(prev.file), 'index.m3u8'), writeVodMediaPlaylist(o.segments, { mapUri: o.init?.uri ?? null }));
  }
}
