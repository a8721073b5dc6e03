import { createHmac, randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { Redis } from 'ioredis';

export interface RateWindow {
  /** Window length, seconds. */
  windowS: number;
  /** Attempts allowed within any such window. */
  max: number;
}

/**
 * Sliding-window log per window, all checked and recorded in one Lua call so concurrent requests on
 * any number of API processes cannot slip past the limit together. Time comes from the Redis server
 * (TIME), not from the callers' clocks. Returns 0 when allowed (and records it), else milliseconds
 * until the oldest attempt that blocks leaves its window.
 */
const script = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i = 1, #KEYS do
  local win = tonumber(ARGV[2 * i])
  local max = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - win)
  local n = redis.call('ZCARD', KEYS[i])
  if n >= max then
    local blocking = redis.call('ZRANGE', KEYS[i], n - max, n - max, 'WITHSCORES')
    local w = tonumber(blocking[2]) + win - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 * i]))
end
return 0
`;

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

/** Attempt limits per client address, kept in Redis so they hold across API processes. */
export class RedisRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly name: string,
    private readonly windows: RateWindow[],
    /** Addresses are keyed by an HMAC, so Redis never holds them in clear. */
    private readonly secret: string,
  ) {
    if (!windows.length) throw new Error('a rate limit needs at least one window');
  }

  /** Records an attempt from `ip` when every window allows it; otherwise the seconds to wait. */
  async attempt(ip: string): Promise<{ allowed: true } | { allowed: false; retryAfterS: number }> {
    const bucket = createHmac('sha256', this.secret).update(`rate:${this.name}:${addressBucket(ip)}`).digest('base64url').slice(0, 22);
    // one hash tag per address keeps a client's keys in one Redis Cluster slot
    const keys = this.windows.map((w) => `${this.prefix}:rate:${this.name}:{${bucket}}:${w.windowS}`);
    const args: (string | number)[] = [randomBytes(9).toString('base64url')];
    for (const w of this.windows) args.push(w.windowS * 1000, w.max);
    const wait = Number(await this.redis.eval(script, keys.length, ...keys, ...args));
    return wait > 0 ? { allowed: false, retryAfterS: Math.max(1, Math.ceil(wait / 1000)) } : { allowed: true };
  }
}
