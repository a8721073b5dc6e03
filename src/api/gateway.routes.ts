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
import type { Metrics, RequestRecorder } from './metrics.ts';
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
  /**
   * /play/{lessonId}/...: the published asset's target, or undefined (404). An answer the gate already
   * holds in memory may come back as a value rather than a promise: the request is then answered
   * without waiting on anything (objects in the cache too), which is most of a player's requests.
   */
  play(lessonId: string): Gated;
  /** /preview/{token}/...: the token's asset target, or undefined (404). */
  preview(token: string): Gated;
  /** /live/{lessonId}/...: the on-air session's target, or undefined (404). */
  live?(lessonId: string): Gated;
}

/** The gate's answer: at once when it is known in memory, else when the catalog has answered. */
export type Gated = GatewayTarget | undefined | Promise<GatewayTarget | undefined>;

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
 * matching) cost players three quarters of the throughput (issue 12). When both the gate's answer and
 * the object are in memory, the request is answered synchronously with its headers written out once
 * per object version (`prepared`): no promise and no header-by-header building, which were most of
 * what was left (a CPU profile of the gateway under bench:gateway). The gate itself is unchanged:
 * every request asks `play`/`live`/`preview` first, whose answers are kept only until a change is
 * announced over Redis. Returns false for requests it does not take (preflights, other methods, other paths).
 */
export function gatewayHandler(d: GatewayDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const gateway = new Gateway(d);
  return (req, res) => gateway.handle(req, res);
}

/** gatewayHandler's state; its methods are what a request runs (no closures made per request). */
class Gateway {
  private readonly resolvers: Record<Kind, ((id: string) => Gated) | undefined>;
  private readonly recorder: (method: string, kind: Kind) => RequestRecorder;
  private readonly cors: GatewayCors;
  private readonly lastGood: LastGoodPlaylists = new LRUCache({ max: 10_000 });
  /**
   * Reads from storage under way, by key: a request for an object being read waits for that read
   * instead of starting its own (a new live segment or playlist is asked for by every viewer at once).
   */
  private readonly reading = new Map<string, Promise<Loaded>>();
  private readonly debug: boolean;

