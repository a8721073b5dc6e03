/**
 * Loaders that read an HLS presentation for the validator (src/media/hls-validator.ts): from a local
 * directory (a job's output before upload), from object storage (what players will get), or over HTTP
 * (the playback gateway).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { HlsLoader } from '../media/hls-vod-input.ts';
import type { ObjectStorage } from './storage.ts';

/** Paths relative to `root` on the local disk; `..` never leaves it. */
export function fileLoader(root: string): HlsLoader {
  const at = (p: string) => {
    const full = path.resolve(root, p);
    if (!full.startsWith(path.resolve(root) + path.sep)) throw new Error(`path outside the presentation: ${p}`);
    return full;
  };
  return {
    text: (p) => readFile(at(p), 'utf8'),
    bytes: (p) => readFile(at(p)),
  };
}

/** Keys under `prefix` (e.g. `assets/{assetId}/hls/`) of a bucket. */
export function storageLoader(storage: ObjectStorage, bucket: string, prefix: string): HlsLoader {
  return {
    text: async (p) => (await storage.getBuffer(bucket, prefix + p)).toString('utf8'),
    bytes: (p) => storage.getBuffer(bucket, prefix + p),
  };
}

/** URLs relative to `baseUrl` (the master's folder, ending in `/`). */
export function httpLoader(baseUrl: string, init: RequestInit = {}): HlsLoader {
  const get = async (p: string) => {
    const url = /^[a-z]+:\/\//i.test(p) ? p : new URL(p, baseUrl).toString();
    const res = await fetch(url, init);
    if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
    return res;
  };
  return {
    text: async (p) => (await get(p)).text(),
    bytes: async (p) => new Uint8Array(await (await get(p)).arrayBuffer()),
  };
}
