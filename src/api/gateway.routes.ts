import { gzipSync } from 'node:zlib';
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import express, { type Request, type Response, type Router } from 'express';
import { LRUCache } from 'lru-cache';
import type { ObjectStorage } from '../infra/storage.ts';
import type { Logger } from '../infra/logger.ts';
import { contentTypeOf, isServableHlsPath } from '../media/storage-keys.ts';
import type { AssetLocation } from '../services/playback-access.service.ts';
import { sendProblem } from './problem.ts';

/** How long players and caches may keep what the gateway serves. */
export type CacheProfile = 'vod' | 'preview' | 'live';

/** Where a gateway path's objects live, once access is granted. */
export interface GatewayTarget {
  /** Storage key of a path relative to the master playlist; undefined when no such object may be served. */
  keyFor(relPath: string): string | undefined;
  profile: CacheProfile;
}

/** A served object kept in memory, with its gzip form when worth having. */
export interface CachedObject {
  body: Buffer;
  gz?: Buffer;
}

/** Recently served objects in memory, bounded in bytes, least recently used evicted first. */
export type ObjectCache = LRUCache<string, CachedObject>;

/**
 * Asset objects never change once their asset is ready, so entries of VOD and preview paths live for a
 * minute; live playlists change every segment and are kept half a second (each `set` gives its ttl).
 */
export function objectCache(maxBytes: number, maxObjectBytes = 4 * 1024 * 1024): ObjectCache {
  return new LRUCache<string, CachedObject>({
    maxSize: maxBytes,
    maxEntrySize: Math.min(maxObjectBytes, maxBytes),
    sizeCalculation: (o) => Math.max(1, o.body.length + (o.gz?.length ?? 0)),
  });
}

export interface GatewayDeps {
  storage: ObjectStorage;
  log: Logger;
  /** Hot objects in memory; undefined serves every request from storage. */
  cache?: ObjectCache;
  /** /play/{lessonId}/...: the published asset's target, or undefined (404). */
  play(lessonId: string): Promise<GatewayTarget | undefined>;
  /** /preview/{token}/...: the token's asset target, or undefined (404). */
  preview(token: string): Promise<GatewayTarget | undefined>;
  /** /live/{lessonId}/...: the on-air session's target, or undefined (404). */
  live?(lessonId: string): Promise<GatewayTarget | undefined>;
}

/** Maps a path under an asset to its storage key: HLS files, poster and storyboard. */
export function assetTarget(a: AssetLocation, profile: CacheProfile): GatewayTarget {
  return {
    profile,
    keyFor(rel) {
      if (rel === 'poster.jpg') return a.posterKey;
      if (rel === 'storyboard.jpg') return a.storyboardImageKey;
      if (rel === 'storyboard.vtt') return a.storyboardVttKey;
      return isServableHlsPath(rel) ? `${a.hlsRoot}${rel}` : undefined;
    },
  };
}

/** Maps a path under a live session's root (while on air). */
export function liveTarget(root: string): GatewayTarget {
  return { profile: 'live', keyFor: (rel) => (isServableHlsPath(rel) ? `${root}${rel}` : undefined) };
}


function cacheControl(profile: CacheProfile, playlist: boolean): string {
  // DESIGN: segments immutable; VOD playlists minutes; live playlists about one segment
  if (profile === 'live') return playlist ? 'public, max-age=1' : 'public, max-age=86400, immutable';
  if (profile === 'preview') return playlist ? 'private, max-age=60' : 'private, max-age=3600';
  return playlist ? 'public, max-age=300' : 'public, max-age=31536000, immutable';
}

const notFound = (res: Response): void => sendProblem(res, 404, 'media_not_found', 'not found');

/** The playback gateway: the only way media leaves private storage. */
export function gatewayRouter(d: GatewayDeps): Router {
  const r = express.Router({ caseSensitive: true });
  const serve = (resolve: (id: string) => Promise<GatewayTarget | undefined>) => async (req: Request, res: Response) => {
    const rel = ([] as string[]).concat((req.params as { path?: string[] | string }).path ?? []).join('/');
    const target = await resolve(String((req.params as { id: string }).id));
    const key = target?.keyFor(rel);
    if (!target || !key) return notFound(res);
    await sendObject(d, req, res, key, target.profile, rel);
  };
  const uuid = (fn: (id: string) => Promise<GatewayTarget | undefined>) => async (id: string) =>
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id) ? fn(id.toLowerCase()) : undefined;
  r.get('/play/:id/*path', serve(uuid(d.play)));
  r.get('/preview/:id/*path', serve(d.preview));
  if (d.live) r.get('/live/:id/*path', serve(uuid(d.live)));
  return r;
}