  constructor(private readonly d: GatewayDeps) {
    const uuid = (fn: (id: string) => Gated) => (id: string): Gated => (isUuid(id) ? fn(id.toLowerCase()) : undefined);
    this.resolvers = { play: uuid(d.play.bind(d)), live: d.live ? uuid(d.live.bind(d)) : undefined, preview: d.preview.bind(d) };
    this.recorder = gatewayMetrics(d.metrics);
    this.cors = gatewayCors(d.corsOrigins);
    this.debug = d.log.isLevelEnabled('debug');
  }

  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const url = req.url ?? '';
    let kind: Kind | undefined;
    let prefixLength = 0;
    for (const [prefix, k] of kinds) {
      if (url.startsWith(prefix)) {
        kind = k;
        prefixLength = prefix.length;
        break;
      }
    }
    const resolve = kind && this.resolvers[kind];
    if (!kind || !resolve) return false;
    const started = performance.now();
    const record = this.recorder(method, kind);
    let out: Promise<void> | undefined;
    try {
      const p = gatewayPath(url.slice(prefixLength));
      const gated = p && resolve(p.id);
      out = !p ? this.answer(req, res, undefined, '') : gated instanceof Promise ? gated.then((t) => this.answer(req, res, t, p.rel)) : this.answer(req, res, gated, p.rel);
    } catch (err) {
      this.failed(req, res, err);
    }
    if (out) out.catch((err: unknown) => this.failed(req, res, err)).finally(() => this.done(req, res, record, started));
    else this.done(req, res, record, started);
    return true;
  }

  private answer(req: IncomingMessage, res: ServerResponse, target: GatewayTarget | undefined, rel: string): Promise<void> | undefined {
    const key = target?.keyFor(rel);
    if (!target || !key) {
      commonHeaders(res, this.cors, req);
      return void notFound(res);
    }
    const kept = this.d.cache?.get(key);
    if (kept && answerObject(kept, this.cors, req, res, target.profile, rel)) return undefined;
    return this.sendObject(req, res, key, target.profile, rel);
  }

  /** One read of `key` at a time: a read under way is shared. */
  private once(key: string, read: () => Promise<Loaded>): Promise<Loaded> {
    let p = this.reading.get(key);
    if (!p) {
      p = read().finally(() => this.reading.delete(key));
      this.reading.set(key, p);
    }
    return p;
  }

  /** An object not in memory (or a Range of one): read from storage, kept when it may be. */
  private async sendObject(req: IncomingMessage, res: ServerResponse, key: string, profile: CacheProfile, rel: string): Promise<void> {
    const { d, cors } = this;
    const playlist = isPlaylist(rel);
    const ttl = cacheTtlMs(profile, playlist);
    if (playlist || (d.cache && !req.headers.range)) {
      const cache = d.cache;
      const loaded = await this.once(key, () => (playlist ? readPlaylist(d, this.lastGood, key, profile === 'live', ttl) : readWhole(d, cache!, key, ttl)));
      if ('object' in loaded) return void answerObject(loaded.object, cors, req, res, profile, rel);
      commonHeaders(res, cors, req);
      if ('error' in loaded) return missing(d, res, loaded.error);
      if ('cut' in loaded) {
        res.setHeader('Retry-After', String(unavailableRetryAfterS));
        return problem(res, 503, 'storage_unavailable', 'the playlist is being updated; try again');
      }
      // too big to keep: streamed to this player below
    } else {
      commonHeaders(res, cors, req);
    }
    const bucket = d.storage.mediaBucket;
    const head = req.method === 'HEAD';
    res.setHeader('Cache-Control', cacheControl(profile, false));
    const edge = edgeLifetimeS(profile, false);
    if (edge !== undefined) res.setHeader('X-Accel-Expires', edge);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Type', contentTypeOf(rel));
    const cached = d.cache?.get(key);
    if (cached) return sendRange(req, res, cached.body);
    if (req.headers.range) {
      const st = await d.storage.stat(bucket, key).catch(() => null);
      if (!st) return notFound(res);
      const range = rangeAnswer(req, res, st.size);
      if (range === 'refused') return;
      if (range) {
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
    if (len) res.setHeader('Content-Length', len);
    res.statusCode = 200;
    if (head) {
      s.destroy();
      return void res.end();
    }
    await pipeline(s, res).catch(() => res.destroy());
  }

  private failed(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    if (res.headersSent) return void res.destroy();
    commonHeaders(res, this.cors, req);
    const url = scrubUrl(req.url ?? '').slice(0, 300);
    if (isUnavailableError(err)) {
      // the catalog's database (access check) or storage is restarting: players retry
      this.d.log.warn({ err, url }, 'gateway: a part underneath is unreachable');
      res.setHeader('Retry-After', String(unavailableRetryAfterS));
      return problem(res, 503, 'service_unavailable', 'the service is briefly unavailable; try again shortly');
    }
    this.d.log.error({ err, url }, 'gateway request failed');
    problem(res, 500, 'internal_error', 'internal error');
  }

  /** Metrics for every request; a log line only for a server error (or every request at debug level). */
  private done(req: IncomingMessage, res: ServerResponse, record: RequestRecorder, started: number): void {
    const status = res.statusCode;
    record(status, started);
    if (status < 500 && !this.debug) return;
    const line = { method: req.method, url: scrubUrl(req.url ?? '').slice(0, 300), status, ms: Math.round((performance.now() - started) * 10) / 10 };
    if (status >= 500) this.d.log.error(line, 'request');
    else this.d.log.debug(line, 'request');
  }
}

/** The lesson id (or preview token) and the path under it from what follows /play/ etc.; undefined when malformed or empty. */
function gatewayPath(rest: string): { id: string; rel: string } | undefined {
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  let id: string;
  let rel: string;
  if (!path.includes('%')) {
    // nothing encoded (every player's request): the same split as below, without decoding
    const slash = path.indexOf('/');
    if (slash < 0) return undefined;
    id = path.slice(0, slash);
    rel = path.slice(slash + 1);
  } else {
    try {
      const parts = path.split('/');
      id = decodeURIComponent(parts[0]);
      rel = parts.slice(1).map(decodeURIComponent).join('/');
    } catch {
      return undefined;
    }
  }
  return id && rel ? { id, rel } : undefined;
}

/** What every gateway answer carries, set header by header (answers not made from `prepared`). */
function commonHeaders(res: ServerResponse, cors: GatewayCors, req: IncomingMessage): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  setAll(res, cors.fixed);
  if (cors.vary) res.setHeader('Vary', cors.vary);
  setAll(res, cors.forRequest(req));
}

function setAll(res: ServerResponse, flat: readonly string[] | undefined): void {
  if (flat) for (let i = 0; i < flat.length; i += 2) res.setHeader(flat[i], flat[i + 1]);
}

