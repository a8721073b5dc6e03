import http from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderNginxConf } from '../../scripts/lib/fleet.ts';
import { Part } from '../../scripts/lib/fleet-part.ts';
import { freePort } from '../../src/infra/embedded.ts';
import { hlsObjectKey, masterKey } from '../../src/media/storage-keys.ts';
import { lessonBody, startTestSystem, uploadAndProcess, type TestSystem } from '../helpers/system.ts';
import { gatewayHandler, liveTarget } from '../../src/api/gateway.routes.ts';
import { createLogger } from '../../src/infra/logger.ts';

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

describe('live playlists at the edge', () => {
  const root = `live/edge-${Date.now().toString(36)}/`;
  const lessonId = '00000000-0000-4000-8000-000000ed9e01';
  const playlist = (seq: number) => `#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:${seq}\n#EXTINF:2.000000,\nseg-${seq}.m4s\n`;
  const put = (rel: string, body: string) => ts.sys.storage.putBuffer(ts.sys.storage.mediaBucket, `${root}${rel}`, Buffer.from(body), 'application/vnd.apple.mpegurl');
  let liveEdge: string;
  let onAir = true;
  const originRequests: string[] = [];
  // nginx counts lifetimes in whole seconds: a 1 s lifetime ends within 2 s
  const pastLifetime = () => new Promise((r) => setTimeout(r, 2200));

  beforeAll(async () => {
    // the real gateway over the real storage as the origin (its gate admits the one lesson while on
    // air), counting what reaches it; the shipped edge in front
    const handle = gatewayHandler({
      storage: ts.sys.storage, log: createLogger('silent'), corsOrigins: ['*'],
      play: async () => undefined, preview: async () => undefined,
      live: async (id) => (onAir && id === lessonId ? liveTarget(root) : undefined),
    });
    const origin = http.createServer((req, res) => {
      originRequests.push(req.url ?? '');
      if (!handle(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => origin.close(() => r())));
    liveEdge = await startEdge([(origin.address() as import('node:net').AddressInfo).port]);
  });

  it('when many viewers ask for a live playlist the edge does not have, then one request reaches the origin, and the answer is public for a second with no edge header passed on', async () => {
    await put('720p/index.m3u8', playlist(1));
    const url = `${liveEdge}/live/${lessonId}/720p/index.m3u8`;
    const answers = await Promise.all(Array.from({ length: 20 }, async () => {
      const r = await fetch(url);
      return { status: r.status, body: await r.text(), cc: r.headers.get('cache-control'), accel: r.headers.get('x-accel-expires') };
    }));
    expect(new Set(answers.map((a) => JSON.stringify(a)))).toEqual(new Set([JSON.stringify({ status: 200, body: playlist(1), cc: 'public, max-age=1', accel: null })]));
    expect(originRequests.filter((u) => u.endsWith('/720p/index.m3u8'))).toHaveLength(1);
    // made as someone: past the cache, whatever it holds
    for (const headers of [{ authorization: 'Bearer x' }, { cookie: 'cc_session=x' }] as Record<string, string>[]) {
      const r = await fetch(url, { headers });
      expect(status(r)).toBe('BYPASS');
      await r.arrayBuffer();
    }
  });

  it('when a live playlist expires at the edge, then the next viewer gets the expired copy at once while one background request fetches the new window', async () => {
    const url = `${liveEdge}/live/${lessonId}/360p/index.m3u8`;
    await put('360p/index.m3u8', playlist(5));
    expect(await (await fetch(url)).text()).toBe(playlist(5));
    await put('360p/index.m3u8', playlist(6));
    await pastLifetime();
    const stale = await fetch(url);
    expect(status(stale)).toBe('STALE');
    expect(await stale.text()).toBe(playlist(5));
    // the background update lands: the new window, from the edge's cache
    const until = Date.now() + 5000;
    let body = '';
    while (body !== playlist(6) && Date.now() < until) body = await (await fetch(url)).text();
    expect(body).toBe(playlist(6));
  });

  it('when the lesson stops, then the gateway\'s 404 replaces the edge\'s copy instead of the copy being served on', async () => {
    const url = `${liveEdge}/live/${lessonId}/480p/index.m3u8`;
    await put('480p/index.m3u8', playlist(9));
    expect((await fetch(url)).status).toBe(200);
    onAir = false;
    try {
      await pastLifetime();
      const until = Date.now() + 5000;
      let last = 200;
      while (last !== 404 && Date.now() < until) {
        const r = await fetch(url);
        last = r.status;
        await r.arrayBuffer();
      }
      expect(last).toBe(404);
      const again = await fetch(url);
      expect(again.status).toBe(404);
      expect(again.headers.get('cache-control')).toBe('no-store');
      expect(again.headers.get('x-accel-expires')).toBeNull();
    } finally {
      onAir = true;
    }
  });
});
