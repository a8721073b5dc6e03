import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ObjectStorage } from '../infra/storage.ts';
import { PermanentJobError } from '../jobs/permanent-error.ts';
import { isMultivariant, readMediaPlaylistText, readPlaylistText, readVariants } from '../media/hls-reader.ts';

/**
 * Step "fetch" of a cable package: copies the source next to ffmpeg: one object, or a recording's HLS
 * media playlist as one file (its segments joined in order: TS segments are a TS, an fMP4 init +
 * fragments an MP4), so the recording is probed and read like any upload.
 */
export async function fetchCableSource(storage: ObjectStorage, key: string, dir: string): Promise<string> {
  const bucket = storage.mediaBucket;
  if (!(await storage.stat(bucket, key))) throw new PermanentJobError('cable_source_missing', 'the lesson source file is missing from storage');
  await mkdir(dir, { recursive: true });
  if (!/\.m3u8$/i.test(key)) {
    const file = path.join(dir, `source${path.extname(key).replace(/[^.A-Za-z0-9]/g, '') || '.bin'}`);
    await pipeline(await storage.get(bucket, key), createWriteStream(file));
    return file;
  }
  let playlistKey = key;
  let text = (await storage.getBuffer(bucket, key)).toString('utf8');
  const top = readPlaylistText(text);
  if (isMultivariant(top)) {
    // the top rendition: the best picture the recording has
    const best = [...readVariants(top)].sort((a, b) => (b.bandwidth ?? 0) - (a.bandwidth ?? 0))[0];
    if (!best) throw new PermanentJobError('cable_recording_invalid', 'the recording playlist lists no rendition');
    playlistKey = relativeKey(key, best.uri);
    text = (await storage.getBuffer(bucket, playlistKey)).toString('utf8');
  }
  const playlist = readMediaPlaylistText(playlistKey, text);
  const segments = playlist.segments;
  if (!segments.length) throw new PermanentJobError('cable_recording_invalid', 'the recording has no segments');
  const maps = new Set(playlist.mapUris);
  if (maps.size > 1) throw new PermanentJobError('cable_recording_invalid', 'the recording changes its fMP4 initialisation segment midway; it cannot be joined into one file');
  const parts = [...maps, ...segments.map((s) => s.uri)];
  const file = path.join(dir, maps.size ? 'source.mp4' : 'source.ts');
  const out = createWriteStream(file);
  for (const uri of parts) await pipeline(await storage.get(bucket, relativeKey(playlistKey, uri)), out, { end: false });
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return file;
}

/** A playlist URI as a key beside the playlist; absolute URLs and escapes are refused. */
function relativeKey(playlistKey: string, uri: string): string {
  return path.posix.join(path.posix.dirname(playlistKey), safeRelative(uri));
}

function safeRelative(uri: string): string {
  const clean = uri.split(/[?#]/)[0];
  const norm = path.posix.normalize(clean);
  if (/^[a-z]+:/i.test(uri) || norm.startsWith('/') || norm.startsWith('..')) throw new PermanentJobError('cable_recording_invalid', `the recording playlist points outside its folder (${uri})`);
  return norm;
}
