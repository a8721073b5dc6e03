import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig, testDb, testStorage, testQueues } from '../helpers/parts.ts';
import type { Db } from '../../src/infra/db.ts';
import { migrate } from '../../src/infra/db.ts';

describe('real parts', () => {
  const cfg = testConfig();
  let db: Db;
  const drops: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    const d = await testDb(cfg);
    db = d.db;
    drops.push(d.drop);
  });
  afterAll(async () => {
    for (const d of drops) await d();
  });

  it('when migrations run twice at once, then each is applied exactly once', async () => {
    const [a, b] = await Promise.all([migrate(db, cfg.DATABASE_SCHEMA), migrate(db, cfg.DATABASE_SCHEMA)]);
    expect([...a, ...b]).toEqual([]);
    const rows = await db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.version)).size).toBe(rows.length);
  });

  it('when a transaction throws, then nothing of it is kept', async () => {
    await expect(db.tx(async (q) => {
      await q.query("INSERT INTO districts (id, code, name) VALUES (gen_random_uuid(), 'x1', 'X')");
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(await db.query("SELECT 1 FROM districts WHERE code = 'x1'")).toEqual([]);
  });

  it('when an object is stored, then it reads back whole and by range', async () => {
    const { storage, drop } = await testStorage(cfg);
    drops.push(drop);
    await storage.putBuffer(storage.mediaBucket, 'x/y.txt', 'hello world', 'text/plain');
    expect((await storage.getBuffer(storage.mediaBucket, 'x/y.txt')).toString()).toBe('hello world');
    expect((await storage.stat(storage.mediaBucket, 'x/y.txt'))?.size).toBe(11);
    expect(await storage.stat(storage.mediaBucket, 'x/none')).toBeNull();
  });

  it('when a job is queued, then a worker under the same prefix runs it', async () => {
    const { queues, drop } = await testQueues(cfg);
    drops.push(drop);
    const done = new Promise<number>((resolve) => {
      queues.worker<{ n: number }, number>('transcode', async (job) => {
        resolve(job.data.n * 2);
        return job.data.n * 2;
      });
    });
    await queues.add('transcode', 'x', { n: 21 }, {});
    expect(await done).toBe(42);
  });
});
