import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { lessonBody, publishedLesson, startTestSystem, type TestSystem } from '../helpers/system.ts';
import { startApiProcess } from '../helpers/api-process.ts';
import { jpegWithMetadata, makeImage, pngWithMetadata, probeImage, webpWithMetadata } from '../helpers/images.ts';

// the suite runs on real PostgreSQL when DATABASE_URL is set, and always on embedded PGlite
const backends = inject('databaseUrl') ? ['postgresql', 'pglite'] : ['pglite'];

let addr = 0;
/** A fresh client address per asking client (the API trusts X-Forwarded-For from loopback in tests). */
const nextAddress = (): string => `198.51.100.${(addr = (addr % 250) + 1)}`;

describe.each(backends)('on %s', (backend) => {
  let ts: TestSystem;
  beforeAll(async () => {
    ts = await startTestSystem({ api: true }, backend === 'pglite' ? { DATABASE_URL: '' } : {});
  });
  afterAll(async () => {
    await ts?.stop();
  });

  const ask = (body: unknown, address = nextAddress()) => ts.api('POST', '/api/v1/questions', { body, headers: { 'x-forwarded-for': address } });
  const question = (over: Record<string, unknown> = {}) => ({ stage: 'primary', subject: 'math', text: '分数的分母是什么意思？', displayName: '小明', ...over });

  describe('the Q&A flow by role', () => {
    it('when a student asks with pictures, then teachers of the stage see and answer it, and everyone then reads it', async () => {
      const { teacherA, teacherA2, teacherB, reviewerA, operator } = ts.users;
      const secret = 'GPS-43.8171N-126.5496E';
      const [jpeg, png, webp] = await Promise.all([makeImage('jpeg', 64, 48), makeImage('png', 40, 30), makeImage('webp', 50, 20)]);
      const images = [
        `data:image/jpeg;base64,${jpegWithMetadata(jpeg, 6, secret).toString('base64')}`,
        pngWithMetadata(png, secret).toString('base64'),
        webpWithMetadata(webp, 50, 20, secret).toString('base64'),
      ];
      const tag = `约分${Date.now() % 100000}`;
      const q = await ask(question({ text: `老师，${tag}怎么做？分母不一样`, images }));
      expect(q.status, JSON.stringify(q.body)).toBe(201);
      expect(q.body).toMatchObject({ status: 'open', stage: 'primary', subject: 'math', images: 3, createdAt: expect.stringMatching(/\+08:00$/) });
      const id = q.body.id as string;

      // not public until answered
      expect((await ts.api('GET', `/api/v1/questions/${id}`)).status).toBe(404);
      expect((await ts.api('GET', `/api/v1/questions?q=${encodeURIComponent(tag)}`)).body.items).toEqual([]);
      expect((await fetch(`${ts.url}/api/v1/questions/${id}/images/0`)).status).toBe(404);

      // teachers of the stage see it; the senior-school teacher neither sees nor answers it
      const open = await ts.api('GET', '/api/v1/staff/questions', { token: teacherA.token });
      expect(open.status).toBe(200);
      const mine = open.body.items.find((i: { id: string }) => i.id === id);
      expect(mine).toMatchObject({ status: 'open', hidden: null, answers: [] });
      expect(open.body.scope.stage).toBe('primary');
      expect((await ts.api('GET', '/api/v1/staff/questions', { token: teacherB.token })).body.items.map((i: { id: string }) => i.id)).not.toContain(id);
      expect((await ts.api('POST', `/api/v1/questions/${id}/answers`, { token: teacherB.token, body: { text: '我来答' } })).status).toBe(404);
      expect((await ts.api('GET', '/api/v1/staff/questions?stage=senior', { token: teacherA.token })).status).toBe(403);

      // staff get signed picture links: stripped of metadata, real pictures, typed by content
      const types: string[] = [];
      for (const [n, img] of (mine.images as { url: string; type: string; width: number }[]).entries()) {
        expect(img.url).toMatch(new RegExp(`/api/v1/questions/${id}/images/${n}\\?exp=\\d+&sig=`));
        const res = await fetch(img.url);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('cache-control')).toBe('private, max-age=300');
        const bytes = Buffer.from(await res.arrayBuffer());
        expect(bytes.includes(secret)).toBe(false);
        expect((await probeImage(bytes)).decodes).toBe(true);
        types.push(res.headers.get('content-type')!);
      }
      expect(types).toEqual(['image/jpeg', 'image/png', 'image/webp']);
      expect((await fetch(mine.images[0].url.replace(/sig=[^&]+/, 'sig=AAAAAAAAAAAAAAAAAAAAAA'))).status).toBe(404);
      expect((await fetch(mine.images[0].url.replace(/images\/0/, 'images/1'))).status).toBe(404);

      const a1 = await ts.api('POST', `/api/v1/questions/${id}/answers`, { token: teacherA.token, body: { text: '先通分：找两个分母的最小公倍数。' } });
      expect(a1.status, JSON.stringify(a1.body)).toBe(201);
      expect(a1.body).toMatchObject({ text: '先通分：找两个分母的最小公倍数。', teacher: { name: 'teacherA', school: '甲小学' }, edited: false, mine: true, hidden: null });
      const a2 = await ts.api('POST', `/api/v1/questions/${id}/answers`, { token: teacherA2.token, body: { text: '也可以画图比较大小。' } });
      expect(a2.status).toBe(201);

      const pub = await ts.api('GET', `/api/v1/questions?q=${encodeURIComponent(tag)}`);
      expect(pub.body.items).toHaveLength(1);
      expect(pub.body.items[0]).toMatchObject({ id, stage: { code: 'primary', label: '小学' }, subject: { code: 'math', label: '数学' }, displayName: '小明', answeredAt: expect.any(String) });
      expect(pub.body.items[0].answers.map((a: { text: string }) => a.text)).toEqual(['先通分：找两个分母的最小公倍数。', '也可以画图比较大小。']);
      expect(pub.body.items[0].answers[0]).not.toHaveProperty('mine');
      expect(pub.body.items[0].images[0].url).toBe(`${ts.url}/api/v1/questions/${id}/images/0`);
      const pubImg = await fetch(pub.body.items[0].images[0].url);
      expect(pubImg.status).toBe(200);
      expect(pubImg.headers.get('cache-control')).toBe('public, max-age=300');
      // search finds Chinese substrings of the question and of its answers
      for (const term of [tag, '最小公倍', '画图']) {
        expect((await ts.api('GET', `/api/v1/questions?q=${encodeURIComponent(term)}`)).body.items.map((i: { id: string }) => i.id), term).toContain(id);
      }
      expect((await ts.api('GET', `/api/v1/questions?q=${encodeURIComponent(`${tag} 光合作用`)}`)).body.items).toEqual([]);
      expect((await ts.api('GET', `/api/v1/questions?q=${encodeURIComponent(tag)}&subject=chinese`)).body.items).toEqual([]);

      // answers are edited by their author only, and the edit is audited with the text before
      expect((await ts.api('PATCH', `/api/v1/answers/${a1.body.id}`, { token: teacherA2.token, body: { text: '改掉' } })).status).toBe(403);
      const edit = await ts.api('PATCH', `/api/v1/answers/${a1.body.id}`, { token: teacherA.token, body: { text: '先通分：分母化成相同的数。' } });
      expect(edit.status).toBe(200);
      expect(edit.body).toMatchObject({ edited: true, text: '先通分：分母化成相同的数。' });
      const audit = await ts.api('GET', `/api/v1/audit?entity=answer&entityId=${a1.body.id}`, { token: operator.token });
      expect(audit.body.items.map((x: { action: string }) => x.action)).toEqual(['edit', 'create']);
      expect(audit.body.items[0].data.before).toBe('先通分：找两个分母的最小公倍数。');
      expect((await ts.api('GET', `/api/v1/questions?q=${encodeURIComponent('最小公倍')}`)).body.items.map((i: { id: string }) => i.id)).not.toContain(id);

      // moderation: the other stage's reviewer cannot; a reason is needed; hiding takes effect at once
      expect((await ts.api('PUT', `/api/v1/answers/${a2.body.id}/visibility`, { token: ts.users.reviewerB.token, body: { hidden: true, reason: '无关' } })).status).toBe(404);
      expect((await ts.api('PUT', `/api/v1/answers/${a2.body.id}/visibility`, { token: reviewerA.token, body: { hidden: true } })).status).toBe(400);
      const hideA = await ts.api('PUT', `/api/v1/answers/${a2.body.id}/visibility`, { token: reviewerA.token, body: { hidden: true, reason: '答案不准确' } });
      expect(hideA.status).toBe(200);
      expect(hideA.body.hidden).toMatchObject({ reason: '答案不准确' });
      expect((await ts.api('GET', `/api/v1/questions/${id}`)).body.answers).toHaveLength(1);
      expect((await ts.api('PATCH', `/api/v1/answers/${a2.body.id}`, { token: teacherA2.token, body: { text: 'x' } })).status).toBe(409);

      const hideQ = await ts.api('PUT', `/api/v1/questions/${id}/visibility`, { token: operator.token, body: { hidden: true, reason: '含个人信息' } });
      expect(hideQ.status).toBe(200);
      expect(hideQ.body.hidden).toMatchObject({ reason: '含个人信息' });
      expect((await ts.api('GET', `/api/v1/questions/${id}`)).status).toBe(404);
      expect((await ts.api('GET', `/api/v1/questions?q=${encodeURIComponent(tag)}`)).body.items).toEqual([]);
      expect((await fetch(`${ts.url}/api/v1/questions/${id}/images/0`)).status).toBe(404);
      expect((await ts.api('POST', `/api/v1/questions/${id}/answers`, { token: teacherA.token, body: { text: '再答' } })).status).toBe(409);
      expect((await ts.api('PUT', `/api/v1/questions/${id}/visibility`, { token: operator.token, body: { hidden: true, reason: 'again' } })).status).toBe(409);
      const hiddenList = await ts.api('GET', '/api/v1/staff/questions?state=hidden', { token: reviewerA.token });
      expect(hiddenList.body.items.find((i: { id: string }) => i.id === id)).toMatchObject({ hidden: { reason: '含个人信息' } });
      expect((await ts.api('PUT', `/api/v1/questions/${id}/visibility`, { token: reviewerA.token, body: { hidden: false } })).status).toBe(200);
      expect((await ts.api('GET', `/api/v1/questions/${id}`)).status).toBe(200);

      const qAudit = await ts.api('GET', `/api/v1/audit?entity=question&entityId=${id}`, { token: operator.token });
      expect(qAudit.body.items.map((x: { action: string; reason: string | null }) => [x.action, x.reason])).toEqual([['unhide', null], ['hide', '含个人信息'], ['ask', null]]);
      expect(qAudit.body.items[2].actor).toBe('public');
    });

    it('when a question names a lesson, then stage and subject come from the lesson and the lesson filter finds it', async () => {
      const lessonId = await publishedLesson(ts, { subject: 'chinese', grade: 'g2', title: '识字课' });
      const q = await ask({ lessonId, text: '这个字怎么读？', displayName: '小红' });
      expect(q.status, JSON.stringify(q.body)).toBe(201);
      expect(q.body).toMatchObject({ stage: 'primary', subject: 'chinese', lessonId });
      await ts.api('POST', `/api/v1/questions/${q.body.id}/answers`, { token: ts.users.teacherA.token, body: { text: '读 shí。' } });
      const list = await ts.api('GET', `/api/v1/questions?lesson=${lessonId}`);
      expect(list.body.items.map((i: { id: string; lesson: unknown }) => [i.id, i.lesson])).toEqual([[q.body.id, { id: lessonId, title: '识字课' }]]);
      expect((await ask({ lessonId, subject: 'math', text: '不一致的学科', displayName: 'x' })).status).toBe(400);
      const draft = (await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody() })).body.id;
      const bad = await ask({ lessonId: draft, text: '未发布的课', displayName: 'x' });
      expect(bad.status).toBe(400);
      expect(bad.body.errors).toEqual([{ field: 'lessonId', message: 'unknown lesson' }]);
    });

    it('when many questions are answered, then the public list pages newest first without overlap', async () => {
      const tag = `分页${Date.now() % 100000}`;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const q = await ask(question({ text: `${tag} 第${i}题` }));
        ids.push(q.body.id);
        await ts.api('POST', `/api/v1/questions/${q.body.id}/answers`, { token: ts.users.teacherA.token, body: { text: `答${i}` } });
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const r: { body: { items: { id: string }[]; nextCursor: string | null } } = await ts.api('GET', `/api/v1/questions?q=${encodeURIComponent(tag)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...r.body.items.map((i) => i.id));
        cursor = r.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual([...ids].reverse());
    });
  });

  describe('hostile input', () => {
    it('when text holds script tags, then it is stored as given and only ever returned as a JSON string with nosniff', async () => {
      const evil = '<script>alert(document.cookie)</script><img src=x onerror=alert(1)>"\'&</textarea>';
      const q = await ask(question({ text: `${evil}\n第二行\t制表`, displayName: '<b onmouseover=alert(1)>名</b>' }));
      expect(q.status).toBe(201);
      expect(q.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(q.headers.get('x-content-type-options')).toBe('nosniff');
      const a = await ts.api('POST', `/api/v1/questions/${q.body.id}/answers`, { token: ts.users.teacherA.token, body: { text: `回答 ${evil}` } });
      expect(a.status).toBe(201);
      const res = await fetch(`${ts.url}/api/v1/questions/${q.body.id}`);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const body = await res.json() as { text: string; displayName: string; answers: { text: string }[] };
      expect(body.text).toBe(`${evil}\n第二行\t制表`);
      expect(body.displayName).toBe('<b onmouseover=alert(1)>名</b>');
      expect(body.answers[0].text).toBe(`回答 ${evil}`);
      for (const path of ['/api/v1/questions', '/api/v1/questions/00000000-0000-0000-0000-000000000000', '/api/v1/staff/questions']) {
        expect((await fetch(`${ts.url}${path}`)).headers.get('x-content-type-options'), path).toBe('nosniff');
      }
    });

    it('when bodies are too long, hold control characters, bad Unicode, invalid UTF-8 or are huge, then each is a 4xx problem and nothing is stored', async () => {
      const before = Number((await ts.sys.db.query<{ n: number }>('SELECT count(*)::int n FROM questions'))[0].n);
      const json = (s: string) => ({ raw: Buffer.from(s, 'utf8'), headers: { 'content-type': 'application/json' } });
      const html = Buffer.from('<html><script>alert(1)</script></html>').toString('base64');
      const cases: [string, Parameters<TestSystem['api']>[2], number, RegExp][] = [
        ['text too long', { body: question({ text: '长'.repeat(2001) }) }, 400, /text: at most 2000/],
        ['text very long', { body: question({ text: 'x'.repeat(200_000) }) }, 400, /text: at most 2000/],
        ['name too long', { body: question({ displayName: '名'.repeat(41) }) }, 400, /displayName: at most 40/],
        ['empty text', { body: question({ text: '   ' }) }, 400, /text/],
        ['NUL', { body: question({ text: 'a\u0000b' }) }, 400, /text: contains control characters/],
        ['BEL', { body: question({ text: 'ding\u0007' }) }, 400, /control characters/],
        ['C1 control', { body: question({ text: 'abc\u0085def' }) }, 400, /control characters/],
        ['escape sequence', { body: question({ text: '\u001b[31mred' }) }, 400, /control characters/],
        ['bidi override', { body: question({ text: 'abc\u202Efed' }) }, 400, /control characters/],
        ['newline in name', { body: question({ displayName: 'a\nb' }) }, 400, /displayName: contains control characters or line breaks/],
        ['lone surrogate', json('{"stage":"primary","subject":"math","text":"ab\\ud800cd","displayName":"x"}'), 400, /unpaired surrogate/],
        ['invalid UTF-8', { raw: Buffer.concat([Buffer.from('{"stage":"primary","subject":"math","text":"ab'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('","displayName":"x"}')]), headers: { 'content-type': 'application/json' } }, 400, /not valid UTF-8/],
        ['overlong UTF-8', { raw: Buffer.concat([Buffer.from('{"stage":"primary","subject":"math","text":"a'), Buffer.from([0xc0, 0xbc]), Buffer.from('script","displayName":"x"}')]), headers: { 'content-type': 'application/json' } }, 400, /not valid UTF-8/],
        ['huge JSON', json(JSON.stringify(question({ text: 'x'.repeat(12 * 1024 * 1024) }))), 413, /too large/],
        ['malformed JSON', json('{"text": "a",'), 400, /malformed JSON/],
        ['array body', { body: [question()] }, 400, /body/],
        ['null body', json('null'), 400, /./],
        ['unknown field', { body: question({ admin: true }) }, 400, /admin/],
        ['proto key', json('{"stage":"primary","subject":"math","text":"abc","displayName":"x","__proto__":{"isAdmin":true}}'), 400, /__proto__/],
        ['number as text', { body: question({ text: 42 }) }, 400, /text/],
        ['form encoded', { raw: Buffer.from('text=hi'), headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, /json/],
        ['unknown stage', { body: question({ stage: 'college' }) }, 400, /stage/],
        ['subject of another stage', { body: question({ subject: 'vocational_major' }) }, 400, /subject/],
        ['not an image', { body: question({ images: [html] }) }, 400, /images\.0: not a JPEG, PNG or WebP/],
        ['svg data URL', { body: question({ images: [`data:image/svg+xml;base64,${Buffer.from('<svg onload="alert(1)"/>').toString('base64')}`] }) }, 400, /images\.0/],
        ['not base64', { body: question({ images: ['<script>'] }) }, 400, /images\.0: must be a base64/],
        ['four images', { body: question({ images: [html, html, html, html] }) }, 400, /images: at most 3/],
        ['oversized image', { body: question({ images: ['A'.repeat(3 * 1024 * 1024)] }) }, 400, /images\.0: an image may be at most 2048 KiB/],
        ['q too long', { body: undefined }, 400, /q/],
      ];
      for (const [name, opts, status, re] of cases) {
        const r = name === 'q too long'
          ? await ts.api('GET', `/api/v1/questions?q=${encodeURIComponent('长'.repeat(101))}`)
          : await ts.api('POST', '/api/v1/questions', { ...opts, headers: { ...(opts?.headers ?? {}), 'x-forwarded-for': nextAddress() } });
        expect({ name, status: r.status, body: r.body }).toMatchObject({ name, status });
        expect(r.headers.get('content-type'), name).toContain('application/problem+json');
        expect(r.headers.get('x-content-type-options'), name).toBe('nosniff');
        expect(r.body.detail, name).toMatch(re);
      }
      // a teacher's answer over the normal body limit is refused too
      const big = await ts.api('POST', '/api/v1/questions/00000000-0000-0000-0000-000000000000/answers', { token: ts.users.teacherA.token, body: { text: 'x'.repeat(400_000) } });
      expect(big.status).toBe(413);
      const after = Number((await ts.sys.db.query<{ n: number }>('SELECT count(*)::int n FROM questions'))[0].n);
      expect(after).toBe(before);
    });
  });

  describe('rate limit', () => {
    it('when one address asks through two API processes, then the limit holds across both; other addresses are unaffected', async () => {
      const second = await startApiProcess(ts.sys.config);
      try {
        const post = (url: string, address: string) =>
          fetch(`${url}/api/v1/questions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': address }, body: JSON.stringify(question({ text: `限流测试 ${address}` })) });
        const urls = [ts.url, second.url];
        const statuses: number[] = [];
        for (let i = 0; i < 5; i++) statuses.push((await post(urls[i % 2], '203.0.113.77')).status);
        expect(statuses).toEqual([201, 201, 201, 201, 201]);
        const sixth = await post(urls[1], '203.0.113.77');
        expect(sixth.status).toBe(429);
        expect(sixth.headers.get('content-type')).toContain('application/problem+json');
        const retry = Number(sixth.headers.get('retry-after'));
        expect(retry).toBeGreaterThan(500);
        expect(retry).toBeLessThanOrEqual(600);
        expect((await post(urls[0], '203.0.113.77')).status).toBe(429);
        // concurrent bursts cannot slip through together
        const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => post(urls[i % 2], '203.0.113.78')));
        expect(burst.filter((r) => r.status === 201)).toHaveLength(5);
        expect(burst.filter((r) => r.status === 429)).toHaveLength(5);
        // another address is not affected; an IPv6 client is limited by its /64, not per address
        expect((await post(urls[1], '203.0.113.79')).status).toBe(201);
        const v6: number[] = [];
        for (let i = 1; i <= 6; i++) v6.push((await post(urls[i % 2], `2001:db8:7:7::${i.toString(16)}`)).status);
        expect(v6).toEqual([201, 201, 201, 201, 201, 429]);
        expect((await post(urls[0], '2001:db8:7:8::1')).status).toBe(201);
        if (backend === 'postgresql') {
          // both processes wrote into the one schema: every accepted question is there, no refused one
          const n = await ts.sys.db.query<{ n: number }>("SELECT count(*)::int n FROM questions WHERE text LIKE '限流测试 %'");
          expect(Number(n[0].n)).toBe(5 + 5 + 1 + 5 + 1);
        }
      } finally {
        await second.stop();
      }
    });
  });
});
