import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig } from '../../config/load.ts';
import { configShape } from '../../config/config.schema.ts';

describe('configuration', () => {
  it('when nothing is set, then every key has its default', () => {
    const c = loadConfig({});
    expect(c.HTTP_PORT).toBe(8080);
    expect(c.DATABASE_URL).toBe('');
    expect(c.RTMP_PORT).toBe(1935);
  });

  it('when several values are bad, then the error lists every bad key and why', () => {
    let err: unknown;
    try {
      loadConfig({ HTTP_PORT: 'eighty', LOG_LEVEL: 'loud', S3_MEDIA_BUCKET: 'Bad_Bucket', UPLOAD_MAX_BYTES: '-1' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const keys = (err as ConfigError).problems.map((p) => p.split(':')[0]).sort();
    expect(keys).toEqual(['HTTP_PORT', 'LOG_LEVEL', 'S3_MEDIA_BUCKET', 'UPLOAD_MAX_BYTES']);
  });

  it('when production lacks shared secrets and servers, then it refuses to start', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/SIGNING_SECRET.*\n.*DATABASE_URL/s);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
  });

  it('when the schema is read, then every key has a description', () => {
    for (const d of describeConfig()) expect(d.description.length, d.key).toBeGreaterThan(10);
  });

  it('when README is read, then its configuration table lists exactly the schema keys with their defaults', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const rows = [...readme.matchAll(/^\| `([A-Z0-9_]+)` \| `([^`]*)` \|/gm)].map((m) => [m[1], m[2]]);
    const expected = describeConfig().map((d) => [d.key, d.default]);
    expect(rows).toEqual(expected);
    expect(Object.keys(configShape).length).toBe(rows.length);
  });
});
