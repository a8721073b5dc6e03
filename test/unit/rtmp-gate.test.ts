import { describe, expect, it } from 'vitest';
import { PublishGate, hashStreamKey, isLoopback, normalizeAddress, secretMatchesHash } from '../../src/domain/publish-gate.ts';
import { rtmpPullUrl } from '../../src/infra/rtmp.ts';
import { LocalFailureLimiter } from '../../src/infra/rate-limit.ts';

const now = 1_800_000_000_000;
/** The limiter's count settles a microtask after a failure, before the next socket event in the ingest. */
const counted = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const token = 'worker-token-0123456789abcdefghijklmnop';

function gate(opts: { max?: number; loopback?: boolean } = {}): PublishGate {
  const g = new PublishGate({ workerTokenHash: hashStreamKey(token), allowLoopbackPlay: opts.loopback ?? false, limiter: new LocalFailureLimiter(opts.max ?? 3, 60_000) });
  g.setKeys([{ lessonId: 'lesson-1', keyHash: hashStreamKey('s3cret'), allowedFrom: now - 1000, allowedUntil: now + 1000, stopped: false }]);
  return g;
}

const pub = (over: Partial<Parameters<PublishGate['decidePublish']>[0]> = {}) => ({
  lessonId: 'lesson-1', key: 's3cret', address: '10.0.0.1', now, pathBusy: false, ...over,
});

describe('publish gate', () => {
  it('when the key, window and path are right, then the publish is allowed', () => {
    expect(gate().decidePublish(pub())).toEqual({ ok: true });
  });

  it.each([
    ['no valid path', 'invalid_path', { lessonId: undefined }],
    ['an unknown lesson', 'unknown_lesson', { lessonId: 'lesson-2' }],
    ['a wrong key', 'bad_key', { key: 's3cret ' }],
    ['no key', 'bad_key', { key: undefined }],
    ['a time before the window', 'outside_window', { now: now - 1001 }],
    ['a time after the window', 'outside_window', { now: now + 1001 }],
    ['a path already publishing', 'already_publishing', { pathBusy: true }],
  ] as const)('when the request has %s, then it is refused as %s', (_name, reason, over) => {
    expect(gate().decidePublish(pub(over))).toEqual({ ok: false, reason });
  });

  it('when the lesson is stopped, then its valid key is refused', () => {
    const g = gate();
    g.upsertKey({ lessonId: 'lesson-1', keyHash: hashStreamKey('s3cret'), allowedFrom: now - 1000, allowedUntil: now + 1000, stopped: true });
    expect(g.decidePublish(pub())).toEqual({ ok: false, reason: 'stopped' });
  });

  it('when a lesson is revoked, then its current key is refused until the catalog sets another one', () => {
    const g = gate();
    expect(g.revoke('lesson-1')).toBe(hashStreamKey('s3cret'));
    expect(g.decidePublish(pub())).toEqual({ ok: false, reason: 'revoked' });
    g.setKeys([{ lessonId: 'lesson-1', keyHash: hashStreamKey('s3cret'), allowedFrom: now - 1000, allowedUntil: now + 1000, stopped: false }]);
    expect(g.decidePublish(pub())).toEqual({ ok: false, reason: 'revoked' });
    g.upsertKey({ lessonId: 'lesson-1', keyHash: hashStreamKey('n3w'), allowedFrom: now - 1000, allowedUntil: now + 1000, stopped: false });
    expect(g.decidePublish(pub({ key: 'n3w' }))).toEqual({ ok: true });
    expect(g.revoked()).toEqual([{ lessonId: 'lesson-1', keyHash: hashStreamKey('s3cret') }]);
  });

  it('when an address fails too often, then all its attempts are refused until the window passes, other addresses not', async () => {
    const g = gate({ max: 3 });
    for (let i = 0; i < 3; i++) expect(g.decidePublish(pub({ key: `x${i}` }))).toEqual({ ok: false, reason: 'bad_key' });
    await counted();
    expect(g.decidePublish(pub())).toEqual({ ok: false, reason: 'rate_limited' });
    expect(g.decidePlay({ lessonId: 'lesson-1', token, address: '10.0.0.1', now })).toEqual({ ok: false, reason: 'rate_limited' });
    expect(g.decidePublish(pub({ address: '10.0.0.2' }))).toEqual({ ok: true });
    // once the window has passed the address is judged on its merits again
    expect(g.decidePublish(pub({ now: now + 60_000 }))).toEqual({ ok: false, reason: 'outside_window' });
  });

  it('when refusals are about scheduling, not guessing, then they do not count against the address', () => {
    const g = gate({ max: 1 });
    expect(g.decidePublish(pub({ pathBusy: true }))).toEqual({ ok: false, reason: 'already_publishing' });
    expect(g.decidePublish(pub({ now: now + 5000 }))).toEqual({ ok: false, reason: 'outside_window' });
    expect(g.decidePublish(pub())).toEqual({ ok: true });
  });

  it('when a player brings the worker token, then it may play; without it only loopback may, and only when enabled', () => {
    expect(gate().decidePlay({ lessonId: 'any-lesson', token, address: '10.0.0.9', now })).toEqual({ ok: true });
    expect(gate().decidePlay({ lessonId: 'any-lesson', token: 'nope', address: '10.0.0.9', now })).toEqual({ ok: false, reason: 'bad_token' });
    expect(gate().decidePlay({ lessonId: 'any-lesson', token: undefined, address: '127.0.0.1', now })).toEqual({ ok: false, reason: 'bad_token' });
    expect(gate({ loopback: true }).decidePlay({ lessonId: 'any-lesson', token: undefined, address: '::ffff:127.0.0.1', now })).toEqual({ ok: true });
    expect(gate({ loopback: true }).decidePlay({ lessonId: 'any-lesson', token: undefined, address: '10.0.0.9', now })).toEqual({ ok: false, reason: 'bad_token' });
  });
});

