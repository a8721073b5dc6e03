import http from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Part, renderNginxConf } from '../../scripts/lib/fleet.ts';
import { freePort } from '../../src/infra/embedded.ts';
import { hlsObjectKey, masterKey } from '../../src/media/storage-keys.ts';
import { lessonBody, startTestSystem, uploadAndProcess, type TestSystem } from '../helpers/system.ts';

/**
 * The shipped edge (deploy/nginx.conf, rendered as the fleet renders it) run by Debian's nginx in
 * front of a real API: what it keeps, and that it never keeps an answer to a request made as someone
 * nor one that sets a cookie. Private prefix, temp dir and ports under a temp dir.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let ts: TestSystem;
const cleanups: (() => Promise<void>)[] = [];

/** nginx with deploy/nginx.conf in front of the given ports; resolves with its URL. */
async function startEdge(apiPorts: number[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cc-edge-'));
  await mkdir(path.join(dir, 'cache'), { recursive: true });
  await mkdir(path.join(dir, 'tmp'), { recursive: true });
  const port = await freePort();
  const file = path.join(dir, 'nginx.conf');
  await writeFile(file, renderNginxConf(await readFile(path.join(root, 'deploy/nginx.conf'), 'utf8'), { port, apiPorts, edgeDir: dir, logDir: dir, asRoot: process.getuid?.() === 0 }));
  const nginx = new Part({ name: 'edge', cmd: '/usr/sbin/nginx', args: ['-p', `${dir}/`, '-c', file, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'], port, stopSignal: 'SIGTERM', graceMs: 5000 }, path.join(dir, 'edge.log'));
  await nginx.start();
  cleanups.push(async () => {
    await nginx.stop();
    nginx.closeLog();
    await rm(dir, { recursive: true, force: true });
  });
  return `http://127.0.0.1:${port}`;
}

let edge: string;
beforeAll(async () => {
  ts = await startTestSystem({ api: true });
  edge = await startEdge([Number(new URL(ts.url).port)]);
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await ts?.stop();
});

const status = (r: Response) => r.headers.get('x-cache-status');

async function publishedWithMedia(title: string): Promise<{ lessonId: string; assetId: string }> {
  const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ title }) });
  const assetId = await uploadAndProcess(ts, c.body.id, ts.users.teacherA.token);
  const st = ts.sys.storage;
  await st.putBuffer(st.mediaBucket, masterKey(assetId), '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=900000\n360p/index.m3u8\n', 'application/vnd.apple.mpegurl');
  await st.putBuffer(st.mediaBucket, hlsObjectKey(assetId, '360p/seg-00001.ts'), Buffer.alloc(188 * 50, 0x47), 'video/mp2t');
  expect((await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } })).status).toBe(200);
  expect((await ts.api('POST', `/api/v1/lessons/${c.body.id}/publications`, { token: ts.users.operator.token, body: { channel: 'portal' } })).status).toBe(201);
  return { lessonId: c.body.id, assetId };
}

describe('the caching edge (deploy/nginx.conf on nginx)', () => {
  it('when the public reads the catalog and plays a lesson through the edge, then repeated reads are answered by the edge, with the origin\'s bytes', async () => {
    const { lessonId } = await publishedWithMedia('边缘缓存课');
    for (const p of ['/api/v1/lessons?stage=primary', '/api/v1/facets', `/api/v1/lessons/${lessonId}`, `/play/${lessonId}/master.m3u8`, `/play/${lessonId}/360p/seg-00001.ts`]) {
      const first = await fetch(`${edge}${p}`);
      expect({ p, status: first.status }).toEqual({ p, status: 200 });
      const body = await first.arrayBuffer();
      expect(first.headers.get('x-accel-expires')).toBeNull();
      const second = await fetch(`${edge}${p}`);
      expect({ p, cache: status(second) }).toEqual({ p, cache: 'HIT' });
      expect(Buffer.from(await second.arrayBuffer()).equals(Buffer.from(body))).toBe(true);
    }
    // what has no public lifetime passes through uncached
    await fetch(`${edge}/api/v1/live`);
    expect(status(await fetch(`${edge}/api/v1/live`))).not.toBe('HIT');
  });

  it('when a request carries a bearer token or a cookie, then the edge neither answers it from its cache nor stores the answer', async () => {
    const { lessonId } = await publishedWithMedia('边缘凭据课');
    const detail = `${edge}/api/v1/lessons/${lessonId}`;
    // made as someone first: not stored, so the public's first read is still a miss
    const staff = await fetch(detail, { headers: { authorization: `Bearer ${ts.users.teacherA.token}` } });
    expect(status(staff)).toBe('BYPASS');
    expect((await staff.json()).status).toBe('published');
    const cookie = await fetch(detail, { headers: { cookie: `cc_session=${ts.users.teacherA.token}` } });
    expect(status(cookie)).toBe('BYPASS');
    await cookie.arrayBuffer();
    const pub = await fetch(detail);
    expect(status(pub)).toBe('MISS');
    expect((await pub.json()).status).toBeUndefined();
    expect(status(await fetch(detail))).toBe('HIT');
    // with a public entry present, a request made as someone still goes to the origin and gets its own view
    for (const headers of [{ authorization: `Bearer ${ts.users.operator.token}` }, { cookie: 'cc_session=x; other=1' }] as Record<string, string>[]) {
      const r = await fetch(detail, { headers });
      expect(status(r)).toBe('BYPASS');
      expect(r.headers.get('cache-control')).toBe('private, no-store');
      await r.arrayBuffer();
    }
    const list = await fetch(`${edge}/api/v1/lessons?q=${encodeURIComponent('边缘凭据')}`, { headers: { authorization: `Bearer ${ts.users.operator.token}` } });
    expect(status(list)).toBe('BYPASS');
    await list.arrayBuffer();
    expect(status(await fetch(`${edge}/api/v1/lessons?q=${encodeURIComponent('边缘凭据')}`))).toBe('MISS');
  });

  it('when an answer is private (a reviewer\'s preview link), then the edge never keeps it', async () => {
    const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ title: '边缘预览课' }) });
    const assetId = await uploadAndProcess(ts, c.body.id, ts.users.teacherA.token);
    await ts.sys.storage.putBuffer(ts.sys.storage.mediaBucket, masterKey(assetId), '#EXTM3U\n', 'application/vnd.apple.mpegurl');
    const token = ts.sys.services.preview.sign(assetId, 600).token;
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${edge}/preview/${token}/master.m3u8`);
      expect(r.status).toBe(200);
      expect(status(r)).not.toBe('HIT');
      await r.arrayBuffer();
    }
  });

  it('when the origin sets a cookie on an otherwise public answer, then the edge does not keep it', async () => {
    const origin = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=60', 'set-cookie': 'cc_session=abc; HttpOnly' });
      res.end('{"items":[],"nextCursor":null}');
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => origin.close(() => r())));
    const other = await startEdge([(origin.address() as import('node:net').AddressInfo).port]);
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${other}/api/v1/lessons`);
      expect(r.status).toBe(200);
      expect(status(r)).not.toBe('HIT');
      await r.arrayBuffer();
    }
  });
});
