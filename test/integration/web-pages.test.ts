import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../scripts/build-web.mjs';
import { endpoints, type EndpointSpec } from '../../web/api/client.ts';
import { staffEndpoints } from '../../web/api/staff-client.ts';
import { pageCsp } from '../../src/api/web.routes.ts';
import { lessonBody, publishedLesson, startTestSystem, type TestSystem } from '../helpers/system.ts';

let ts: TestSystem;
let published = '';
let draft = '';
beforeAll(async () => {
  await ensureWebBuild();
  ts = await startTestSystem();
  published = await publishedLesson(ts, { title: '页面测试课' });
  draft = (await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody() })).body.id;
});
afterAll(async () => {
  await ts?.stop();
});

const get = (p: string, headers: Record<string, string> = {}) => fetch(`${ts.url}${p}`, { headers: { accept: 'text/html', ...headers } });

describe('the pages served by the API', () => {
  it('when a page path is asked for, then it is HTML with the strict CSP, revalidated, and names hashed assets only', async () => {
    for (const p of ['/', '/lessons', '/lessons?stage=primary&q=%E5%88%86%E6%95%B0', '/qa', `/lessons/${published}`]) {
      const r = await get(p);
      expect({ p, status: r.status }).toEqual({ p, status: 200 });
      expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(r.headers.get('cache-control')).toBe('no-cache');
      expect(r.headers.get('content-security-policy')).toBe(pageCsp);
      const html = await r.text();
      expect(html).toContain('lang="zh-CN"');
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // nothing from another origin
      expect(html).toMatch(/src="\/assets\/index-[\w-]+\.js"/);
    }
    expect(pageCsp).not.toContain('unsafe-inline');
    expect(pageCsp).not.toContain('unsafe-eval');
  });

  it('when a hashed asset is asked for, then it is immutable for a year and sent precompressed when accepted', async () => {
    const html = await (await get('/')).text();
    const js = /src="(\/assets\/index-[\w-]+\.js)"/.exec(html)![1];
    const br = await fetch(`${ts.url}${js}`, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(br.status).toBe(200);
    expect(br.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(br.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const plain = await readFile(path.join('web/dist', js));
    // fetch decodes the body; the length sent is the compressed one
    expect(Number(br.headers.get('content-length'))).toBeLessThan(plain.length / 2);
    await br.arrayBuffer();
    const none = await fetch(`${ts.url}${js}`, { headers: { 'accept-encoding': 'identity' } });
    expect(Buffer.from(await none.arrayBuffer()).equals(plain)).toBe(true);
    expect((await fetch(`${ts.url}/assets/../index.html`)).status).toBe(404);
    expect((await fetch(`${ts.url}/assets/nope-123.js`)).status).toBe(404);
  });

  it('when a lesson is not published (or no lesson at all), then its page is the Chinese not-found page with 404', async () => {
    for (const p of [`/lessons/${draft}`, '/lessons/00000000-0000-4000-8000-000000000000', '/lessons/not-a-lesson', '/no-such-page']) {
      const r = await get(p);
      expect({ p, status: r.status }).toEqual({ p, status: 404 });
      expect(r.headers.get('content-security-policy')).toBe(pageCsp);
      expect(await r.text()).toContain('没有找到这个页面');
    }
  });

  it('when API, gateway and ops paths are asked for, then they answer as before (problem+json, JSON)', async () => {
    const api404 = await get('/api/v1/no-such-thing');
    expect(api404.status).toBe(404);
    expect(api404.headers.get('content-type')).toContain('application/problem+json');
    expect((await get('/healthz')).status).toBe(200);
    expect((await fetch(`${ts.url}/api/v1/lessons/${published}`)).status).toBe(200);
    const unknown = await fetch(`${ts.url}/no-such-thing`);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');
  });

  it('when the public detail of a published lesson is read, then it links its storyboard through the gateway', async () => {
    const d = (await ts.api('GET', `/api/v1/lessons/${published}`)).body;
    expect(d.storyboard).toEqual({ vtt: `${ts.url}/play/${published}/storyboard.vtt` });
  });

  it('when the pages\' and consoles\' API clients are compared with the OpenAPI document, then every call, parameter and field read exists', async () => {
    const doc = (await ts.api('GET', '/api/v1/openapi.json')).body;
    const problems: string[] = [];
    for (const [name, spec] of Object.entries({ ...endpoints, ...staffEndpoints }) as [string, EndpointSpec][]) {
      const op = doc.paths[spec.path]?.[spec.method];
      if (!op) {
        problems.push(`${name}: ${spec.method.toUpperCase()} ${spec.path} is not in the API`);
        continue;
      }
      const params = new Set((op.parameters ?? []).filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name));
      for (const q of spec.query ?? []) if (!params.has(q)) problems.push(`${name}: query ${q} is not declared`);
      const bodyProps = Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {});
      for (const b of spec.body ?? []) if (!bodyProps.includes(b)) problems.push(`${name}: body field ${b} is not declared`);
      if (spec.reads) {
        let schema = op.responses?.['200']?.content?.['application/json']?.schema;
        if (spec.list) schema = schema?.properties?.items?.items;
        const props = Object.keys(schema?.properties ?? {});
        for (const f of spec.reads) if (!props.includes(f)) problems.push(`${name}: response field ${f} is not in the schema`);
      }
    }
    expect(problems).toEqual([]);
  });
});
