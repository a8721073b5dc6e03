import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configShape } from '../../config/config.schema.ts';

interface Service {
  image?: string;
  build?: { dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string>;
}

describe('docker-compose.yml', () => {
  it('when the production shape is read, then its services are there and every classcast variable exists in the config schema', async () => {
    const doc = parse(await readFile(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as { services: Record<string, Service> };
    const s = doc.services;
    expect(Object.keys(s)).toEqual(expect.arrayContaining(['postgres', 'redis', 'minio', 'minio-init', 'api', 'ingest', 'worker', 'edge']));
    expect(String(s.redis.command)).toContain('appendonly,yes');
    expect(String(s['minio-init'].command)).toMatch(/mc mb --ignore-existing local\/media/);
    const roles: Record<string, string> = { api: 'api', ingest: 'ingest', worker: 'worker' };
    const unknown: string[] = [];
    for (const [name, role] of Object.entries(roles)) {
      expect(s[name].command).toEqual(['node', 'scripts/classcast.mjs', role]);
      for (const key of Object.keys(s[name].environment ?? {})) if (!(key in configShape)) unknown.push(`${name}: ${key}`);
      expect(s[name].environment?.NODE_ENV).toBe('production');
    }
    expect(unknown).toEqual([]);
    const dockerfile = await readFile(new URL(`../../${s.worker.build?.dockerfile}`, import.meta.url), 'utf8');
    expect(dockerfile).toMatch(/apt-get install[^\n]*ffmpeg/);
  });
});
