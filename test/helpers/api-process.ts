import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config/config.schema.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Starts another API process (`classcast api`, a separate OS process) on the same configuration as a
 * test system: same database and schema (PostgreSQL; with PGlite each process has its own in-memory
 * database), same Redis and key prefix, same buckets and signing secret. Resolves with its URL once
 * it logs that it listens.
 */
export async function startApiProcess(config: Config): Promise<{ url: string; stop: () => Promise<void> }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cc-api2-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? os.tmpdir(),
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATA_DIR: dataDir,
    DATABASE_URL: config.DATABASE_URL,
    DATABASE_SCHEMA: config.DATABASE_SCHEMA,
    REDIS_URL: config.REDIS_URL,
    QUEUE_PREFIX: config.QUEUE_PREFIX,
    S3_ENDPOINT: config.S3_ENDPOINT,
    S3_BUCKET_PREFIX: config.S3_BUCKET_PREFIX,
    SIGNING_SECRET: config.SIGNING_SECRET,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    RTMP_PORT: '0',
  };
  const child: ChildProcess = spawn(process.execPath, [path.join(root, 'scripts/classcast.mjs'), 'api'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`second API process did not start within 60 s:\n${output.slice(-3000)}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.includes('API listening')) continue;
        try {
          const u = (JSON.parse(line) as { url?: string }).url;
          if (u) {
            clearTimeout(timer);
            resolve(u);
          }
        } catch {
          /* a partial line: wait for the rest */
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`second API process exited (${code}):\n${output.slice(-3000)}`));
    });
  });
  return {
    url,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
