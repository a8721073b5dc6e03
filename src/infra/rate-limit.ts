import { createHmac } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface RateWindow {
  /** Window length, seconds. */
  windowS: number;
  /** Attempts allowed within one such window. */
  max: number;
}

/** Allowed, or refused with the whole seconds until the window that refused ends (for Retry-After). */
export type Verdict = { allowed: true } | { allowed: false; retryAfterS: number };

const refusedFor = (ms: number): Verdict => ({ allowed: false, retryAfterS: Math.max(1, Math.ceil(ms / 1000)) });

/**
 * The part of a client address a limit applies to: an IPv4 address as is (IPv4-mapped IPv6 too), an
 * IPv6 address by its /64, since one subscriber gets a whole /64 and could otherwise rotate addresses
 * within it to escape any per-address limit.
 */
export function addressBucket(ip: string): string {
  let a = ip.trim().toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) a = mapped[1];
  if (isIPv4(a)) return a;
  if (isIPv6(a)) {
    const [head, tail = ''] = a.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = a.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
  }
  return 'unknown';
}

/**
 * Attempts per key over one or more fixed windows, counted in Redis (rate-limiter-flexible: one atomic
 * Lua call per window, time from the key's TTL) so the limit holds across API processes and concurrent
 * requests cannot slip past it together.
 */
export class AttemptLimiter {
  private readonly windows: RateLimiterRedis[];

  constructor(
    redis: Redis,
    private readonly o: {
      prefix: string;
      name: string;
      windows: RateWindow[];
      /** When set, keys are stored as an HMAC, so Redis never holds them (addresses, names) in clear. */
      secret?: string;
    },
  ) {
    if (!o.windows.length) throw new Error('a rate limit needs at least one window');
    // shortest first: a refusal there stops the attempt from counting against the longer windows
    this.windows = [...o.windows].sort((a, b) => a.windowS - b.windowS).map((w) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix: `${o.prefix}:rate:${o.name}:${w.windowS}`, points: w.max, duration: w.windowS }));
  }

  private key(key: string): string {
    if (!this.o.secret) return key;
    // one hash tag per key keeps a client's windows in one Redis Cluster slot
    return `{${createHmac('sha256', this.o.secret).update(`rate:${this.o.name}:${key}`).digest('base64url').slice(0, 22)}}`;
  }

  /** Counts an attempt; refused when a window is already full. */
  async attempt(key: string): Promise<Verdict> {
    const k = this.key(key);
    for (const w of this.windows) {
      try {
        await w.consume(k);
      } catch (err) {
        if (err instanceof RateLimiterRes) return refusedFor(err.msBeforeNext);
        throw err;
      }
    }
    return { allowed: true };
  }

  /** Whether an attempt would be refused, without counting it (a throttle that counts only failures). */
  async check(key: string): Promise<Verdict> {
    const k = this.key(key);
    for (const w of this.windows) {
      const r = await w.get(k);
      if (r && r.consumedPoints >= w.points) return refusedFor(r.msBeforeNext);
    }
    return { allowed: true };
  }

  /** Counts a failure against every window. */
  async fail(key: string): Promise<void> {
    const k = this.key(key);
    await Promise.all(this.windows.map((w) => w.penalty(k)));
  }

  /** Forgets the key's count (a successful login clears the user's failures). */
  async reset(key: string): Promise<void> {
    const k = this.key(key);
    await Promise.all(this.windows.map((w) => w.delete(k)));
  }
}

/**
 * Failed authentications per address bucket inside one process (the RTMP ingest child: it has no Redis,
 * and node-media-server's handlers cannot wait for an answer). rate-limiter-flexible counts; its answer
 * arrives a microtask later, before the next socket event, and a full bucket is remembered in a bounded
 * LRU so `blocked` answers synchronously.
 */
export class LocalFailureLimiter {
  private readonly counts: RateLimiterMemory;
  private readonly blockedUntil: LRUCache<string, number>;

  constructor(private readonly max: number, windowMs: number, maxBlocked = 10_000) {
    this.counts = new RateLimiterMemory({ points: max, duration: windowMs / 1000 });
    this.blockedUntil = new LRUCache({ max: maxBlocked });
  }

  blocked(address: string, now = Date.now()): boolean {
    const until = this.blockedUntil.get(addressBucket(address));
    return until !== undefined && now < until;
  }

  fail(address: string, now = Date.now()): void {
    const bucket = addressBucket(address);
    const note = (r: unknown): void => {
      if (r instanceof RateLimiterRes && r.consumedPoints >= this.max) this.blockedUntil.set(bucket, now + r.msBeforeNext);
    };
    this.counts.consume(bucket).then(note, note);
  }
}