describe('failure limiter', () => {
  it('when more addresses fail than it keeps, then the oldest is forgotten', async () => {
    const l = new LocalFailureLimiter(1, 60_000, 2);
    l.fail('10.0.0.1', now);
    l.fail('10.0.0.2', now);
    l.fail('10.0.0.3', now);
    await counted();
    expect([l.blocked('10.0.0.1', now), l.blocked('10.0.0.2', now), l.blocked('10.0.0.3', now)]).toEqual([false, true, true]);
    expect(l.blocked('10.0.0.3', now + 60_000)).toBe(false);
  });

  it('when IPv6 addresses of one /64 fail, then they count as one address', async () => {
    const l = new LocalFailureLimiter(2, 60_000);
    l.fail('2001:db8:1:2::1', now);
    l.fail('2001:db8:1:2::2', now);
    await counted();
    expect(l.blocked('2001:db8:1:2::ff', now)).toBe(true);
    expect(l.blocked('2001:db8:1:3::1', now)).toBe(false);
  });
});

describe('rtmp helpers', () => {
  it('when a worker pull URL is built, then it names the lesson under /live with the token as query', () => {
    expect(rtmpPullUrl({ host: '127.0.0.1', port: 1935, lessonId: 'abc-1', token: 'T0k_en' })).toBe('rtmp://127.0.0.1:1935/live/abc-1?token=T0k_en');
    expect(rtmpPullUrl({ host: '::1', port: 19350, lessonId: 'abc', token: 'a/b' })).toBe('rtmp://[::1]:19350/live/abc?token=a%2Fb');
    expect(() => rtmpPullUrl({ host: 'h', port: 1, lessonId: '../x', token: 't' })).toThrow();
  });

  it('when a secret is hashed, then only that secret matches', () => {
    const h = hashStreamKey('k');
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(secretMatchesHash('k', h)).toBe(true);
    expect(secretMatchesHash('K', h)).toBe(false);
    expect(secretMatchesHash('k', 'zz')).toBe(false);
  });

  it('when addresses are normalized, then IPv4-mapped and loopback forms are recognised', () => {
    expect(normalizeAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(isLoopback('::ffff:127.0.0.2')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
  });
});
