/**
 * What the steps of one transcode share (the `transcode` job, workers/transcode.handler.ts): the
 * payload, the parts, the job's work dir and the progress callback. The steps, in order: fetch and
 * probe (transcode-source.ts), encode and rate guard (transcode-encode.ts), images
 * (transcode-images.ts), playlists and validation (transcode-playlists.ts), upload (transcode-upload.ts).
 */
import type { Config } from '../../config/config.schema.ts';
import type { Logger } from '../infra/logger.ts';
import type { ObjectStorage } from '../infra/storage.ts';
import type { TranscodePayload } from '../jobs/transcode.job.ts';
import type { TranscodePlan } from '../media/ffmpeg-args.ts';

export interface TranscodeContext {
  p: TranscodePayload;
  config: Config;
  storage: ObjectStorage;
  bucket: string;
  log: Logger;
  signal: AbortSignal;
  /** The job's work dir (removed by the runner). */
  dir: string;
  /** Where ffmpeg writes the renditions (`{outDir}/{rendition}/index.m3u8` and segments). */
  outDir: string;
  format: Config['HLS_SEGMENT_FORMAT'];
  /** Job progress, 0-100. */
  progress: (pct: number) => void;
}

/** One rendition as ffmpeg wrote it, measured. */
export interface RenditionOutput {
  name: string;
  kind: 'video' | 'audio';
  rendition: TranscodePlan['renditions'][number];
  segments: { uri: string; durationS: number; file: string; bytes: number }[];
  /** fMP4 initialization section (EXT-X-MAP), null for MPEG-TS. */
  init: { uri: string; file: string } | null;
  codecs: string;
}