async function sendObject(d: GatewayDeps, req: Request, res: Response, key: string, profile: CacheProfile, rel: string): Promise<void> {
  const ext = rel.slice(rel.lastIndexOf('.') + 1);
  const type = contentTypeOf(rel);
  const bucket = d.storage.mediaBucket;
  const playlist = ext === 'm3u8' || ext === 'vtt';
  res.setHeader('Cache-Control', cacheControl(profile, playlist));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  const ttl = profile === 'live' ? (playlist ? 500 : 60_000) : 60_000;
  if (playlist) {
    let hit = d.cache?.get(key);
    if (!hit) {
      let body: Buffer;
      try {
        body = await d.storage.getBuffer(bucket, key);
      } catch (err) {
        return missing(d, res, err);
      }
      hit = { body, gz: body.length > 256 ? gzipSync(body, { level: 6 }) : undefined };
      d.cache?.set(key, hit, { ttl });
    }
    res.setHeader('Content-Type', type);
    res.setHeader('Vary', 'Accept-Encoding');
    let out = hit.body;
    if (hit.gz && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      out = hit.gz;
      res.setHeader('Content-Encoding', 'gzip');
    }
    res.setHeader('Content-Length', String(out.length));
    res.status(200).end(req.method === 'HEAD' ? undefined : out);
    return;
  }
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', type);
  const cached = d.cache?.get(key);
  if (cached) return sendBuffer(req, res, cached.body, true);
  if (req.headers.range) {
    const st = await d.storage.stat(bucket, key).catch(() => null);
    if (!st) return notFound(res);
    const range = byteRange(req, st.size);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${st.size}`);
      return sendProblem(res, 416, 'range_not_satisfiable', 'range not satisfiable');
    }
    if (range) {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${st.size}`);
      res.setHeader('Content-Length', String(range.end - range.start + 1));
      if (req.method === 'HEAD') return void res.end();
      const s = await d.storage.get(bucket, key, range);
      await pipeline(s, res).catch(() => res.destroy());
      return;
    }
  }
  let s: IncomingMessage;
  try {
    s = (await d.storage.get(bucket, key)) as IncomingMessage;
  } catch (err) {
    return missing(d, res, err);
  }
  const len = s.headers?.['content-length'];
  if (d.cache && len && Number(len) <= 4 * 1024 * 1024) {
    // small enough to keep: read it whole, remember it, answer from memory
    const chunks: Buffer[] = [];
    try {
      for await (const c of s) chunks.push(c as Buffer);
    } catch (err) {
      return missing(d, res, err);
    }
    const body = Buffer.concat(chunks);
    d.cache.set(key, { body }, { ttl });
    return sendBuffer(req, res, body, false);
  }
  if (len) res.setHeader('Content-Length', len);
  res.status(200);
  if (req.method === 'HEAD') {
    s.destroy();
    return void res.end();
  }
  await pipeline(s, res).catch(() => res.destroy());
}

function sendBuffer(req: Request, res: Response, body: Buffer, honourRange: boolean): void {
  if (honourRange) {
    const range = byteRange(req, body.length);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${body.length}`);
      return sendProblem(res, 416, 'range_not_satisfiable', 'range not satisfiable');
    }
    if (range) {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${body.length}`);
      res.setHeader('Content-Length', String(range.end - range.start + 1));
      res.end(req.method === 'HEAD' ? undefined : body.subarray(range.start, range.end + 1));
      return;
    }
  }
  res.status(200);
  res.setHeader('Content-Length', String(body.length));
  res.end(req.method === 'HEAD' ? undefined : body);
}

function missing(d: GatewayDeps, res: Response, err: unknown): void {
  const code = (err as { code?: string }).code;
  if (code === 'NoSuchKey' || code === 'NotFound') return notFound(res);
  d.log.warn({ err }, 'gateway storage read failed');
  sendProblem(res, 503, 'storage_unavailable', 'media storage is not reachable; try again');
}

/**
 * The request's single `bytes=` range (Express's `req.range`, RFC 9110); undefined for no header or one we
 * ignore (multi-range, another unit, malformed), which is then answered whole.
 */
export function byteRange(req: Pick<Request, 'range'>, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const r = req.range(size);
  if (r === -1) return 'unsatisfiable';
  if (r === undefined || r === -2 || r.type !== 'bytes' || r.length !== 1) return undefined;
  return { start: r[0].start, end: r[0].end };
}