/**
 * CORS on what the gateway serves. Unlike the API's (the `cors` package, which answers only requests
 * carrying an Origin), the answer must not depend on whether this request had an Origin: the edge
 * keeps one copy per URL for every player. With "*" every answer allows any origin; with a list,
 * allowed origins are echoed and the answer varies by Origin. `fixed`: headers the same on every
 * answer (name, value, name, value...); `vary`: what Vary names for CORS; `forRequest`: the headers
 * that depend on the request's Origin.
 */
interface GatewayCors {
  fixed: readonly string[];
  /** Vary's members beside Accept-Encoding ("Origin" with a list of origins). */
  vary: string | undefined;
  forRequest(req: IncomingMessage): readonly string[] | undefined;
  /** Objects' answers prepared with these headers, per cache profile (made on first use, gone with the object). */
  prepared: WeakMap<CachedObject, Partial<Record<CacheProfile, PreparedObject>>>;
}

function gatewayCors(origins: string[]): GatewayCors {
  const expose = 'Content-Length, Content-Range, Accept-Ranges, Retry-After';
  const prepared = new WeakMap<CachedObject, Partial<Record<CacheProfile, PreparedObject>>>();
  if (origins.includes('*')) return { fixed: ['Access-Control-Allow-Origin', '*', 'Access-Control-Expose-Headers', expose], vary: undefined, forRequest: () => undefined, prepared };
  return {
    prepared,
    fixed: [],
    vary: 'Origin',
    forRequest: (req) => {
      const origin = req.headers.origin;
      return origin && origins.includes(origin) ? ['Access-Control-Allow-Origin', origin, 'Access-Control-Expose-Headers', expose] : undefined;
    },
  };
}

/** Request counts and latencies under the same metric names and labels as the app's (/play/* etc.). */
function gatewayMetrics(m: Metrics | undefined): (method: string, kind: Kind) => RequestRecorder {
  if (!m) return () => () => undefined;
  const recorders = new Map<string, RequestRecorder>();
  return (method, kind) => {
    const k = `${method} ${kind}`;
    let r = recorders.get(k);
    if (!r) recorders.set(k, (r = m.requestRecorder(method, `/${kind}/*`)));
    return r;
  };
}

/**
 * An object's answer with every header written out, made once per cached object version and cache
 * profile: what the gateway would set header by header (nosniff, CORS, Cache-Control, X-Accel-Expires,
 * Vary, ETag, Content-Type, Content-Encoding, Content-Length, Accept-Ranges), as flat name/value lists
 * for `writeHead`. Playlists have an identity and (when worth it) a gzip variant, each with its 304.
 */
export interface PreparedObject {
  playlist: boolean;
  identity: PreparedVariant;
  gzip?: PreparedVariant;
}

interface PreparedVariant {
  body: Buffer;
  etag?: string;
  ok: string[];
  notModified?: string[];
}

function prepared(o: CachedObject, profile: CacheProfile, rel: string, cors: GatewayCors): PreparedObject {
  let answers = cors.prepared.get(o);
  if (!answers) cors.prepared.set(o, (answers = {}));
  const had = answers[profile];
  if (had) return had;
  const playlist = isPlaylist(rel);
  const edge = edgeLifetimeS(profile, playlist, profile === 'live' && playlist ? targetDurationS(o.body) : undefined);
  const base = ['X-Content-Type-Options', 'nosniff', ...cors.fixed, 'Cache-Control', cacheControl(profile, playlist)];
  if (edge !== undefined) base.push('X-Accel-Expires', String(edge));
  const type = contentTypeOf(rel);
  let out: PreparedObject;
  if (playlist) {
    base.push('Vary', cors.vary ? `${cors.vary}, Accept-Encoding` : 'Accept-Encoding');
    const variant = (body: Buffer, etag: string, gzip: boolean): PreparedVariant => {
      const notModified = [...base, 'ETag', etag];
      return { body, etag, notModified, ok: [...notModified, 'Content-Type', type, ...(gzip ? ['Content-Encoding', 'gzip'] : []), 'Content-Length', String(body.length)] };
    };
    out = { playlist, identity: variant(o.body, o.etag!, false), gzip: o.gz && variant(o.gz, o.gzEtag!, true) };
  } else {
    if (cors.vary) base.push('Vary', cors.vary);
    out = { playlist, identity: { body: o.body, ok: [...base, 'Accept-Ranges', 'bytes', 'Content-Type', type, 'Content-Length', String(o.body.length)] } };
  }
  answers[profile] = out;
  return out;
}

/**
 * Answers with an object's prepared answer: playlists (200 or 304) and whole objects. False for a
 * Range request on a whole object (answered the long way); nothing was written then.
 */
