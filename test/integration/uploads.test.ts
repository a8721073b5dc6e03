import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';

let ts: TestSystem;
beforeAll(async () => {
  ts = await startTestSystem({ api: true }, { UPLOAD_MAX_BYTES: String(40 * 1024 * 1024) });
});
afterAll(async () => {
  await ts?.stop();
});

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
async function newLesson(teacher: 'teacherA' | 'teacherB' = 'teacherA'): Promise<string> {
  const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users[teacher].token, body: lessonBody(teacher === 'teacherB' ? { stage: 'senior', grade: 'g10' } : {}) });
  return c.body.id;
}
async function storedSource(lessonId: string): Promise<Buffer> {
  const a = (await ts.sys.db.query<{ source_key: string }>('SELECT a.source_key FROM lessons l JOIN assets a ON a.id = l.current_asset_id WHERE l.id = $1', [lessonId]))[0];
  return ts.sys.storage.getBuffer(ts.sys.storage.mediaBucket, a.source_key);
}

/** A body streamed in chunks with no Content-Length (chunked transfer), as curl -T - sends it. */
function chunked(total: number, seed: number): { stream: ReadableStream<Uint8Array>; bytes: Buffer } {
  const bytes = Buffer.alloc(total);
  for (let i = 0; i < total; i++) bytes[i] = (i * 31 + seed) & 0xff;
  let off = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (off >= total) return c.close();
      const n = Math.min(1024 * 1024, total - off);
      c.enqueue(bytes.subarray(off, off + n));
      off += n;
    },
  });
  return { stream, bytes };
}

