import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import pg from 'pg';
import { loadConfig } from '../../config/load.ts';
import type { Config } from '../../config/config.schema.ts';
import { openDb, migrate, type Db } from '../../src/infra/db.ts';
import { ObjectStorage } from '../../src/infra/storage.ts';
import { QueueFactory } from '../../src/infra/queue.ts';
import { createRedis } from '../../src/infra/redis.ts';

/** A short random id for prefixes, schemas and bucket names. */
export const rid = (n = 6): string => randomBytes(n).toString('hex');

/**
 * A config for one test: its own database schema, queue prefix and bucket prefix, pointing at the
 * shared test Redis and S3 server (and PostgreSQL when DATABASE_URL is set, PGlite otherwise).
 */
export function testConfig(over: Partial<Record<keyof Config, string>> = {}): Config {
  const id = rid();
  return loadConfig({}, {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: inject('databaseUrl'),
    DATABASE_SCHEMA: `t_${id}`,
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: `t${id}`,
    S3_ENDPOINT: inject('s3Endpoint'),
    S3_BUCKET_PREFIX: `t${id}-`,
    SIGNING_SECRET: randomBytes(32).toString('hex'),
    HTTP_PORT: '0',
    RTMP_PORT: '0',
    ...over,
  });
}

export async function testDb(cfg: Config): Promise<{ db: Db; drop: () => Promise<void> }> {
  const db = await openDb({ url: cfg.DATABASE_URL, schema: cfg.DATABASE_SCHEMA, poolMax: 5 });
  await migrate(db, cfg.DATABASE_SCHEMA);
  return {
    db,
    drop: async () => {
      await db.close();
      if (cfg.DATABASE_URL) {
        const c = new pg.Client({ connectionString: cfg.DATABASE_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${cfg.DATABASE_SCHEMA}" CASCADE`);
        await c.end();
      }
    },
  };
}

export async function testStorage(cfg: Config): Promise<{ storage: ObjectStorage; drop: () => Promise<void> }> {
  const storage = ObjectStorage.fromConfig(cfg);
  await storage.ensureBuckets();
  return {
    storage,
    drop: async () => {
      for (const b of [storage.mediaBucket, storage.cableBucket]) {
        await storage.removePrefix(b, '').catch(() => undefined);
        await storage.client.removeBucket(b).catch(() => undefined);
      }
    },
  };
}

export async function testQueues(cfg: Config): Promise<{ queues: QueueFactory; drop: () => Promise<void> }> {
  const queues = new QueueFactory({ redisUrl: cfg.REDIS_URL, prefix: cfg.QUEUE_PREFIX });
  return {
    queues,
    drop: async () => {
      await queues.close();
      const r = createRedis(cfg.REDIS_URL);
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${cfg.QUEUE_PREFIX}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await r.del(...keys);
      } while (cursor !== '0');
      r.disconnect();
    },
  };
}
