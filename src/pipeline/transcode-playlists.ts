import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileLoader } from '../infra/hls-source.ts';
import { PermanentJobError } from '../jobs/permanent-error.ts';
import type { TranscodeRenditionData } from '../jobs/transcode.job.ts';
import type { TranscodePlan } from '../media/ffmpeg-args.ts';
import { measureBandwidth, orderVariants, requiredVersion, targetDurationFor, writeMasterPlaylist, writeVodMediaPlaylist, type VariantEntry } from '../media/hls-playlists.ts';
import { validateVod, type Violation } from '../media/hls-validator.ts';
import { loadVodInput } from '../media/hls-vod-input.ts';
import { mediaPlaylistKey } from '../media/storage-keys.ts';
import { rationalValue } from '../media/media-info.ts';
import type { RenditionOutput, TranscodeContext } from './transcode-context.ts';

/** The output failed our own HLS checks: a bug on our side, retrying the same encode cannot help. */
export class OutputInvalidError extends PermanentJobError {
  constructor(readonly violations: Violation[]) {
    super('output_invalid', 'We could not finish processing this video because of a fault on our side (the result failed our quality checks). The technical team has been told; please try again later or upload the file again.');
    this.name = 'OutputInvalidError';
  }
}

/**
 * The master's variants and the result's renditions from the measured segments (BANDWIDTH the peak
 * segment rate, AVERAGE-BANDWIDTH the mean), variants in the master's order.
 */
export function describeRenditions(assetId: string, plan: TranscodePlan, outputs: readonly RenditionOutput[]): { variants: VariantEntry[]; renditions: TranscodeRenditionData[] } {
  const variants: VariantEntry[] = [];
  const renditions: TranscodeRenditionData[] = [];
  const fps = rationalValue(plan.fps);
  for (const o of outputs) {
    const target = targetDurationFor(o.segments.map((s) => s.durationS));
    const bw = measureBandwidth(o.segments.map((s) => ({ durationS: s.durationS, bytes: s.bytes })), target);
    const r = o.rendition;
    const entry: VariantEntry = {
      uri: `${o.name}/index.m3u8`,
      bandwidth: Math.ceil(bw.peakBps),
      averageBandwidth: Math.ceil(bw.averageBps),
      codecs: o.codecs,
      ...(r.kind === 'video' ? { resolution: { width: r.width, height: r.height }, frameRate: fps } : {}),
    };
    variants.push(entry);
    renditions.push({
      name: o.name,
      kind: o.kind,
      width: r.kind === 'video' ? r.width : null,
      height: r.kind === 'video' ? r.height : null,
      frameRate: r.kind === 'video' ? Math.round(fps * 1000) / 1000 : null,
      bandwidth: entry.bandwidth,
      averageBandwidth: entry.averageBandwidth,
      codecs: o.codecs,
      playlistKey: mediaPlaylistKey(assetId, o.name),
      segments: o.segments.length,
      bytes: o.segments.reduce((s, x) => s + x.bytes, 0),
    });
  }
  const ordered = orderVariants(variants);
  return { variants: ordered, renditions: ordered.map((v) => renditions.find((r) => `${r.name}/index.m3u8` === v.uri)!) };
}

/** Step "playlists": our media playlists and master (`{outDir}/master.m3u8`) from the measured segments. */
export async function writePlaylists(ctx: TranscodeContext, plan: TranscodePlan, outputs: readonly RenditionOutput[]): Promise<TranscodeRenditionData[]> {
  for (const o of outputs) await writeFile(path.join(ctx.outDir, o.name, 'index.m3u8'), writeVodMediaPlaylist(o.segments, { mapUri: o.init?.uri ?? null }));
  const { variants, renditions } = describeRenditions(ctx.p.assetId, plan, outputs);
  // The master's version is what its media playlists need (3; 6 with fMP4's EXT-X-MAP).
  const version = requiredVersion({ decimalDurations: true, map: ctx.format === 'fmp4' });
  await writeFile(path.join(ctx.outDir, 'master.m3u8'), writeMasterPlaylist(variants, { version, independentSegments: true }));
  return renditions;
}

/** Step "validate": our validator on exactly what will be uploaded; any violation is our bug. */
export async function validateOutput(ctx: TranscodeContext, durationS: number): Promise<void> {
  const violations = validateVod(await loadVodInput(fileLoader(ctx.outDir), 'master.m3u8', { durationS }));
  if (violations.length) {
    ctx.log.error({ violations }, 'HLS output failed validation');
    throw new OutputInvalidError(violations);
  }
}
