import type { TestProject } from 'vitest/node';
import { startRedisServer, startS3Server, type EmbeddedChild } from '../../src/infra/embedded.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    s3Endpoint: string;
    databaseUrl: string;
  }
}

/**
 * Starts the parts every test file shares: an S3-protocol server (always: CI has no MinIO) and, when
 * REDIS_URL is unset, a private redis-server. Tests isolate themselves with random prefixes/schemas.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const children: EmbeddedChild[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'classcast-test-'));
  let redisUrl = process.env.REDIS_URL ?? '';
  if (!redisUrl) {
    const r = await startRedisServer(undefined);
    children.push(r);
    redisUrl = r.url;
  }
  let s3Endpoint = process.env.TEST_S3_ENDPOINT ?? '';
  if (!s3Endpoint) {
    const s = await startS3Server(path.join(dir, 's3'));
    children.push(s);
    s3Endpoint = s.url;
  }
  project.provide('redisUrl', redisUrl);
  project.provide('s3Endpoint', s3Endpoint);
  project.provide('databaseUrl', process.env.DATABASE_URL ?? '');
  return async () => {
    for (const c of children) await c.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
