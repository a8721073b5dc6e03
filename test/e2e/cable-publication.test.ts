import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';
import { runFfmpegCli } from '../helpers/media.ts';
import { validateAdiPackage } from '../../src/media/adi-validator.ts';
import { eventually } from '../helpers/wait.ts';

/**
 * Publishing to cable from the operator's side, with every real part: a processed, approved lesson is
 * published on cable (and the portal), the worker writes the ADI package, the feed lists it with signed
 * links whose files match their MD5s; withdrawal writes a DELETE package; a new approved version is
 * re-delivered with a higher Version_Major.
 */

let ts: TestSystem;
let dir = '';

async function uploadVersion(lessonId: string, seconds: number): Promise<void> {
  const file = path.join(dir, `v${Date.now()}.mp4`);
  await runFfmpegCli(['-f', 'lavfi', '-t', String(seconds), '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-t', String(seconds), '-i', 'sine=frequency=330:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', file]);
  const up = await ts.api('PUT', `/api/v1/lessons/${lessonId}/media?filename=v.mp4`, { token: ts.users.teacherA.token, raw: await readFile(file), headers: { 'content-type': 'video/mp4' } });
  expect(up.status).toBe(202);
  const d = await eventually(async () => (await ts.api('GET', `/api/v1/lessons/${lessonId}`, { token: ts.users.teacherA.token })).body, (b) => b.status === 'in_review' || b.status === 'failed', 240_000, 'processing');
  expect(d.status, JSON.stringify(d.processing)).toBe('in_review');
  expect((await ts.api('POST', `/api/v1/lessons/${lessonId}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } })).status).toBe(200);
}

type Pkg = { packageId: string; lessonId: string; verb: string; version: { major: number; minor: number }; state: string; error: string | null; runTimeS: number | null; files: { name: string; size: number; md5: string; url: string }[] };
const feed = async (token = ts.users.cable.token): Promise<Pkg[]> => (await ts.api('GET', '/api/v1/cable/packages?limit=500', { token })).body.items;

beforeAll(async () => {
  ts = await startTestSystem({ api: true, worker: true }, { CABLE_PROFILE: 'sd-mpeg2-576i50' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'classcast-cable-'));
}, 60_000);
afterAll(async () => {
  await ts?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('cable publication', () => {
  it('when an operator publishes to cable, withdraws and re-delivers a new version, then the feed shows delivered, withdrawn and v2 packages that validate', async () => {
    const title = `${'吉林市小学数学公益课：分数的初步认识与应用'.repeat(8)}`;
    const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ title: title.slice(0, 200), description: '认识几分之一。'.repeat(100), type: 'special_mental' }) });
    const id = c.body.id;
    await uploadVersion(id, 4);
    expect((await ts.api('POST', `/api/v1/lessons/${id}/publications`, { token: ts.users.operator.token, body: { channel: 'cable' } })).status).toBe(201);
    expect((await ts.api('POST', `/api/v1/lessons/${id}/publications`, { token: ts.users.operator.token, body: { channel: 'portal' } })).status).toBe(201);
    // on both channels; the public sees it on the portal
    expect((await ts.api('GET', `/api/v1/lessons/${id}`)).status).toBe(200);

    const first = await eventually(feed, (items) => items.some((p) => p.lessonId === id && p.state !== 'packaging'), 240_000, 'first package');
    const p1 = first.find((p) => p.lessonId === id)!;
    expect(p1, JSON.stringify(p1)).toMatchObject({ verb: 'deliver', version: { major: 1, minor: 0 }, state: 'delivered', error: null });
    expect(p1.files.map((f) => f.name)).toEqual(['movie.ts', 'poster.jpg', 'ADI.XML']);
    const files: Record<string, Buffer> = {};
    for (const f of p1.files) {
      const body = Buffer.from(await (await fetch(f.url)).arrayBuffer());
      expect(body.length).toBe(f.size);
      expect(createHash('md5').update(body).digest('hex')).toBe(f.md5);
      files[f.name] = body;
    }
    const xml = files['ADI.XML'].toString('utf8');
    const facts = new Map(Object.entries(files).filter(([n]) => n !== 'ADI.XML').map(([n, b]) => [n, { size: b.length, md5: createHash('md5').update(b).digest('hex') }]));
    expect(validateAdiPackage(xml, facts).violations).toEqual([]);
    expect(xml).toContain('吉林市中小学公益课/小学/数学');
    expect(xml).toMatch(/Asset_ID="CLCS\d{16}"/);
    expect(await feed(ts.users.operator.token)).toEqual(expect.arrayContaining([expect.objectContaining({ packageId: p1.packageId })]));
    expect((await ts.api('GET', '/api/v1/cable/packages', { token: ts.users.teacherA.token })).status).toBe(403);

    // withdrawal from cable: a DELETE package; the portal publication stays
    expect((await ts.api('DELETE', `/api/v1/lessons/${id}/publications/cable`, { token: ts.users.operator.token })).status).toBe(200);
    const second = await eventually(feed, (items) => items.some((p) => p.lessonId === id && p.verb === 'delete' && p.state !== 'packaging'), 120_000, 'delete package');
    const del = second.find((p) => p.lessonId === id && p.verb === 'delete')!;
    expect(del).toMatchObject({ state: 'delivered', version: { major: 1, minor: 1 } });
    const delXml = await (await fetch(del.files.find((f) => f.name === 'ADI.XML')!.url)).text();
    expect(delXml).toContain('Verb="DELETE"');
    for (const idAttr of xml.match(/Asset_ID="[A-Z]{4}\d{16}"/g)!) expect(delXml).toContain(idAttr);
    expect(second.find((p) => p.packageId === p1.packageId)!.state).toBe('withdrawn');
    expect((await ts.api('GET', `/api/v1/lessons/${id}`)).status).toBe(200);

    // a new approved version published again: Version_Major 2, same Asset_IDs
    await uploadVersion(id, 3);
    expect((await ts.api('POST', `/api/v1/lessons/${id}/publications`, { token: ts.users.operator.token, body: { channel: 'cable' } })).status).toBe(201);
    const third = await eventually(feed, (items) => items.some((p) => p.lessonId === id && p.version.major === 2 && p.state !== 'packaging'), 240_000, 'v2 package');
    const p2 = third.find((p) => p.lessonId === id && p.version.major === 2)!;
    expect(p2).toMatchObject({ verb: 'deliver', state: 'delivered', version: { major: 2, minor: 0 } });
    const xml2 = await (await fetch(p2.files.find((f) => f.name === 'ADI.XML')!.url)).text();
    expect(xml2).toContain('Version_Major="2"');
    for (const idAttr of xml.match(/Asset_ID="[A-Z]{4}\d{16}"/g)!) expect(xml2).toContain(idAttr);
    expect(p2.runTimeS).toBeGreaterThan(2.5);
    expect(p2.runTimeS).toBeLessThan(3.5);

    // since= returns only what changed later
    const later = (await ts.api('GET', `/api/v1/cable/packages?since=${encodeURIComponent(new Date().toISOString())}`, { token: ts.users.cable.token })).body.items;
    expect(later).toEqual([]);
    const audit = await ts.api('GET', `/api/v1/audit?entity=publication&entityId=${id}:cable`, { token: ts.users.operator.token });
    expect(audit.body.items.map((a: { action: string }) => a.action).reverse()).toEqual(['publish', 'withdraw', 'publish']);
  });
});