describe('uploads', () => {
  it('when a teacher streams a file of unknown length bigger than one chunk, then storage holds it byte for byte and processing is queued', async () => {
    const id = await newLesson();
    const { stream, bytes } = chunked(37 * 1024 * 1024 + 123, 7);
    const r = await fetch(`${ts.url}/api/v1/lessons/${id}/media?filename=${encodeURIComponent('第一课.mp4')}`, {
      method: 'PUT', headers: { authorization: `Bearer ${ts.users.teacherA.token}`, 'content-type': 'video/mp4' }, body: stream, duplex: 'half',
    } as RequestInit);
    expect(r.status).toBe(202);
    const body = await r.json();
    expect(body).toMatchObject({ version: 1, bytes: bytes.length });
    expect(md5(await storedSource(id))).toBe(md5(bytes));
    const job = await ts.sys.queues.queue('transcode').getJob(`transcode-${body.assetId}`);
    expect(job?.data).toMatchObject({ assetId: body.assetId, lessonId: id });
    const detail = await ts.api('GET', `/api/v1/lessons/${id}`, { token: ts.users.teacherA.token });
    expect(detail.body.status).toBe('processing');
    expect(detail.body.processing).toMatchObject({ state: 'queued', version: 1, error: null });
  });

  it('when uploads are empty, too big, or for another teacher\'s lesson, then they are refused with a clear error and nothing is queued', async () => {
    const id = await newLesson();
    const t = ts.users.teacherA.token;
    const empty = await ts.api('PUT', `/api/v1/lessons/${id}/media`, { token: t, raw: Buffer.alloc(0) });
    expect(empty.status).toBe(400);
    expect(empty.body.detail).toMatch(/empty/);
    // an announced length over the limit is refused before any byte of the body is read
    const http = await import('node:http');
    const big = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${ts.url}/api/v1/lessons/${id}/media`, { method: 'PUT', headers: { authorization: `Bearer ${t}`, 'content-length': String(41 * 1024 * 1024) } }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body).detail).toMatch(/larger than the 40 MiB limit/);
    // no announced length: the limit is enforced while streaming, and the client reads a 413
    const streamedTooBig = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${ts.url}/api/v1/lessons/${id}/media`, { method: 'PUT', headers: { authorization: `Bearer ${t}`, 'transfer-encoding': 'chunked' } }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      });
      req.on('error', () => undefined);
      const chunk = Buffer.alloc(1024 * 1024, 9);
      let sent = 0;
      const pump = () => {
        while (sent < 60) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
      setTimeout(() => reject(new Error('no answer')), 60_000).unref();
    });
    expect(streamedTooBig.status).toBe(413);
    expect(JSON.parse(streamedTooBig.body).detail).toMatch(/larger/);
    const other = await newLesson('teacherB');
    expect((await ts.api('PUT', `/api/v1/lessons/${other}/media`, { token: t, raw: Buffer.from('abc') })).status).toBe(404);
    expect((await ts.api('GET', `/api/v1/lessons/${id}`, { token: t })).body.status).toBe('draft');
    const jobs = await ts.sys.queues.queue('transcode').getJobs(['waiting', 'delayed', 'active']);
    expect(jobs.filter((j) => j.data.lessonId === id || j.data.lessonId === other)).toEqual([]);
  });

  it('when a resumable upload loses a part, then the teacher sees what is missing, resends it, and completion assembles the exact file', async () => {
    const id = await newLesson();
    const t = ts.users.teacherA.token;
    const size = 11 * 1024 * 1024 + 5;
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 7) & 0xff;
    const start = await ts.api('POST', `/api/v1/lessons/${id}/uploads`, { token: t, body: { filename: 'big.mov', size, partSize: 5 * 1024 * 1024 } });
    expect(start.status).toBe(201);
    const { uploadId, partSize, partCount } = start.body;
    expect([partSize, partCount]).toEqual([5 * 1024 * 1024, 3]);
    const part = (n: number) => bytes.subarray((n - 1) * partSize, Math.min(size, n * partSize));
    expect((await ts.api('PUT', `/api/v1/lessons/${id}/uploads/${uploadId}/parts/1`, { token: t, raw: part(1) })).status).toBe(200);
    expect((await ts.api('PUT', `/api/v1/lessons/${id}/uploads/${uploadId}/parts/3`, { token: t, raw: part(3) })).status).toBe(200);
    // a part of the wrong size is refused
    const wrong = await ts.api('PUT', `/api/v1/lessons/${id}/uploads/${uploadId}/parts/2`, { token: t, raw: part(2).subarray(1) });
    expect(wrong.status).toBe(400);
    const early = await ts.api('POST', `/api/v1/lessons/${id}/uploads/${uploadId}/complete`, { token: t });
    expect(early.status).toBe(409);
    expect(early.body.detail).toContain('2');
    const view = await ts.api('GET', `/api/v1/lessons/${id}/uploads/${uploadId}`, { token: t });
    expect(view.body.missing).toEqual([2]);
    expect((await ts.api('PUT', `/api/v1/lessons/${id}/uploads/${uploadId}/parts/2`, { token: t, raw: part(2) })).status).toBe(200);
    const done = await ts.api('POST', `/api/v1/lessons/${id}/uploads/${uploadId}/complete`, { token: t });
    expect(done.status).toBe(202);
    expect(md5(await storedSource(id))).toBe(md5(bytes));
    expect((await ts.api('POST', `/api/v1/lessons/${id}/uploads/${uploadId}/complete`, { token: t })).status).toBe(409);
  });

  it('when a published lesson gets a new upload, then the approved version stays public until the new one is approved', async () => {
    const id = await newLesson();
    const t = ts.users.teacherA.token;
    expect((await ts.api('PUT', `/api/v1/lessons/${id}/media`, { token: t, raw: Readable.from([Buffer.from('v1')]) as unknown as Buffer })).status).toBe(202);
    const v1 = (await ts.api('GET', `/api/v1/lessons/${id}`, { token: t })).body.currentAssetId;
    await ts.sys.services.results.apply({ kind: 'transcode', key: `transcode:${v1}`, subjectId: v1, ok: true, data: { durationS: 10 } });
    await ts.api('POST', `/api/v1/lessons/${id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } });
    await ts.api('POST', `/api/v1/lessons/${id}/publications`, { token: ts.users.operator.token, body: { channel: 'portal' } });
    expect((await ts.api('PUT', `/api/v1/lessons/${id}/media`, { token: t, raw: Buffer.from('v2') })).status).toBe(202);
    const staff = (await ts.api('GET', `/api/v1/lessons/${id}`, { token: t })).body;
    expect(staff.status).toBe('processing');
    expect(staff.processing.version).toBe(2);
    expect(staff.approvedAssetId).toBe(v1);
    expect((await ts.api('GET', `/api/v1/lessons/${id}`)).status).toBe(200);
    // a failed new version leaves the published one alone and tells the teacher why
    const v2 = staff.currentAssetId;
    await ts.sys.services.results.apply({ kind: 'transcode', key: `transcode:${v2}`, subjectId: v2, ok: false, error: 'the file has no video or sound we can read', data: {} });
    // applying the same result again changes nothing
    expect(await ts.sys.services.results.apply({ kind: 'transcode', key: `transcode:${v2}`, subjectId: v2, ok: true, data: {} })).toBe(false);
    const after = (await ts.api('GET', `/api/v1/lessons/${id}`, { token: t })).body;
    expect(after.status).toBe('failed');
    expect(after.processing).toMatchObject({ state: 'failed', error: 'the file has no video or sound we can read' });
    expect((await ts.api('GET', `/api/v1/lessons/${id}`)).status).toBe(200);
  });

  it('when processing fails with a code, then the staff detail shows it as processing.errorCode beside the message, and a new version clears both', async () => {
    const id = await newLesson();
    const t = ts.users.teacherA.token;
    expect((await ts.api('PUT', `/api/v1/lessons/${id}/media`, { token: t, raw: Buffer.from('v1') })).status).toBe(202);
    const v1 = (await ts.api('GET', `/api/v1/lessons/${id}`, { token: t })).body.currentAssetId;
    await ts.sys.services.results.apply({ kind: 'transcode', key: `transcode:${v1}`, subjectId: v1, ok: false, error: 'This file has sound but no picture.', errorCode: 'no_video_stream', data: {} });
    const failed = (await ts.api('GET', `/api/v1/lessons/${id}`, { token: t })).body;
    expect(failed.processing).toMatchObject({ state: 'failed', error: 'This file has sound but no picture.', errorCode: 'no_video_stream' });
    expect((await ts.api('PUT', `/api/v1/lessons/${id}/media`, { token: t, raw: Buffer.from('v2') })).status).toBe(202);
    const v2 = (await ts.api('GET', `/api/v1/lessons/${id}`, { token: t })).body.currentAssetId;
    await ts.sys.services.results.apply({ kind: 'transcode', key: `transcode:${v2}`, subjectId: v2, ok: true, data: { durationS: 10 } });
    expect((await ts.api('GET', `/api/v1/lessons/${id}`, { token: t })).body.processing).toMatchObject({ state: 'ready', error: null, errorCode: null });
  });
});
