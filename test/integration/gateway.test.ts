import { gunzipSync } from 'node:zlib';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { lessonBody, startTestSystem, uploadAndProcess, type TestSystem } from '../helpers/system.ts';
import { startSystem, type System } from '../../src/system.ts';
import { hlsObjectKey, masterKey, posterKey } from '../../src/media/storage-keys.ts';
import { gatewayHandler, liveTarget, objectCache } from '../../src/api/gateway.routes.ts';
import { createLogger } from '../../src/infra/logger.ts';

/**
 * The playback gateway over real storage: the gate on every path, ranges, compression, CORS, cache
 * headers, preview tokens, and a withdrawal reaching another API process within a second. The HLS
 * objects are placed in storage directly (the transcode tests make real ones).
 */

let ts: TestSystem;
let second: System | undefined;
const master = '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n' + '#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=25.000\n360p/index.m3u8\n'.repeat(3);
const media = '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:6.000,\nseg-00001.ts\n#EXT-X-ENDLIST\n';
const segment = Buffer.alloc(188 * 1000, 0x47);
for (let i = 0; i < segment.length; i++) segment[i] = i % 188 === 0 ? 0x47 : i % 251;

async function withMedia(over: Record<string, unknown> = {}): Promise<{ lessonId: string; assetId: string }> {
  const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody(over) });
  const assetId = await uploadAndProcess(ts, c.body.id, ts.users.teacherA.token);
  const st = ts.sys.storage;
  await st.putBuffer(st.mediaBucket, hlsObjectKey(assetId, '360p/seg-00001.ts'), segment, 'video/mp2t');
  await st.putBuffer(st.mediaBucket, hlsObjectKey(assetId, '360p/index.m3u8'), media, 'application/vnd.apple.mpegurl');
  await st.putBuffer(st.mediaBucket, masterKey(assetId), master, 'application/vnd.apple.mpegurl');
  await st.putBuffer(st.mediaBucket, posterKey(assetId), Buffer.from([0xff, 0xd8, 0xff, 0xd9]), 'image/jpeg');
  return { lessonId: c.body.id, assetId };
}

