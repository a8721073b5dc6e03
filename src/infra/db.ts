import { readdir, readFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from './logger.ts';

/** Anything SQL can be sent to: the database or an open transaction. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface Db extends Queryable {
  readonly kind: 'pg' | 'pglite';
  /** Runs fn in one transaction; commits when it resolves, rolls back when it throws. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

// pg returns int8 as string: counts and ids we use fit in a double
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));

class PgDb implements Db {
  readonly kind = 'pg' as const;
  constructor(private readonly pool: pg.Pool) {}
  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const r = await this.pool.query(sql, params as unknown[]);
    return r.rows as T[];
  }
  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }
  async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const q: Queryable = { query: async <R>(sql: string, params: unknown[] = []) => (await client.query(sql, params as unknown[])).rows as R[] };
      const out = await fn(q);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
  async close(): Promise<void> {
    await this.pool.end();
  }
}

interface PGliteLike {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<unknown>;
  transaction<T>(fn: (tx: { query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[] }> }) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  constructor(private readonly db: PGliteLike) {}
  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.db.query<T>(sql, params)).rows;
  }
  async exec(sql: string): Promise<void> {
    await this.db.exec(sql);
  }
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn({ query: async <R>(sql: string, params: unknown[] = []) => (await tx.query<R>(sql, params)).rows }));
  }
  async close(): Promise<void> {
    await this.db.close();
  }
}

/** Answers when the database does (readiness checks). */
export async function pingDb(db: Queryable): Promise<void> {
  await db.query('SELECT 1');
}

export interface DbOptions {
  /** postgres:// URL; empty for embedded PGlite. */
  url: string;
  schema: string;
  poolMax: number;
  /** PGlite data directory; undefined keeps it in memory. */
  pgliteDir?: string;
}

/** Opens PostgreSQL (pg pool bound to one schema) or embedded PGlite. */
export async function openDb(opts: DbOptions): Promise<Db> {
  if (opts.url) {
    const admin = new pg.Client({ connectionString: opts.url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"`);
    } catch (err) {
      // two processes creating the same schema at once: the loser sees a unique violation
      if ((err as { code?: string }).code !== '23505') throw err;
    } finally {
      await admin.end();
    }
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolMax, options: `-c search_path="${opts.schema}"` });
    pool.on('error', () => undefined);
    return new PgDb(pool);
  }
  const { PGlite } = await import('@electric-sql/pglite');
  if (opts.pgliteDir) await mkdir(opts.pgliteDir, { recursive: true });
  const lite = opts.pgliteDir ? new PGlite(opts.pgliteDir) : new PGlite();
  await lite.waitReady;
  const db = new PgliteDb(lite as unknown as PGliteLike);
  if (opts.schema !== 'public') {
    await db.exec(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"; SET search_path TO "${opts.schema}"`);
  }
  return db;
}

const migrationsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/**
 * Applies numbered SQL migrations (NNN_name.sql) that are not yet recorded, forward only, under an
 * advisory lock so that processes starting together apply each exactly once.
 */
export async function migrate(db: Db, schema: string, log?: Logger): Promise<string[]> {
  const files = (await readdir(migrationsDir)).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return db.tx(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`classcast-migrate:${schema}`]);
    await q.query('CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await q.query<{ version: string }>('SELECT version FROM schema_migrations')).map((r) => r.version));
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(path.join(migrationsDir, file), 'utf8');
      for (const stmt of splitSql(sql)) await q.query(stmt);
      await q.query('INSERT INTO schema_migrations (version) VALUES ($1)', [file]);
      applied.push(file);
      log?.info({ migration: file }, 'migration applied');
    }
    return applied;
  });
}

/**
 * Splits a migration file on semicolons at line ends (our migrations keep one statement per block),
 * except inside dollar-quoted bodies ($$ ... $$: functions), whose statements end lines too.
 */
export function splitSql(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  let inBody = false;
  for (const part of sql.split(/(\$\$)/)) {
    if (part === '$$') inBody = !inBody;
    if (part === '$$' || inBody) {
      current += part;
      continue;
    }
    const pieces = part.split(/;\s*(?:\r?\n|$)/);
    current += pieces[0];
    for (const p of pieces.slice(1)) {
      out.push(current);
      current = p;
    }
  }
  out.push(current);
  return out.map((s) => s.replace(/^\s*--.*$/gm, '').trim()).filter((s) => s.length > 0);
}
