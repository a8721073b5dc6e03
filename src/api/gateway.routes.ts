import { gzipSync } from 'node:zlib';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { LRUCache } from 'lru-cache';
import parseRange from 'range-parser';
import type { ObjectStorage } from '../infra/storage.ts';
import { scrubUrl, type Logger } from '../infra/logger.ts';
import { contentTypeOf, isServableHlsPath } from '../media/storage-keys.ts';
import type { AssetLocation } from '../services/playback-access.service.ts';
import { isUnavailableError, unavailableRetryAfterS } from '../infra/unavailable.ts';
import { sendProblem } from './problem.ts';
import type { ErrorCode } from '../domain/error-codes.ts';
import { isUuid } from '../domain/ids.ts';
import type { Metrics } from './metrics.ts';
import { matchesIfNoneMatch, strongEtag } from './response-cache.ts';

/** How long players and caches may keep what the gateway serves. */
export type CacheProfile = 'vod' | 'preview' | 'live';

/** Where a gateway path's objects live, once access is granted. */
export interface GatewayTarget {
  /** Storage key of a path relative to the master playlist; undefined when no such object may be served. */
  keyFor(relPath: string): string | undefined;
  profile: CacheProfile;
}

/** A served object kept in memory; playlists also with their gzip form when worth having, and ETags. */
export interface CachedObject {
  body: Buffer;
  etag?: string;
  gz?: Buffer;
  gzEtag?: string;
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
  /** CORS_ORIGINS: players on these origins may read what the gateway serves ("*" for any). */
  corsOrigins: string[];
  metrics?: Metrics;
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

/**
 * Seconds the caching edge (deploy/nginx.conf) keeps an answer: short, so a withdrawn or stopped lesson
 * leaves the edge soon after it leaves the gateway, while players keep Cache-Control's lifetimes. A live
 * playlist: half its target duration (1 s for 2 s segments; a master has none: 1 s). Undefined: not
 * for a shared cache (previews are private).
 */
export function edgeLifetimeS(profile: CacheProfile, playlist: boolean, targetDurationS?: number): number | undefined {
  if (profile === 'preview') return undefined;
  if (playlist) return profile === 'live' ? Math.max(1, Math.floor((targetDurationS ?? 2) / 2)) : 5;
  return 60;
}

/** A playlist's EXT-X-TARGETDURATION, from its head; undefined for a master. */
function targetDurationS(body: Buffer): number | undefined {
  const m = /#EXT-X-TARGETDURATION:(\d+)/.exec(body.subarray(0, 512).toString('latin1'));
  return m ? Number(m[1]) : undefined;
}

/** A problem answer from the gateway: never kept by the edge or a player, whatever was set before. */
function problem(res: ServerResponse, status: number, code: ErrorCode, detail: string): void {
  res.removeHeader('ETag');
  res.removeHeader('X-Accel-Expires');
  res.setHeader('Cache-Control', 'no-store');
  sendProblem(res, status, code, detail);
}

const notFound = (res: ServerResponse): void => problem(res, 404, 'media_not_found', 'not found');

type Kind = 'play' | 'preview' | 'live';
const kinds: [string, Kind][] = [['/play/', 'play'], ['/live/', 'live'], ['/preview/', 'preview']];

/**
 * The playback gateway: the only way media leaves private storage. It answers GET and HEAD on
 * /play, /live and /preview straight from node:http, ahead of the Express app: a playlist is a few
 * hundred bytes held in memory, and the app's chain (request log, metrics middleware, CORS, router
 * matching) cost players three quarters of the throughput (issue 12). The gate itself is unchanged:
 * every request asks `play`/`live`/`preview` first, whose answers are cached only until a change is
 * announced over Redis. Returns false for requests it does not take (preflights, other methods, other paths).
 */
export function gatewayHandler(d: GatewayDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const uuid = (fn: (id: string) => Promise<GatewayTarget | undefined>) => async (id: string) => (isUuid(id) ? fn(id.toLowerCase()) : undefined);
  const resolvers: Record<Kind, ((id: string) => Promise<GatewayTarget | undefined>) | undefined> = {
    play: uuid(d.play),
    live: d.live ? uuid(d.live.bind(d)) : undefined,
    preview: d.preview,
  };
  const record = gatewayMetrics(d.metrics);
  const cors = gatewayCors(d.corsOrigins);
  const lastGood: LastGoodPlaylists = new LRUCache({ max: 10_000 });
  const debug = d.log.isLevelEnabled('debug');
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '';
    const hit = kinds.find(([prefix]) => url.startsWith(prefix));
    const resolve = hit && resolvers[hit[1]];
    if (!hit || !resolve) return false;
    const started = performance.now();
    const route = `/${hit[1]}/*`;
    res.setHeader('X-Content-Type-Options', 'nosniff');
    cors(req, res);
    serve(d, lastGood, req, res, resolve, url.slice(hit[0].length))
      .catch((err: unknown) => {
        if (res.headersSent) return void res.destroy();
        if (isUnavailableError(err)) {
          // the catalog's database (access check) or storage is restarting: players retry
          d.log.warn({ err, url: scrubUrl(url).slice(0, 300) }, 'gateway: a part underneath is unreachable');
          res.setHeader('Retry-After', String(unavailableRetryAfterS));
          return problem(res, 503, 'service_unavailable', 'the service is briefly unavailable; try again shortly');
        }
        d.log.error({ err, url: scrubUrl(url).slice(0, 300) }, 'gateway request failed');
        problem(res, 500, 'internal_error', 'internal error');
      })
      .finally(() => {
        record(req.method!, route, res.statusCode, started);
        if (res.statusCode >= 500) d.log.error({ method: req.method, url: scrubUrl(url).slice(0, 300), status: res.statusCode }, 'request');
        else if (debug) d.log.debug({ method: req.method, url: scrubUrl(url).slice(0, 300), status: res.statusCode, ms: Math.round((performance.now() - started) * 10) / 10 }, 'request');
      });
    return true;
  };
}

