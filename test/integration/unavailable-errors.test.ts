import pg from 'pg';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/infra/embedded.ts';
import { ObjectStorage } from '../../src/infra/storage.ts';
import { isUnavailableError } from '../../src/infra/unavailable.ts';

/** The errors the real clients give when their server is not there: the API answers them with 503, not 500. */
describe('isUnavailableError on the real clients', () => {
  it('when PostgreSQL does not answer, then the pg error counts as unavailable', async () => {
    const port = await freePort();
    const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/x` });
    const err = await c.connect().then(() => undefined, (e: unknown) => e);
    expect(err).toBeDefined();
    expect(isUnavailableError(err)).toBe(true);
  });

  it('when Redis does not answer, then the ioredis error counts as unavailable', async () => {
    const port = await freePort();
    const r = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1, retryStrategy: () => 50, lazyConnect: false });
    r.on('error', () => undefined);
    const err = await r.get('k').then(() => undefined, (e: unknown) => e);
    r.disconnect();
    expect(err).toBeDefined();
    expect(isUnavailableError(err)).toBe(true);
  });

  it('when the S3 server does not answer, then the storage error counts as unavailable', async () => {
    const port = await freePort();
    const st = new ObjectStorage({ endpoint: `http://127.0.0.1:${port}`, accessKey: 'S3RVER', secretKey: 'S3RVER', region: 'us-east-1', mediaBucket: 'media', cableBucket: 'cable', partSize: 16 << 20 });
    const err = await st.stat('media', 'x').then(() => undefined, (e: unknown) => e);
    expect(isUnavailableError(err)).toBe(true);
  });

  it('when an error is a bug or bad input (a SQL syntax error, a plain Error), then it is not unavailable', () => {
    expect(isUnavailableError(Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601' }))).toBe(false);
    expect(isUnavailableError(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(isUnavailableError(undefined)).toBe(false);
    expect(isUnavailableError(new Error('wrapped', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }))).toBe(true);
  });
});
