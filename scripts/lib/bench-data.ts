import { rm } from 'node:fs/promises';
import type { Config } from '../../config/config.schema.ts';
import { createRedis } from '../../src/infra/redis.ts';

/**
 * Removes what a benchmark's system left: its database schema (unless `keepSchema`), its Redis keys
 * under the prefix `schema:` and its data directory.
 */
export async function dropBenchData(config: Config, schema: string, dataDir: string, keepSchema = false): Promise<void> {
  if (config.DATABASE_URL && !keepSchema) {
    const pg = await import('pg');
    const c = new pg.default.Client({ connectionString: config.DATABASE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
  if (config.REDIS_URL) {
    const r = createRedis(config.REDIS_URL);
    const keys = await r.keys(`${schema}:*`);
    if (keys.length) await r.del(...keys);
    r.disconnect();
  }
  await rm(dataDir, { recursive: true, force: true });
}
