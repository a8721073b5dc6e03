import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { vodLadder } from '../../config/ladder.ts';
import { probeStreamEnds, runFfprobe } from '../infra/ffmpeg.runner.ts';
import { PermanentJobError } from '../jobs/permanent-error.ts';
import type { TranscodeResultData } from '../jobs/transcode.job.ts';
import { planTranscode, type TranscodePlan } from '../media/ffmpeg-args.ts';
import { withMeasuredEnds, type MediaInfo } from '../media/media-info.ts';
import { durationFailure, failureMessage } from '../media/probe-failures.ts';
import { parseProbe } from '../media/probe.ts';
import type { TranscodeContext } from './transcode-context.ts';

/** Step "fetch": the uploaded source into the work dir; a missing or empty object fails at once. */
export async function fetchSource(ctx: TranscodeContext): Promise<string> {
  const { storage, bucket, p, dir, signal } = ctx;
  const ext = /\.([A-Za-z0-9]{1,8})$/.exec(p.sourceKey)?.[1]?.toLowerCase() ?? 'bin';
  const src = path.join(dir, `source.${ext}`);
  const head = await storage.stat(bucket, p.sourceKey);
  if (!head) throw new PermanentJobError('source_missing', 'The uploaded file could not be found any more. Please upload the lesson video again.');
  if (head.size === 0) throw PermanentJobError.fromProbe({ reason: 'empty', message: failureMessage('empty') });
  await pipeline(await storage.get(bucket, p.sourceKey), createWriteStream(src), { signal });
  return src;
}

/**
 * Step "probe": what the source holds and the ladder planned from it. Unusable input fails at once
 * with the reason; header lengths can be off (Matroska, ASF, FLV), so where each stream really ends is
 * measured before the length is checked.
 */
export async function probeSource(ctx: TranscodeContext, src: string): Promise<{ info: MediaInfo; plan: TranscodePlan }> {
  const { config, signal, log } = ctx;
  const probe = await runFfprobe(config.FFPROBE_PATH, src, { signal });
  const outcome = parseProbe(probe, config.MEDIA_MAX_DURATION_S);
  if (!outcome.ok) {
    log.warn({ reason: outcome.failure.reason, stderr: probe.stderr.slice(-500) }, 'source rejected');
    throw PermanentJobError.fromProbe(outcome.failure);
  }
  const ends = await probeStreamEnds(config.FFPROBE_PATH, src, outcome.info.formatStartS + outcome.info.durationS, { signal });
  const info = withMeasuredEnds(outcome.info, ends);
  const tooLong = durationFailure(info, config.MEDIA_MAX_DURATION_S);
  if (tooLong) throw PermanentJobError.fromProbe(tooLong);
  return { info, plan: planTranscode(info, vodLadder) };
}

/** The source as the result reports it. */
export function sourceSummary(info: MediaInfo): TranscodeResultData['source'] {
  return {
    container: info.formatName,
    videoCodec: info.video.codec,
    audioCodec: info.audio?.codec ?? null,
    width: info.video.width,
    height: info.video.height,
    rotation: info.video.rotation,
    interlaced: info.video.interlaced,
    vfr: info.video.vfr,
    bitDepth: info.video.bitDepth,
    hdr: info.video.hdr,
    audioChannels: info.audio?.channels ?? null,
  };
}
