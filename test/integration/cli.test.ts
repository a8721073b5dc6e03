import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { openDb, migrate } from '../../src/infra/db.ts';
import { AuthService } from '../../src/services/auth.service.ts';
import { dropTestData } from '../helpers/system.ts';
import { rid, testConfig } from '../helpers/parts.ts';

const run = promisify(execFile);
const cli = path.resolve('scripts/classcast.mjs');

/**
 * The operators' command line against a real database: PostgreSQL when DATABASE_URL is set (its own
 * schema), otherwise the embedded PGlite under a temporary DATA_DIR.
 */
describe('classcast CLI', () => {
  const cfg = testConfig();
  let dataDir = '';
  afterAll(async () => {
    await dropTestData(cfg);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('when an operator creates a school, a teacher and a token, then the token authenticates as that teacher until revoked', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'classcast-cli-'));
    const env = { ...process.env, DATABASE_URL: inject('databaseUrl'), DATABASE_SCHEMA: cfg.DATABASE_SCHEMA, DATA_DIR: dataDir, LOG_LEVEL: 'silent', REDIS_URL: '' };
    const c = (...args: string[]) => run(process.execPath, [cli, ...args], { env, timeout: 60_000 });
    const code = `s${rid(3)}`;
    expect((await c('school', 'create', '--code', code, '--name', '吉林市第二实验小学', '--district', 'chuanying', '--district-name', '船营区', '--stage', 'primary')).stdout).toContain(`school ${code} created`);
    const user = await c('user', 'create', '--username', `wang_${code}`, '--role', 'teacher', '--school', code, '--name', '王老师');
    const password = /password: (\S+)/.exec(user.stdout)?.[1];
    expect(password).toBeTruthy();
    const token = (await c('token', 'create', '--username', `wang_${code}`, '--ttl-hours', '2')).stdout.trim();
    expect(token).toMatch(/^cc_[A-Za-z0-9_-]{40,}$/);
    // a teacher without a school, an unknown role and a duplicate are refused with a message
    await expect(c('user', 'create', '--username', `li_${code}`, '--role', 'teacher')).rejects.toMatchObject({ stderr: expect.stringContaining('belongs to one school') });
    await expect(c('user', 'create', '--username', `li_${code}`, '--role', 'janitor')).rejects.toMatchObject({ stderr: expect.stringContaining('--role must be one of') });
    await expect(c('user', 'create', '--username', `wang_${code}`, '--role', 'operator')).rejects.toMatchObject({ stderr: expect.stringContaining('already exists') });

    const check = async (): Promise<string | undefined> => {
      const db = await openDb({ url: inject('databaseUrl'), schema: cfg.DATABASE_SCHEMA, poolMax: 1, pgliteDir: path.join(dataDir, 'pglite') });
      try {
        await migrate(db, cfg.DATABASE_SCHEMA);
        const auth = new AuthService(db, {} as never, { tokenTtlHours: 1, maxFailures: 5, windowS: 60, redisPrefix: 'x' });
        return (await auth.authenticate(token))?.role;
      } finally {
        await db.close();
      }
    };
    expect(await check()).toBe('teacher');
    expect((await c('token', 'revoke', token)).stdout).toContain('revoked');
    expect(await check()).toBeUndefined();
    await expect(c('token', 'revoke', token)).rejects.toMatchObject({ stdout: expect.stringContaining('no such active token') });
  });

  it('when the configuration is invalid, then the command stops listing every bad key', async () => {
    const env = { ...process.env, HTTP_PORT: 'eighty', LOG_LEVEL: 'loud' };
    await expect(run(process.execPath, [cli, 'migrate'], { env, timeout: 30_000 })).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/HTTP_PORT[\s\S]*LOG_LEVEL|LOG_LEVEL[\s\S]*HTTP_PORT/) });
  });
});
