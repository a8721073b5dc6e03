/**
 * Every object key classcast writes, in one place (DESIGN.md, storage layout). Bucket `media` unless
 * said. Keys never reach students: the playback gateway maps public paths onto them.
 */

/** Uploaded original, kept: sources/{assetId}/source.{ext}. */
export const sourceKey = (assetId: string, ext: string): string => `sources/${assetId}/source.${safeExt(ext)}`;

/** Root of an asset's HLS output. */
export const hlsPrefix = (assetId: string): string => `assets/${assetId}/hls/`;
/** VOD multivariant playlist (written last). */
export const masterKey = (assetId: string): string => `${hlsPrefix(assetId)}master.m3u8`;
/** A file under the asset's HLS root, by its path relative to master.m3u8 (e.g. `720p/index.m3u8`, `720p/seg_00001.ts`). */
export const hlsObjectKey = (assetId: string, relPath: string): string => `${hlsPrefix(assetId)}${relPath}`;
export const mediaPlaylistKey = (assetId: string, rendition: string): string => `${hlsPrefix(assetId)}${rendition}/index.m3u8`;

export const posterKey = (assetId: string): string => `assets/${assetId}/poster.jpg`;
export const storyboardImageKey = (assetId: string): string => `assets/${assetId}/storyboard.jpg`;
export const storyboardVttKey = (assetId: string): string => `assets/${assetId}/storyboard.vtt`;

/** Live HLS while on air; becomes the recording's asset. */
export const livePrefix = (sessionId: string): string => `live/${sessionId}/`;
export const liveObjectKey = (sessionId: string, relPath: string): string => `${livePrefix(sessionId)}${relPath}`;

/** Question attachments. */
export const qaImageKey = (questionId: string, n: number): string => `qa/${questionId}/${n}.jpg`;

/** Bucket cable-outbox: one folder per package; ADI.XML written last. */
export const cablePackageKey = (packageId: string, file: 'ADI.XML' | 'movie.ts' | 'poster.jpg'): string => `${packageId}/${file}`;

/**
 * Whether a path relative to an HLS root is one a player may ask for: playlists, segments, init
 * segments, storyboard; no traversal, no hidden files.
 */
export function isServableHlsPath(relPath: string): boolean {
  if (relPath.length > 200 || relPath.includes('..') || relPath.includes('//')) return false;
  return /^(?:[A-Za-z0-9_-]{1,40}\/)?[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}\.(?:m3u8|ts|m4s|mp4|aac|vtt|jpg)$/.test(relPath);
}

function safeExt(ext: string): string {
  const e = ext.toLowerCase().replace(/^\./, '');
  return /^[a-z0-9]{1,8}$/.test(e) ? e : 'bin';
}
