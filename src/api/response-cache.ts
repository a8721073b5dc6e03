import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Request, Response } from 'express';
import { LRUCache } from 'lru-cache';

/** One serialised public response: its bytes, a gzipped copy when worth it, and their strong ETags. */
export interface CachedBody {
  body: Buffer;
  etag: string;
  gz?: Buffer;
  gzEtag?: string;
}

/** A cached answer and when it was computed (the stale bound counts from there). */
interface Entry {
  value: CachedBody;
  at: number;
}

export interface ResponseCacheOptions {
  /** How long an entry answers without a refresh. */
  freshMs?: number;
  /** How long past that it may still answer while one request refreshes it (0: never stale). */
  staleMs?: number;
  /** Lifetime of entries made while the pub/sub subscriber is down (announcements may be missed). */
  unhealthyMs?: number;
}

/**
 * Serialised public catalog responses in memory (lru-cache, bounded in bytes), keyed by route and
 * normalised query. lru-cache's fetch() gives what a city's morning needs:
 * - single flight: concurrent misses of one key share one computation (one query, not fifty);
 * - stale while revalidate, within a bound: an entry past its fresh lifetime still answers while one
 *   request refreshes it, but never when older than fresh + stale (then everyone waits for the one
 *   refresh, which they share);
 * - invalidation drops: any announced change to what students see (publish, withdraw, edit, live)
 *   clears every entry, stale ones included, and aborts computations in flight so an answer computed
 *   before a change is never stored after it; requests that were waiting for such a computation
 *   compute again. A withdrawn lesson is therefore never served stale.
 * While the pub/sub subscriber is down, announcements may be missed: the cache is cleared when that
 * is noticed (and again when it is back), entries then live only `unhealthyMs` and are never stale.
 */
export class ResponseCache {
  private readonly lru: LRUCache<string, Entry, () => Promise<CachedBody>> | undefined;
  private readonly freshMs: number;
  private readonly staleMs: number;
  private readonly unhealthyMs: number;
  private wasHealthy = true;

  constructor(maxBytes: number, private readonly healthy: () => boolean = () => true, o: ResponseCacheOptions = {}) {
    this.freshMs = o.freshMs ?? 10_000;
    this.staleMs = o.staleMs ?? 20_000;
    this.unhealthyMs = o.unhealthyMs ?? 500;
    this.lru = maxBytes > 0
      ? new LRUCache<string, Entry, () => Promise<CachedBody>>({
        maxSize: maxBytes,
        sizeCalculation: (e, k) => e.value.body.length + (e.value.gz?.length ?? 0) + k.length + 64,
        ttl: this.freshMs,
        // a stale entry stays (for the bounded stale answer) until a refresh replaces it
        noDeleteOnStaleGet: true,
        fetchMethod: async (_key, _stale, { context }) => ({ value: await context(), at: Date.now() }),
      })
      : undefined;
  }

  /** Something students can see changed: forget everything, stale entries and computations in flight too. */
  invalidate(): void {
    this.lru?.clear();
  }

  /** A fresh entry, without waiting (the hot path); undefined when stale, missing or being computed. */
  fresh(key: string): CachedBody | undefined {
    if (!this.checkHealth()) return undefined;
    return this.lru?.get(key)?.value;
  }

  /**
   * The answer for `key`: fresh from memory, stale within the bound while one refresh runs, or the
   * result of one computation shared by every concurrent asker.
   */
  async get(key: string, compute: () => Promise<CachedBody>): Promise<CachedBody> {
    const healthy = this.checkHealth();
    if (!this.lru) return compute();
    for (let attempt = 0; attempt < 3; attempt++) {
      const old = this.lru.peek(key, { allowStale: true });
      const allowStale = healthy && old !== undefined && Date.now() - old.at <= this.freshMs + this.staleMs;
      try {
        const e = await this.lru.fetch(key, { context: compute, allowStale, ttl: healthy ? this.freshMs : this.unhealthyMs });
        if (e) return e.value;
      } catch (err) {
        // cleared by an invalidation while we waited: compute again, after the change
        if (!(err instanceof Error && err.message === 'deleted' && attempt < 2)) throw err;
      }
    }
    return compute();
  }

  /** Notices the subscriber going down or coming back: either way announcements may have been missed. */
  private checkHealth(): boolean {
    const h = this.healthy();
    if (h !== this.wasHealthy) {
      this.wasHealthy = h;
      this.invalidate();
    }
    return h;
  }
}

/** A strong validator from the bytes themselves: equal on every process serving the same bytes. */
export const strongEtag = (b: Buffer, suffix = ''): string => `"${createHash('sha1').update(b).digest('base64url')}${suffix}"`;

/** Serialises a JSON answer exactly once (escaped like Express's `json escape`), with ETags and gzip. */
export function cachedJson(value: unknown): CachedBody {
  const text = JSON.stringify(value).replace(/[<>&]/g, (c) => (c === '<' ? '\\u003c' : c === '>' ? '\\u003e' : '\\u0026'));
  const body = Buffer.from(text, 'utf8');
  if (body.length < 1024) return { body, etag: strongEtag(body) };
  // same bytes on every API process, so the ETag is too: an edge may revalidate against any of them
  const gz = gzipSync(body, { level: 6 });
  return { body, etag: strongEtag(body), gz, gzEtag: strongEtag(body, '.gz') };
}

/** A stable key for already-validated input: sorted object keys, arrays as given (schemas sort them). */
export function stableKey(value: unknown): string {
  if (value === undefined) return '';
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v);
}

/**
 * A request made as someone: a bearer token or any cookie (the staff session is a cookie; the public
 * site sets none). Such requests are never answered from, nor stored in, a shared cache.
 */
export function carriesCredentials(req: Request): boolean {
  return req.headers.authorization !== undefined || req.headers.cookie !== undefined;
}

/** Sends a cached body: 304 when the client's validator matches, the gzipped copy when accepted. */
export function sendCached(req: Request, res: Response, e: CachedBody, cacheControl: string): void {
  const gzip = e.gz !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const out = gzip ? e.gz! : e.body;
  res.setHeader('Cache-Control', cacheControl);
  res.setHeader('ETag', gzip ? e.gzEtag! : e.etag);
  if (matchesIfNoneMatch(req.headers['if-none-match'], res.getHeader('ETag') as string)) {
    res.status(304).end();
    return;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  if (gzip) res.setHeader('Content-Encoding', 'gzip');
  res.setHeader('Content-Length', String(out.length));
  res.status(200).end(req.method === 'HEAD' ? undefined : out);
}

/**
 * RFC 9110 13.1.2 If-None-Match with weak comparison. Not Express's req.fresh: that follows the
 * `fresh` package in treating a request's `Cache-Control: no-cache` (which fetch() adds to every
 * conditional request) as "never 304", a rule for caches, while this is the origin answering.
 */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}
