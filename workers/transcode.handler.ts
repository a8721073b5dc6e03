import path from 'node:path';
import type { Job } from 'bullmq';
import type { Config } from '../config/config.schema.ts';
import { withWorkDir } from '../src/infra/ffmpeg.runner.ts';
import type { Logger } from '../src/infra/logger.ts';
import type { JobResult } from '../src/jobs/job-types.ts';
import { parseJobPayload } from '../src/jobs/permanent-error.ts';
import { transcodePayloadSchema, transcodeResultKey, type TranscodePayload, type TranscodeResultData } from '../src/jobs/transcode.job.ts';
import type { VideoRendition } from '../src/media/ffmpeg-args.ts';
import { masterKey, posterKey, storyboardImageKey, storyboardVttKey } from '../src/media/storage-keys.ts';
import type { TranscodeContext } from '../src/pipeline/transcode-context.ts';
import { encodeLadder, guardRates } from '../src/pipeline/transcode-encode.ts';
import { makeImages } from '../src/pipeline/transcode-images.ts';
import { validateOutput, writePlaylists } from '../src/pipeline/transcode-playlists.ts';
import { fetchSource, probeSource, sourceSummary } from '../src/pipeline/transcode-source.ts';
import { uploadOutputs } from '../src/pipeline/transcode-upload.ts';
import type { JobHandler } from './handler-types.ts';
import type { HandlerEntry } from './worker.ts';

/**
 * The `transcode` job: fetch -> probe -> encode (one ffmpeg for the whole ladder) -> rate guard ->
 * images (poster, storyboard) -> playlists from measured segments -> validate (ours) -> upload
 * (segments, media playlists, images, master last) under `assets/{assetId}/`; each step is a function
 * in src/pipeline/transcode-*.ts. Idempotent: the same input gives the same keys and bytes, so a
 * retried or stalled-and-restarted job overwrites its own partial output and returns the same result.
 * Unusable input throws PermanentJobError with a teacher-readable message; everything else retries.
 */
export const transcodeHandler: JobHandler<TranscodePayload> = async (job, deps, signal) => {
  const p = parseJobPayload(transcodePayloadSchema, job.data, 'transcode');
  const { config, storage } = deps;
  // jobId comes with the bootstrap's child logger.
  const log = deps.log.child({ assetId: p.assetId, lessonId: p.lessonId });
  const progress = progressReporter(job, log);

  return withWorkDir(
    config.WORK_DIR,
    `transcode-${p.assetId}`,
    async (dir) => {
      const ctx: TranscodeContext = { p, config, storage, bucket: storage.mediaBucket, log, signal, dir, outDir: path.join(dir, 'hls'), format: config.HLS_SEGMENT_FORMAT, progress };
      const step = stepTimer();
      const src = await fetchSource(ctx);
      progress(2);
      step('downloadMs');
      const { info, plan } = await probeSource(ctx, src);
      step('probeMs');
      log.info({ source: sourceSummary(info), renditions: plan.renditions.map((r) => (r.kind === 'video' ? `${r.name}:${r.width}x${r.height}` : r.name)), fps: plan.fps }, 'transcode planned');
      progress(4);
      const encoded = await encodeLadder(ctx, src, plan);
      step('encodeMs');
      const { outputs, reencoded, stuffed } = await guardRates(ctx, src, plan, encoded.outputs);
      progress(85);
      step('rateGuardMs');
      const durationS = Math.round(encoded.producedS * 1000) / 1000;
      const images = await makeImages(ctx, plan, outputs, durationS);
      progress(88);
      step('imagesMs');
      const renditions = await writePlaylists(ctx, plan, outputs);
      await validateOutput(ctx, durationS);
      progress(90);
      step('validateMs');
      await uploadOutputs(ctx, outputs, images);
      progress(100);
      step('uploadMs');

      const top = outputs.find((o) => o.kind === 'video')!.rendition as VideoRendition;
      const sb = images.storyboard;
      const data: TranscodeResultData = {
        durationS,
        width: top.width,
        height: top.height,
        masterKey: masterKey(p.assetId),
        posterKey: posterKey(p.assetId),
        storyboard: { imageKey: storyboardImageKey(p.assetId), vttKey: storyboardVttKey(p.assetId), intervalS: sb.intervalS, columns: sb.columns, rows: sb.rows, thumbWidth: sb.thumbWidth, thumbHeight: sb.thumbHeight, count: sb.count },
        renditions,
        source: sourceSummary(info),
        rateGuard: { reencoded, stuffed },
      };
      log.info({ durationS, renditions: data.renditions.map((r) => `${r.name}@${r.averageBandwidth}/${r.bandwidth}`), rateGuard: data.rateGuard, steps: step.times }, 'transcode done');
      const result: JobResult = { kind: 'transcode', key: transcodeResultKey(p.assetId), subjectId: p.assetId, ok: true, data: data as unknown as Record<string, unknown> };
      return result;
    },
    log,
  );
};

/** The handler-map entry (workers/handlers.ts): `transcode: transcodeHandlerEntry(config)`. */
export function transcodeHandlerEntry(config: Config): HandlerEntry {
  return {
    handler: transcodeHandler as HandlerEntry['handler'],
    kind: 'transcode',
    subject: (d) => String(d.assetId),
    concurrency: config.TRANSCODE_CONCURRENCY,
  };
}

/** Milliseconds of each named step since the previous one (the job log's `steps`). */
function stepTimer(): ((name: string) => void) & { times: Record<string, number> } {
  const times: Record<string, number> = {};
  let mark = Date.now();
  return Object.assign(
    (name: string) => {
      const now = Date.now();
      times[name] = now - mark;
      mark = now;
    },
    { times },
  );
}

/** Throttled job.updateProgress: integer percent, only upwards, at most about once a second. */
function progressReporter(job: Job, log: Logger): (pct: number) => void {
  let last = -1;
  let lastAt = 0;
  return (pct: number) => {
    const v = Math.max(0, Math.min(100, Math.floor(pct)));
    const now = Date.now();
    if (v <= last || (v < 100 && now - lastAt < 1000)) return;
    last = v;
    lastAt = now;
    job.updateProgress(v).catch((err: unknown) => log.debug({ err }, 'progress not stored'));
  };
}
