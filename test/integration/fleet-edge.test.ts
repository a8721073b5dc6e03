import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { renderNginxConf } from '../../scripts/lib/fleet.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('the fleet edge: deploy/nginx.conf rendered for one machine', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('when deploy/nginx.conf is rendered with our ports, then nginx accepts it and it names every API port, a loopback listener and no compose host', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cc-edge-'));
    dirs.push(dir);
    await mkdir(path.join(dir, 'tmp'), { recursive: true });
    await mkdir(path.join(dir, 'cache'), { recursive: true });
    const conf = renderNginxConf(await readFile(path.join(root, 'deploy/nginx.conf'), 'utf8'), { port: 18088, apiPorts: [18081, 18082], edgeDir: dir, logDir: dir, asRoot: process.getuid?.() === 0 });
    expect(conf).toContain('server 127.0.0.1:18081');
    expect(conf).toContain('server 127.0.0.1:18082');
    expect(conf).toContain('listen 127.0.0.1:18088;');
    expect(conf).not.toMatch(/api:8080|\/var\/cache\/nginx|listen\s+80;/);
    const file = path.join(dir, 'nginx.conf');
    await writeFile(file, conf);
    const t = spawnSync('nginx', ['-t', '-p', `${dir}/`, '-c', file, '-e', path.join(dir, 'error.log')], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` } });
    expect(t.stderr).toContain('syntax is ok');
    expect(t.status).toBe(0);
  });

  it('when the config lacks what the rendering replaces, then it says so instead of leaving the compose names', () => {
    expect(() => renderNginxConf('events {}\nhttp { server { listen 80; } }', { port: 1, apiPorts: [2], edgeDir: '/x', logDir: '/x', asRoot: false })).toThrow(/upstream server api:8080 not found/);
  });
});
