import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from './logger.ts';

/** A child process we started and must stop. */
export interface EmbeddedChild {
  readonly url: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, name: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  });
}

/** A private redis-server on a free loopback port, AOF under dir (or nothing on disk when dir is undefined). */
export async function startRedisServer(dir: string | undefined, log?: Logger): Promise<EmbeddedChild> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--daemonize', 'no', '--protected-mode', 'yes'];
  if (dir) {
    await mkdir(dir, { recursive: true });
    args.push('--dir', path.resolve(dir), '--appendonly', 'yes');
  } else {
    args.push('--appendonly', 'no');
  }
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.on('error', (err) => log?.error({ err }, 'redis-server could not start (is the redis-server package installed?)'));
  await waitForPort(port, child, 'redis-server');
  log?.info({ port }, 'embedded redis-server started');
  return { url: `redis://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

const s3Child = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3rver.child.mjs');

/** A local S3-protocol server (s3rver) in a child process, objects under dir. */
export async function startS3Server(dir: string, log?: Logger): Promise<EmbeddedChild> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const child = spawn(process.execPath, [s3Child, String(port), path.resolve(dir)], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort(port, child, 's3rver');
  log?.info({ port }, 'embedded S3 server started');
  return { url: `http://127.0.0.1:${port}`, stop: () => stopChild(child) };
}
