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

/**
 * Serialised public catalog responses in memory (lru-cache, bounded in bytes), keyed by route and
 * normalised query. Any announced change to what students see clears it through a generation
 * counter, so an answer computed before a change and finished after it is never stored. Entries also
 * expire on their own (30 s, or half a second while the pub/sub subscriber is down) in case an
 * announcement was missed during a reconnect.
 */
export class ResponseCache {
  private readonly lru: LRUCache<string, CachedBody> | undefined;
  private gen = 0;

  constructor(maxBytes: number, private readonly healthy: () => boolean = () => true, private readonly ttlMs = 30_000) {
    this.lru = maxBytes > 0
      ? new LRUCache<string, CachedBody>({ maxSize: maxBytes, sizeCalculation: (v, k) => v.body.length + (v.gz?.length ?? 0) + k.length + 64, ttl: ttlMs })
      : undefined;
  }

  /** Read before computing an answer; pass it to store() so a change in between discards the answer. */
  get generation(): number {
    return this.gen;
  }

  /** Something students can see changed: forget everything. */
  invalidate(): void {
    this.gen++;
    this.lru?.clear();
  }

  get(key: string): CachedBody | undefined {
    return this.lru?.get(key);
  }

  /** Remembers an entry computed under `generation` unless the catalog changed meanwhile. */
  store(key: string, generation: number, entry: CachedBody): void {
    if (!this.lru || generation !== this.gen) return;
    this.lru.set(key, entry, { ttl: this.healthy() ? this.ttlMs : 500 });
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
