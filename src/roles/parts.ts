import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/config.schema.ts';
import type { Logger } from '../infra/logger.ts';
import { migrate, openDb, type Db } from '../infra/db.ts';
import { startRedisServer, startS3Server, type EmbeddedChild } from '../infra/embedded.ts';
import { createRedis } from '../infra/redis.ts';
import { ObjectStorage } from '../infra/storage.ts';
import { QueueFactory } from '../infra/queue.ts';
import { PubSub } from '../infra/pubsub.ts';
import { Metrics } from '../api/metrics.ts';
import type { Stops } from './role.ts';

/** The outside things every role works with, opened once per process. */
export interface Parts {
  db: Db;
  redis: Redis;
  storage: ObjectStorage;
  queues: QueueFactory;
  pubsub: PubSub;
  metrics: Metrics;
  /** Signs preview links, question pictures and stream keys. */
  secret: string;
  redisUrl: string;
  s3Endpoint: string;
}

/** Resolves embedded defaults: a redis-server and an S3 server child under DATA_DIR when none is configured. */
async function embeddedParts(config: Config, log: Logger): Promise<{ children: EmbeddedChild[]; redisUrl: string; s3Endpoint: string; secret: string }> {
  const children: EmbeddedChild[] = [];
  const dataDir = path.resolve(config.DATA_DIR);
  let redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    const r = await startRedisServer(path.join(dataDir, 'redis'), log);
    children.push(r);
    redisUrl = r.url;
  }
  let s3Endpoint = config.S3_ENDPOINT;
  if (!s3Endpoint) {
    const s = await startS3Server(path.join(dataDir, 's3'), log);
    children.push(s);
    s3Endpoint = s.url;
  }
  let secret = config.SIGNING_SECRET;
  if (!secret) {
    await mkdir(dataDir, { recursive: true });
    const file = path.join(dataDir, 'secret');
    secret = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (secret.length < 32) {
      secret = randomBytes(32).toString('hex');
      await writeFile(file, secret, { mode: 0o600 });
    }
  }
  return { children, redisUrl, s3Endpoint, secret };
}

/** Opens the database (migrated), Redis, storage (buckets made), queues and pub/sub; each one's stop goes to `stops`. */
export async function startParts(config: Config, log: Logger, stops: Stops): Promise<Parts> {
  const emb = await embeddedParts(config, log);
  for (const c of emb.children) stops.add(() => c.stop());

  const db = await openDb({
    url: config.DATABASE_URL,
    schema: config.DATABASE_SCHEMA,
    poolMax: config.DATABASE_POOL_MAX,
    pgliteDir: config.NODE_ENV === 'test' ? undefined : path.join(path.resolve(config.DATA_DIR), 'pglite'),
  });
  stops.add(() => db.close());
  await migrate(db, config.DATABASE_SCHEMA, log);

  const redis = createRedis(emb.redisUrl, { name: 'classcast' });
  stops.add(async () => { redis.disconnect(); });
  const storage = ObjectStorage.fromConfig(config, emb.s3Endpoint);
  await storage.ensureBuckets();
  const queues = new QueueFactory({ redisUrl: emb.redisUrl, prefix: config.QUEUE_PREFIX });
  stops.add(() => queues.close());
  const pubsub = new PubSub(emb.redisUrl, redis, config.QUEUE_PREFIX);
  stops.add(() => pubsub.close());
  return { db, redis, storage, queues, pubsub, metrics: new Metrics(), secret: emb.secret, redisUrl: emb.redisUrl, s3Endpoint: emb.s3Endpoint };
}