function answerObject(o: CachedObject, cors: GatewayCors, req: IncomingMessage, res: ServerResponse, profile: CacheProfile, rel: string): boolean {
  const p = prepared(o, profile, rel, cors);
  if (!p.playlist && req.headers.range) return false;
  const ae = req.headers['accept-encoding'];
  const v = p.gzip && ae !== undefined && /\bgzip\b/.test(ae) ? p.gzip : p.identity;
  const own = cors.forRequest(req);
  if (v.notModified && matchesIfNoneMatch(req.headers['if-none-match'], v.etag!)) {
    res.writeHead(304, own ? [...v.notModified, ...own] : v.notModified);
    res.end();
    return true;
  }
  res.writeHead(200, own ? [...v.ok, ...own] : v.ok);
  res.end(req.method === 'HEAD' ? undefined : v.body);
  return true;
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

/** What a read from storage gave: the object, an error, a playlist still cut after a retry, or an object too big to keep. */
type Loaded = { object: CachedObject } | { error: unknown } | { cut: true } | { tooBig: true };

/** Objects up to this size are read whole and kept; larger ones are streamed to each player. */
const keepableBytes = 4 * 1024 * 1024;

/**
 * A playlist from storage, checked whole: when a read lands while storage rewrites it, a live
 * playlist's last whole copy (if young enough) answers, otherwise the read is tried once more after a
 * moment; still nothing whole is `cut` (a 503 that players retry). What is read whole goes into the
 * object cache for `ttl`.
 */
async function readPlaylist(d: GatewayDeps, lastGood: LastGoodPlaylists, key: string, live: boolean, ttl: number): Promise<Loaded> {
  const standIn = () => {
    const last = live ? lastGood.get(key) : undefined;
    return last && last.until > Date.now() ? last.hit : undefined;
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    let body: Buffer;
    try {
      body = await d.storage.getBuffer(d.storage.mediaBucket, key);
    } catch (error) {
      const last = standIn();
      return last ? { object: last } : { error };
    }
    if (wholePlaylist(body, live)) {
      const hit = playlistEntry(body);
      // only what was read now is kept (a stand-in is not: its age stays bounded)
      d.cache?.set(key, hit, { ttl });
      if (live) lastGood.set(key, { hit, until: Date.now() + standInMs(body) });
      return { object: hit };
    }
    const last = standIn();
    if (last) return { object: last };
    if (attempt === 0) await new Promise((r) => setTimeout(r, 50));
  }
  return { cut: true };
}

/** A whole object from storage into the object cache when it is small enough to keep (`cache` is set). */
async function readWhole(d: GatewayDeps, cache: ObjectCache, key: string, ttl: number): Promise<Loaded> {
  try {
    const s = (await d.storage.get(d.storage.mediaBucket, key)) as IncomingMessage;
    const len = Number(s.headers?.['content-length'] ?? NaN);
    if (!(len <= keepableBytes)) {
      s.destroy();
      return { tooBig: true };
    }
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    const object: CachedObject = { body: Buffer.concat(chunks) };
    cache.set(key, object, { ttl });
    return { object };
  } catch (error) {
    return { error };
  }
}

/** How long the object cache keeps an object: live playlists change every segment, the rest never. */
const cacheTtlMs = (profile: CacheProfile, playlist: boolean): number => (profile === 'live' && playlist ? 500 : 60_000);

const isPlaylist = (rel: string): boolean => rel.endsWith('.m3u8') || rel.endsWith('.vtt');

/** A Range request on an object in memory: its range, or the whole object when the range is one we ignore. */
function sendRange(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const head = req.method === 'HEAD';
  const range = rangeAnswer(req, res, body.length);
  if (range === 'refused') return;
  if (range) return void res.end(head ? undefined : body.subarray(range.start, range.end + 1));
  res.statusCode = 200;
  res.setHeader('Content-Length', body.length);
  res.end(head ? undefined : body);
}

/**
 * The request's range over an object of `size` bytes, with the 206's headers set; 'refused' when a
 * 416 was sent; undefined when the object is answered whole.
 */
function rangeAnswer(req: IncomingMessage, res: ServerResponse, size: number): { start: number; end: number } | 'refused' | undefined {
  const range = byteRange(req, size);
  if (range === 'unsatisfiable') {
    res.setHeader('Content-Range', `bytes */${size}`);
    problem(res, 416, 'range_not_satisfiable', 'range not satisfiable');
    return 'refused';
  }
  if (range) {
    res.statusCode = 206;
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    res.setHeader('Content-Length', range.end - range.start + 1);
  }
  return range;
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
