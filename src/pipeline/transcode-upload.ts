import path from 'node:path';
import pMap from 'p-map';
import { contentTypeOf, hlsPrefix, masterKey, mediaPlaylistKey, posterKey, segmentKey, storyboardImageKey, storyboardVttKey } from '../media/storage-keys.ts';
import type { RenditionOutput, TranscodeContext } from './transcode-context.ts';
import type { TranscodeImages } from './transcode-images.ts';

/**
 * Step "upload": init sections and segments, then media playlists, then images, then the master last
 * (no playlist ever names a missing object); then whatever an earlier, different attempt left under
 * the asset's HLS prefix is removed.
 */
export async function uploadOutputs(ctx: TranscodeContext, outputs: readonly RenditionOutput[], images: TranscodeImages): Promise<void> {
  const { storage, bucket, p, signal, outDir } = ctx;
  const uploaded = new Set<string>();
  const put = async (key: string, file: string) => {
    await storage.putFile(bucket, key, file, contentTypeOf(key));
    uploaded.add(key);
  };
  for (const o of outputs) if (o.init) await put(segmentKey(p.assetId, o.name, o.init.uri), o.init.file);
  const segJobs = outputs.flatMap((o) => o.segments.map((s) => ({ key: segmentKey(p.assetId, o.name, s.uri), file: s.file })));
  let done = 0;
  await pMap(
    segJobs,
    async (j) => {
      signal.throwIfAborted();
      await put(j.key, j.file);
      done++;
      ctx.progress(90 + (8 * done) / segJobs.length);
    },
    { concurrency: 4 },
  );
  for (const o of outputs) await put(mediaPlaylistKey(p.assetId, o.name), path.join(outDir, o.name, 'index.m3u8'));
  await put(posterKey(p.assetId), images.posterFile);
  await put(storyboardImageKey(p.assetId), images.storyboardFile);
  await put(storyboardVttKey(p.assetId), images.vttFile);
  signal.throwIfAborted();
  await put(masterKey(p.assetId), path.join(outDir, 'master.m3u8'));
  const stale = (await storage.list(bucket, hlsPrefix(p.assetId))).map((o) => o.key).filter((k) => !uploaded.has(k));
  for (const key of stale) await storage.remove(bucket, key);
  if (stale.length) ctx.log.info({ stale: stale.length }, 'removed objects of an earlier attempt');
}
