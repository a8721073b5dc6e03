import { describe, expect, it } from 'vitest';
import { cachedJson, ResponseCache, type CachedBody } from '../../src/api/response-cache.ts';

/**
 * The catalog's response cache on its own: one computation for concurrent misses, stale answers
 * only within the bound and only while one refresh runs, and invalidation that drops everything
 * (stale entries and computations in flight) so nothing computed before a change answers after it.
 * Waits below only make entries old enough; no assertion depends on how fast anything ran.
 */

const body = (s: string): CachedBody => cachedJson({ s });
const text = (b: CachedBody): string => (JSON.parse(b.body.toString()) as { s: string }).s;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A computation the test finishes by hand, counting how often it was started. */
function gate() {
  const pending: ((v: CachedBody) => void)[] = [];
  const g = {
    calls: 0,
    compute: () => {
      g.calls++;
      return new Promise<CachedBody>((r) => pending.push(r));
    },
    /** Finishes the computation started `i`-th (0-based) with `value`. */
    finish: async (i: number, value: string) => {
      while (pending.length <= i) await sleep(1);
      pending[i](body(value));
    },
  };
  return g;
}

describe('ResponseCache', () => {
  it('when 50 requests miss one key at once, then one computation answers them all', async () => {
    const c = new ResponseCache(1 << 20);
    const g = gate();
    const all = Promise.all(Array.from({ length: 50 }, () => c.get('k', g.compute)));
    await g.finish(0, 'one');
    expect((await all).map(text)).toEqual(Array(50).fill('one'));
    expect(g.calls).toBe(1);
    expect(text(c.fresh('k')!)).toBe('one');
  });

  it('when an entry is past its fresh lifetime but within the stale bound, then it answers at once while one request refreshes it', async () => {
    const c = new ResponseCache(1 << 20, () => true, { freshMs: 20, staleMs: 600_000 });
    await c.get('k', async () => body('old'));
    await sleep(60);
    expect(c.fresh('k')).toBeUndefined();
    const g = gate();
    // neither waits for the refresh (which has not finished) and only one refresh starts
    expect(text(await c.get('k', g.compute))).toBe('old');
    expect(text(await c.get('k', g.compute))).toBe('old');
    expect(g.calls).toBe(1);
    await g.finish(0, 'new');
    await sleep(1);
    // the refreshed answer replaced the stale one (it may itself be stale again on a slow machine)
    expect(text(await c.get('k', g.compute))).toBe('new');
  });

  it('when a stale entry is older than the bound, then askers wait for the one refresh instead', async () => {
    const c = new ResponseCache(1 << 20, () => true, { freshMs: 10, staleMs: 10 });
    await c.get('k', async () => body('old'));
    await sleep(60);
    const g = gate();
    const a = c.get('k', g.compute);
    const b = c.get('k', g.compute);
    await g.finish(0, 'new');
    expect([text(await a), text(await b)]).toEqual(['new', 'new']);
    expect(g.calls).toBe(1);
  });

  it('when the catalog changes, then stale entries are dropped, not served', async () => {
    const c = new ResponseCache(1 << 20, () => true, { freshMs: 20, staleMs: 600_000 });
    await c.get('k', async () => body('withdrawn lesson'));
    await sleep(60);
    c.invalidate();
    const g = gate();
    const a = c.get('k', g.compute);
    await g.finish(0, 'after withdrawal');
    expect(text(await a)).toBe('after withdrawal');
  });

  it('when the catalog changes while a computation runs, then its waiters compute again and the earlier answer is never stored', async () => {
    const c = new ResponseCache(1 << 20);
    const g = gate();
    const waiting = c.get('k', g.compute);
    await sleep(1);
    expect(g.calls).toBe(1);
    c.invalidate();
    // the waiter starts again after the change; the first computation finishing late changes nothing
    await g.finish(1, 'after');
    await g.finish(0, 'before');
    expect(text(await waiting)).toBe('after');
    expect(text(c.fresh('k')!)).toBe('after');
    expect(g.calls).toBe(2);
  });

  it('when the pub/sub subscriber goes down, then entries are dropped and none is served stale until it is back', async () => {
    let healthy = true;
    const c = new ResponseCache(1 << 20, () => healthy, { freshMs: 20, staleMs: 600_000, unhealthyMs: 20 });
    await c.get('k', async () => body('before'));
    healthy = false;
    expect(c.fresh('k')).toBeUndefined();
    expect(text(await c.get('k', async () => body('down')))).toBe('down');
    await sleep(60);
    const g = gate();
    const a = c.get('k', g.compute);
    await g.finish(0, 'still down');
    expect(text(await a)).toBe('still down');
    healthy = true;
    expect(c.fresh('k')).toBeUndefined();
  });

  it('when a computation fails, then every waiter gets the error and the next asker computes again', async () => {
    const c = new ResponseCache(1 << 20);
    let calls = 0;
    const failing = async () => {
      calls++;
      await sleep(5);
      throw new Error('database unreachable');
    };
    const results = await Promise.allSettled([c.get('k', failing), c.get('k', failing)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    expect(text(await c.get('k', async () => body('back')))).toBe('back');
  });

  it('when the cache is disabled (0 bytes), then every ask computes', async () => {
    const c = new ResponseCache(0);
    let calls = 0;
    await c.get('k', async () => { calls++; return body('x'); });
    await c.get('k', async () => { calls++; return body('x'); });
    expect(calls).toBe(2);
    expect(c.fresh('k')).toBeUndefined();
  });
});