async function approveAndPublish(lessonId: string): Promise<void> {
  expect((await ts.api('POST', `/api/v1/lessons/${lessonId}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } })).status).toBe(200);
  expect((await ts.api('POST', `/api/v1/lessons/${lessonId}/publications`, { token: ts.users.operator.token, body: { channel: 'portal' } })).status).toBe(201);
}

const paths = ['master.m3u8', '360p/index.m3u8', '360p/seg-00001.ts', 'poster.jpg'];

beforeAll(async () => {
  ts = await startTestSystem({ api: true });
});
afterAll(async () => {
  await second?.stop();
  await ts?.stop();
});

describe('playback gateway', () => {
  it('when a lesson is not published, then every gateway path is 404, segments included, and nothing names storage', async () => {
    const { lessonId } = await withMedia();
    for (const p of paths) {
      const r = await fetch(`${ts.url}/play/${lessonId}/${p}`);
      expect({ p, status: r.status, cc: r.headers.get('cache-control') }).toEqual({ p, status: 404, cc: 'no-store' });
      const body = await r.text();
      expect(body).not.toMatch(/assets\/|sources\/|t[0-9a-f]+-media|bucket/i);
    }
    await approveAndPublish(lessonId);
    for (const p of paths) expect((await fetch(`${ts.url}/play/${lessonId}/${p}`)).status).toBe(200);
    // traversal and unknown files stay closed even for a published lesson
    for (const p of ['../../sources/x/source.mp4', '360p/../../poster.jpg', 'secret.txt', '%2e%2e/master.m3u8']) {
      expect((await fetch(`${ts.url}/play/${lessonId}/${p}`)).status).toBe(404);
    }
    expect((await fetch(`${ts.url}/play/not-a-uuid/master.m3u8`)).status).toBe(404);
  });

  it('when a published lesson is played, then playlists are gzipped with short caching and segments are immutable with ranges', async () => {
    const { lessonId } = await withMedia();
    await approveAndPublish(lessonId);
    const m = await fetch(`${ts.url}/play/${lessonId}/master.m3u8`, { headers: { 'accept-encoding': 'gzip', origin: 'https://portal.example.cn' } });
    expect(m.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(m.headers.get('cache-control')).toBe('public, max-age=300');
    expect(m.headers.get('access-control-allow-origin')).toBe('*');
    expect(await m.text()).toBe(master);

    // raw bytes: the body really is gzip on the wire
    const raw = await import('node:http').then(
      (http) =>
        new Promise<{ enc: string | undefined; body: Buffer }>((resolve, reject) => {
          http.get(`${ts.url}/play/${lessonId}/master.m3u8`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ enc: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
          }).on('error', reject);
        }),
    );
    expect(raw.enc).toBe('gzip');
    expect(gunzipSync(raw.body).toString()).toBe(master);

    const seg = await fetch(`${ts.url}/play/${lessonId}/360p/seg-00001.ts`);
    expect(seg.headers.get('content-type')).toBe('video/mp2t');
    expect(seg.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(seg.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await seg.arrayBuffer()).equals(segment)).toBe(true);

    const part = await fetch(`${ts.url}/play/${lessonId}/360p/seg-00001.ts`, { headers: { range: 'bytes=188-375' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 188-375/${segment.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(segment.subarray(188, 376))).toBe(true);
    const tail = await fetch(`${ts.url}/play/${lessonId}/360p/seg-00001.ts`, { headers: { range: 'bytes=-100' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(segment.subarray(segment.length - 100))).toBe(true);
    const bad = await fetch(`${ts.url}/play/${lessonId}/360p/seg-00001.ts`, { headers: { range: `bytes=${segment.length}-` } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${segment.length}`);

    const pre = await fetch(`${ts.url}/play/${lessonId}/master.m3u8`, { method: 'OPTIONS', headers: { origin: 'https://portal.example.cn', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/Range/);
  });

  it('when a player revalidates a playlist, then it gets 304 on its ETag, and every answer allows any origin whether or not it sent one (one edge copy serves all)', async () => {
    const { lessonId } = await withMedia();
    await approveAndPublish(lessonId);
    for (const enc of ['gzip', 'identity']) {
      const first = await fetch(`${ts.url}/play/${lessonId}/master.m3u8`, { headers: { 'accept-encoding': enc } });
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^"[A-Za-z0-9_.-]+"$/);
      expect(first.headers.get('access-control-allow-origin')).toBe('*');
      expect(first.headers.get('vary')).toMatch(/Accept-Encoding/);
      const again = await fetch(`${ts.url}/play/${lessonId}/master.m3u8`, { headers: { 'accept-encoding': enc, 'if-none-match': etag } });
      expect(again.status).toBe(304);
      expect(again.headers.get('cache-control')).toBe('public, max-age=300');
    }
    const a = (await fetch(`${ts.url}/play/${lessonId}/master.m3u8`, { headers: { 'accept-encoding': 'gzip' } })).headers.get('etag');
    const b = (await fetch(`${ts.url}/play/${lessonId}/master.m3u8`, { headers: { 'accept-encoding': 'identity' } })).headers.get('etag');
    expect(a).not.toBe(b);
    const seg = await fetch(`${ts.url}/play/${lessonId}/360p/seg-00001.ts`, { method: 'HEAD' });
    expect(seg.status).toBe(200);
    expect(seg.headers.get('content-length')).toBe(String(segment.length));
    expect(seg.headers.get('access-control-allow-origin')).toBe('*');
    // other methods are not the gateway's: the API answers them
    expect((await fetch(`${ts.url}/play/${lessonId}/master.m3u8`, { method: 'POST' })).status).toBe(404);
  });

  it('when playlists are answered from memory, then /metrics counts each request under its route template and status', async () => {
    const { lessonId } = await withMedia();
    await approveAndPublish(lessonId);
    const metric = async (pattern: RegExp) => Number(pattern.exec(await (await fetch(`${ts.url}/metrics`)).text())?.[1] ?? 0);
    const ok = /classcast_http_requests_total\{method="GET",route="\/play\/\*",status="200"\} (\d+)/;
    const notModified = /classcast_http_requests_total\{method="GET",route="\/play\/\*",status="304"\} (\d+)/;
    const timed = /classcast_http_request_duration_seconds_count\{method="GET",route="\/play\/\*"\} (\d+)/;
    const url = `${ts.url}/play/${lessonId}/master.m3u8`;
    const etag = (await fetch(url)).headers.get('etag')!; // read from storage, then kept in memory
    const before = { ok: await metric(ok), notModified: await metric(notModified), timed: await metric(timed) };
    for (let i = 0; i < 3; i++) expect((await fetch(url)).status).toBe(200);
    expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect({ ok: await metric(ok), notModified: await metric(notModified), timed: await metric(timed) }).toEqual({ ok: before.ok + 3, notModified: before.notModified + 1, timed: before.timed + 4 });
  });

  it('when a reviewer previews through the signed link, then it plays before publication, only for that version, and a forged or expired token is 404', async () => {
    const { lessonId, assetId } = await withMedia();
    const staff = await ts.api('GET', `/api/v1/lessons/${lessonId}`, { token: ts.users.reviewerA.token });
    const previewUrl: string = staff.body.preview.hls;
    expect(previewUrl).toMatch(/\/preview\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\/master\.m3u8$/);
    expect(previewUrl).not.toContain(assetId);
    const base = previewUrl.replace(/master\.m3u8$/, '');
    for (const p of paths) expect((await fetch(`${base}${p}`)).status).toBe(200);
    expect((await fetch(`${base}360p/seg-00001.ts`)).headers.get('cache-control')).toBe('private, max-age=3600');
    // the public path stays closed
    expect((await fetch(`${ts.url}/play/${lessonId}/master.m3u8`)).status).toBe(404);
    const token = base.split('/preview/')[1].replace(/\/$/, '');
    const forged = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    expect((await fetch(`${ts.url}/preview/${forged}/master.m3u8`)).status).toBe(404);
    const expired = ts.sys.services.preview.sign(assetId, 60, Date.now() - 3600_000).token;
    expect((await fetch(`${ts.url}/preview/${expired}/master.m3u8`)).status).toBe(404);
    // a token of another asset does not open this one's files
    const other = await withMedia();
    const otherToken = ts.sys.services.preview.sign(other.assetId, 600).token;
    const own = await fetch(`${ts.url}/preview/${otherToken}/poster.jpg`);
    expect(own.status).toBe(200);
    expect((await ts.api('GET', `/api/v1/lessons/${lessonId}`, { token: ts.users.teacherB.token })).status).toBe(404);
  });

  // two API processes share one database: PostgreSQL (an embedded PGlite belongs to one process)
  it.skipIf(!inject('databaseUrl'))('when an operator withdraws a lesson, then another API process stops serving it within a second', async () => {
    const { lessonId } = await withMedia();
    await approveAndPublish(lessonId);
    second = await startSystem({ config: ts.sys.config, roles: { api: true, worker: false, ingest: false } });
    const url2 = second.apiUrl!;
    // warm the second process's cache
    expect((await fetch(`${url2}/play/${lessonId}/master.m3u8`)).status).toBe(200);
    expect((await fetch(`${url2}/play/${lessonId}/360p/seg-00001.ts`)).status).toBe(200);
    expect((await ts.api('DELETE', `/api/v1/lessons/${lessonId}/publications/portal`, { token: ts.users.operator.token })).status).toBe(200);
    const deadline = Date.now() + 1000;
    let status = 200;
    while (Date.now() < deadline) {
      status = (await fetch(`${url2}/play/${lessonId}/360p/seg-00001.ts`)).status;
      if (status === 404) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(404);
    expect((await fetch(`${url2}/play/${lessonId}/master.m3u8`)).status).toBe(404);
  });
});

describe('live playlists read while storage rewrites them', () => {
  const root = `live/rewrite-${Date.now().toString(36)}/`;
  const lessonId = '00000000-0000-4000-8000-00000000abcd';
  const live = (seq: number, target = 2) => `#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:${target}\n#EXT-X-MEDIA-SEQUENCE:${seq}\n#EXTINF:2.000000,\nseg-${seq}.m4s\n`;
  let url: string;
  let server: http.Server;
  let open = true;
  beforeAll(async () => {
    // the gateway over the real storage, without its object cache (every request reads storage); the
    // gate is tested above, here it admits the one lesson while `open`
    const handle = gatewayHandler({
      storage: ts.sys.storage, log: createLogger('silent'), corsOrigins: ['*'],
      play: async () => undefined, preview: async () => undefined,
      live: async (id) => (open && id === lessonId ? liveTarget(root) : undefined),
    });
    server = http.createServer((req, res) => {
      if (!handle(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live/${lessonId}/720p/index.m3u8`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
  });
  const put = (body: string) => ts.sys.storage.putBuffer(ts.sys.storage.mediaBucket, `${root}720p/index.m3u8`, Buffer.from(body), 'application/vnd.apple.mpegurl');

  it('when a read finds the playlist empty, cut or gone mid-rewrite, then the viewer gets the last whole copy, not an error', async () => {
    await put(live(7));
    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe(live(7));
    for (const during of ['', '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARG', 'seg-7.m4s\n']) {
      await put(during);
      const r = await fetch(url);
      expect({ during, status: r.status }).toEqual({ during, status: 200 });
      expect(await r.text()).toBe(live(7));
      expect(r.headers.get('cache-control')).toBe('public, max-age=1');
    }
    await ts.sys.storage.remove(ts.sys.storage.mediaBucket, `${root}720p/index.m3u8`);
    expect(await (await fetch(url)).text()).toBe(live(7));
    // the rewrite lands: the new window at once
    await put(live(8));
    expect(await (await fetch(url)).text()).toBe(live(8));
    // the gate still comes first: a stopped lesson is 404 even with a copy in memory
    open = false;
    expect((await fetch(url)).status).toBe(404);
    open = true;
  });

  it('when the last whole copy is older than a target duration, then it no longer stands in: a 503 players retry', async () => {
    await put(live(20, 1));
    expect((await fetch(url)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1200));
    await put('');
    const r = await fetch(url);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).not.toBeNull();
    expect(r.headers.get('cache-control')).toBe('no-store');
  });
});

describe('answers from memory', () => {
  const root = `live/memory-${Date.now().toString(36)}/`;
  const lessonId = '00000000-0000-4000-8000-00000000abce';
  const playlist = `#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:3\n${'#EXTINF:4.000000,\nseg-3.ts\n'.repeat(20)}`;
  const servers: http.Server[] = [];
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
  });
  /** The gateway with an object cache over the real storage, admitting the one lesson (the gate is tested above). */
  async function gatewayWith(corsOrigins: string[], storage = ts.sys.storage, onRequest = () => undefined as void): Promise<string> {
    const handle = gatewayHandler({
      storage, log: createLogger('silent'), corsOrigins, cache: objectCache(1024 * 1024),
      play: () => undefined, preview: () => undefined,
      live: (id) => (id === lessonId ? liveTarget(root) : undefined),
    });
    const server = http.createServer((req, res) => {
      onRequest();
      if (!handle(req, res)) res.writeHead(404).end();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/live/${lessonId}/`;
  }
  const answer = async (url: string, headers: Record<string, string>) => {
    const r = await fetch(url, { headers });
    const h = Object.fromEntries([...r.headers].filter(([k]) => k !== 'date'));
    return { status: r.status, headers: h, body: Buffer.from(await r.arrayBuffer()).toString('base64') };
  };

  it('when an object is answered from memory, then status, headers and bytes are those of its first answer from storage, CORS by origin list included', async () => {
    const st = ts.sys.storage;
    await st.putBuffer(st.mediaBucket, `${root}720p/index.m3u8`, playlist, 'application/vnd.apple.mpegurl');
    await st.putBuffer(st.mediaBucket, `${root}720p/seg-3.ts`, segment, 'video/mp2t');
    for (const origins of [['*'], ['https://portal.example.cn']]) {
      const base = await gatewayWith(origins);
      const asks: [string, Record<string, string>][] = [
        ['720p/index.m3u8', { 'accept-encoding': 'gzip', origin: 'https://portal.example.cn' }],
        ['720p/index.m3u8', { 'accept-encoding': 'identity' }],
        ['720p/index.m3u8', { 'accept-encoding': 'gzip', origin: 'https://elsewhere.example' }],
        ['720p/seg-3.ts', { origin: 'https://portal.example.cn' }],
        ['720p/seg-3.ts', {}],
      ];
      for (const [rel, headers] of asks) {
        const fromStorage = await answer(`${base}${rel}`, headers);
        expect(fromStorage.status).toBe(200);
        const fromMemory = await answer(`${base}${rel}`, headers);
        expect({ origins, rel, asked: headers, ...fromMemory }).toEqual({ origins, rel, asked: headers, ...fromStorage });
        const etag = fromStorage.headers.etag;
        if (etag) {
          const again = await fetch(`${base}${rel}`, { headers: { ...headers, 'if-none-match': etag } });
          expect(again.status).toBe(304);
          expect(again.headers.get('vary')).toBe(fromStorage.headers.vary);
          expect(again.headers.get('access-control-allow-origin')).toBe(fromStorage.headers['access-control-allow-origin'] ?? null);
        }
      }
      const listed = await answer(`${base}720p/index.m3u8`, { 'accept-encoding': 'gzip', origin: 'https://portal.example.cn' });
      expect(listed.headers['access-control-allow-origin']).toBe(origins[0] === '*' ? '*' : 'https://portal.example.cn');
      expect(listed.headers['x-accel-expires']).toBe('2');
      expect(listed.headers['content-encoding']).toBe('gzip');
    }
  });
  it('when many players ask at once for objects not in memory, then storage is read once per object and every player gets it', async () => {
    const st = ts.sys.storage;
    await st.putBuffer(st.mediaBucket, `${root}480p/index.m3u8`, playlist, 'application/vnd.apple.mpegurl');
    await st.putBuffer(st.mediaBucket, `${root}480p/seg-3.ts`, segment, 'video/mp2t');
    const players = 20;
    // storage answers only once every request has reached the gateway, so none comes after a read ended
    let arrived = 0;
    let allArrived!: () => void;
    const together = new Promise<void>((r) => { allArrived = r; });
    const reads: string[] = [];
    const counting = Object.assign(Object.create(st) as typeof st, {
      getBuffer: async (bucket: string, key: string) => { reads.push(key); await together; return st.getBuffer(bucket, key); },
      get: async (bucket: string, key: string, range?: { start: number; end: number }) => { reads.push(key); await together; return st.get(bucket, key, range); },
    });
    const base = await gatewayWith(['*'], counting, () => { if (++arrived === 2 * players) allArrived(); });
    const answers = await Promise.all(Array.from({ length: players }, () => ['480p/index.m3u8', '480p/seg-3.ts']).flat().map(async (rel) => {
      const r = await fetch(`${base}${rel}`);
      return { rel, status: r.status, same: Buffer.from(await r.arrayBuffer()).equals(rel.endsWith('.ts') ? segment : Buffer.from(playlist)) };
    }));
    expect(answers.filter((a) => a.status !== 200 || !a.same)).toEqual([]);
    expect(reads.sort()).toEqual([`${root}480p/index.m3u8`, `${root}480p/seg-3.ts`]);
  });
});
