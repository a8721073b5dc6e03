import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { jobIds, queueNames } from './job-types.ts';
import type { Config } from '../../config/config.schema.ts';
import { transcodeJobOptions } from './transcode-options.ts';

/**
 * Transcode job (queue `transcode`): an uploaded source in `sources/{assetId}/` becomes the asset's
 * HLS ladder, poster and storyboard under `assets/{assetId}/`.
 */
export const transcodeJobName = 'transcode';

export const transcodePayloadSchema = z
  .object({
    /** The asset (version) being made. */
    assetId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/, 'letters, digits, _ and -'),
    /** Media-bucket key of the uploaded original (`sources/{assetId}/source.{ext}`). */
    sourceKey: z.string().min(1).max(1024),
    /** For logs only: workers never look the lesson up. */
    lessonId: z.string().optional(),
  })
  // an upload, or a live session's capture joined into one file (a recording made from the capture)
  .refine((p) => (p.sourceKey.startsWith(`sources/${p.assetId}/`) || /^live\/[0-9a-f-]{36}\/source\/recording\.ts$/.test(p.sourceKey)) && !p.sourceKey.includes('..'), { message: 'sourceKey must lie under sources/{assetId}/ or be a live capture', path: ['sourceKey'] });
export type TranscodePayload = z.infer<typeof transcodePayloadSchema>;

/**
 * Queue, name, data and options of one transcode; the job id is derived from the asset (a re-queue is a
 * no-op); attempts and backoff from the configuration.
 */
export function transcodeJob(payload: TranscodePayload, config: Parameters<typeof transcodeJobOptions>[0]): { queue: typeof queueNames.transcode; name: string; data: TranscodePayload; opts: JobsOptions } {
  const data = transcodePayloadSchema.parse(payload);
  return { queue: queueNames.transcode, name: transcodeJobName, data, opts: { ...transcodeJobOptions(config), jobId: jobIds.transcode(data.assetId) } };
}

/** Idempotency key of a transcode result: the catalog applies it once. */
export const transcodeResultKey = (assetId: string): string => `transcode:${assetId}`;

/** One rendition as reported to the catalog. */
export interface TranscodeRenditionData {
  name: string;
  kind: 'video' | 'audio';
  width: number | null;
  height: number | null;
  frameRate: number | null;
  bandwidth: number;
  averageBandwidth: number;
  codecs: string;
  playlistKey: string;
  segments: number;
  bytes: number;
}

/** `JobResult.data` of a successful transcode. */
export interface TranscodeResultData {
  durationS: number;
  width: number;
  height: number;
  masterKey: string;
  posterKey: string;
  storyboard: { imageKey: string; vttKey: string; intervalS: number; columns: number; rows: number; thumbWidth: number; thumbHeight: number; count: number };
  renditions: TranscodeRenditionData[];
  source: { container: string; videoCodec: string; audioCodec: string | null; width: number; height: number; rotation: number; interlaced: boolean; vfr: boolean; bitDepth: number; hdr: string | null; audioChannels: number | null };
  /** Renditions whose peak had to be brought within 2x average (re-encoded with a lower cap / padded). */
  rateGuard: { reencoded: string[]; stuffed: string[] };
}