async function serve(d: GatewayDeps, lastGood: LastGoodPlaylists, req: IncomingMessage, res: ServerResponse, resolve: (id: string) => Promise<GatewayTarget | undefined>, rest: string): Promise<void> {
  const q = rest.indexOf('?');
  const parts = (q < 0 ? rest : rest.slice(0, q)).split('/');
  let id: string;
  let rel: string;
  try {
    id = decodeURIComponent(parts[0]);
    rel = parts.slice(1).map(decodeURIComponent).join('/');
  } catch {
    return notFound(res);
  }
  if (!id || !rel) return notFound(res);
  const target = await resolve(id);
  const key = target?.keyFor(rel);
  if (!target || !key) return notFound(res);
  await sendObject(d, lastGood, req, res, key, target.profile, rel);
}

/**
 * CORS on what the gateway serves. Unlike the API's (the `cors` package, which answers only requests
 * carrying an Origin), the answer must not depend on whether this request had an Origin: the edge
 * keeps one copy per URL for every player. With "*" every answer allows any origin; with a list,
 * allowed origins are echoed and the answer varies by Origin.
 */
function gatewayCors(origins: string[]): (req: IncomingMessage, res: ServerResponse) => void {
  const any = origins.includes('*');
  const expose = 'Content-Length, Content-Range, Accept-Ranges, Retry-After';
  return (req, res) => {
    if (any) {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Access-Control-Expose-Headers', expose);
      return;
    }
    res.setHeader('Vary', 'Origin');
    const origin = req.headers.origin;
    if (origin && origins.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Expose-Headers', expose);
    }
  };
}

/** Request counts and latencies under the same metric names as the app's, with label children made once. */
function gatewayMetrics(m: Metrics | undefined): (method: string, route: string, status: number, started: number) => void {
  if (!m) return () => undefined;
  const counters = new Map<string, { inc(): void }>();
  const timers = new Map<string, { observe(v: number): void }>();
  return (method, route, status, started) => {
    const ck = `${method} ${route} ${status}`;
    let c = counters.get(ck);
    if (!c) counters.set(ck, (c = m.requests.labels({ method, route, status: String(status) })));
    const tk = `${method} ${route}`;
    let t = timers.get(tk);
    if (!t) timers.set(tk, (t = m.duration.labels({ method, route })));
    c.inc();
    t.observe((performance.now() - started) / 1000);
  };
}

/**
 * The last whole copy of each live playlist read from storage, and until when it may stand in: storage
 * that rewrites objects in place (the local S3 server) answers a read landing mid-rewrite with nothing,
 * a cut playlist or not-found. Such a read is answered with this copy while it is at most one target
 * duration old (a player polling then sees the window it saw a moment ago, never an error).
 */
type LastGoodPlaylists = LRUCache<string, { hit: CachedObject; until: number }>;

/** A playlist as written: never empty; a live one starts with #EXTM3U and ends its last line. */
function wholePlaylist(body: Buffer, live: boolean): boolean {
  if (body.length === 0) return false;
  if (!live) return true;
  return body.subarray(0, 7).toString('latin1') === '#EXTM3U' && body[body.length - 1] === 0x0a;
}

/** How long a live playlist's copy may stand in: its target duration (2 s for a master, which has none). */
const standInMs = (body: Buffer): number => (targetDurationS(body) ?? 2) * 1000;

/** Compressed and tagged once per read from storage, not per request. */
function playlistEntry(body: Buffer): CachedObject {
  const gz = body.length > 256 ? gzipSync(body, { level: 6 }) : undefined;
  return { body, etag: strongEtag(body), gz, gzEtag: gz && strongEtag(body, '.gz') };
}

/**
 * A playlist from storage, checked whole: when a read lands while storage rewrites it, a live
 * playlist's last whole copy (if young enough) answers, otherwise the read is tried once more after a
 * moment; still nothing whole is a 503 that players retry. Undefined: the answer was sent.
 * What is read whole goes into the object cache for `ttl`.
 */
async function readPlaylist(d: GatewayDeps, lastGood: LastGoodPlaylists, res: ServerResponse, key: string, live: boolean, ttl: number): Promise<CachedObject | undefined> {
  const bucket = d.storage.mediaBucket;
  const standIn = () => {
    const last = live ? lastGood.get(key) : undefined;
    return last && last.until > Date.now() ? last.hit : undefined;
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    let body: Buffer;
    try {
      body = await d.storage.getBuffer(bucket, key);
    } catch (err) {
      const last = standIn();
      if (last) return last;
      return void missing(d, res, err);
    }
    if (wholePlaylist(body, live)) {
      const hit = playlistEntry(body);
      // only what was read now is kept (a stand-in is not: its age stays bounded)
      d.cache?.set(key, hit, { ttl });
      if (live) lastGood.set(key, { hit, until: Date.now() + standInMs(body) });
      return hit;
    }
    const last = standIn();
    if (last) return last;
    if (attempt === 0) await new Promise((r) => setTimeout(r, 50));
  }
  res.setHeader('Retry-After', String(unavailableRetryAfterS));
  return void problem(res, 503, 'storage_unavailable', 'the playlist is being updated; try again');
}

async function sendObject(d: GatewayDeps, lastGood: LastGoodPlaylists, req: IncomingMessage, res: ServerResponse, key: string, profile: CacheProfile, rel: string): Promise<void> {
  const ext = rel.slice(rel.lastIndexOf('.') + 1);
  const type = contentTypeOf(rel);
  const bucket = d.storage.mediaBucket;
  const playlist = ext === 'm3u8' || ext === 'vtt';
  const head = req.method === 'HEAD';
  res.setHeader('Cache-Control', cacheControl(profile, playlist));
  const edge = edgeLifetimeS(profile, playlist);
  if (edge !== undefined) res.setHeader('X-Accel-Expires', edge);
  const ttl = profile === 'live' ? (playlist ? 500 : 60_000) : 60_000;
  if (playlist) {
    const hit = d.cache?.get(key) ?? await readPlaylist(d, lastGood, res, key, profile === 'live', ttl);
    if (!hit) return;
    if (profile === 'live') res.setHeader('X-Accel-Expires', edgeLifetimeS(profile, true, targetDurationS(hit.body))!);
    const gzip = hit.gz !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const etag = gzip ? hit.gzEtag! : hit.etag!;
    res.setHeader('Vary', res.hasHeader('Vary') ? `${String(res.getHeader('Vary'))}, Accept-Encoding` : 'Accept-Encoding');
    res.setHeader('ETag', etag);
    if (matchesIfNoneMatch(req.headers['if-none-match'], etag)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    const out = gzip ? hit.gz! : hit.body;
    res.setHeader('Content-Type', type);
    if (gzip) res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Content-Length', out.length);
    res.statusCode = 200;
    res.end(head ? undefined : out);
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
      return problem(res, 416, 'range_not_satisfiable', 'range not satisfiable');
    }
    if (range) {
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${st.size}`);
      res.setHeader('Content-Length', range.end - range.start + 1);
      if (head) return void res.end();
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
  res.statusCode = 200;
  if (head) {
    s.destroy();
    return void res.end();
  }
  await pipeline(s, res).catch(() => res.destroy());
}

function sendBuffer(req: IncomingMessage, res: ServerResponse, body: Buffer, honourRange: boolean): void {
  const head = req.method === 'HEAD';
  if (honourRange) {
    const range = byteRange(req, body.length);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${body.length}`);
      return problem(res, 416, 'range_not_satisfiable', 'range not satisfiable');
    }
    if (range) {
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${body.length}`);
      res.setHeader('Content-Length', range.end - range.start + 1);
      res.end(head ? undefined : body.subarray(range.start, range.end + 1));
      return;
    }
  }
  res.statusCode = 200;
  res.setHeader('Content-Length', body.length);
  res.end(head ? undefined : body);
}

function missing(d: GatewayDeps, res: ServerResponse, err: unknown): void {
  const code = (err as { code?: string }).code;
  if (code === 'NoSuchKey' || code === 'NotFound') return notFound(res);
  d.log.warn({ err }, 'gateway storage read failed');
  res.setHeader('Retry-After', String(unavailableRetryAfterS));
  problem(res, 503, 'storage_unavailable', 'media storage is not reachable; try again');
}

/**
 * The request's single `bytes=` range (range-parser, the parser Express's `req.range` uses; RFC 9110);
 * undefined for no header or one we ignore (multi-range, another unit, malformed), which is then answered whole.
 */
export function byteRange(req: { headers: IncomingHttpHeaders }, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const header = req.headers.range;
  if (!header) return undefined;
  const r = parseRange(size, header);
  if (r === -1) return 'unsatisfiable';
  if (r === -2 || r.type !== 'bytes' || r.length !== 1) return undefined;
  return { start: r[0].start, end: r[0].end };
}
