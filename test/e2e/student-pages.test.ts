import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ensureWebBuild } from '../../scripts/build-web.mjs';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';
import { runFfmpegCli } from '../helpers/media.ts';
import { collectPageErrors, launchChromium, newContext, screenshot, playsOn, seriousA11yProblems, sizes } from '../helpers/browser.ts';
import { eventually } from '../helpers/wait.ts';

/**
 * The student pages in Debian's Chromium against a whole system (API, worker with ffmpeg, S3 server,
 * PostgreSQL, Redis): a recorded lesson uploaded, transcoded, approved and published through the API,
 * then found, played, listened to, asked about, withdrawn, as a student would.
 */

let ts: TestSystem;
let browser: Browser;
let dir = '';
let lessonId = '';
let withdrawId = '';
let draftId = '';
const title = '分数的初步认识：几分之一';

/** Upload -> worker ladder -> approve -> publish on the portal, all through the API. */
async function publishRecording(file: string, body: Record<string, unknown>): Promise<string> {
  const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody(body) });
  const id = c.body.id as string;
  const up = await fetch(`${ts.url}/api/v1/lessons/${id}/media?filename=lesson.mp4`, {
    method: 'PUT', headers: { authorization: `Bearer ${ts.users.teacherA.token}`, 'content-type': 'video/mp4', 'content-length': String((await stat(file)).size) },
    body: createReadStream(file) as unknown as BodyInit, duplex: 'half',
  } as RequestInit);
  expect(up.status).toBe(202);
  const done = await eventually(async () => (await ts.api('GET', `/api/v1/lessons/${id}`, { token: ts.users.teacherA.token })).body, (d) => d.status === 'in_review' || d.status === 'failed', 300_000, 'processing');
  expect(done.status, JSON.stringify(done.processing)).toBe('in_review');
  expect((await ts.api('POST', `/api/v1/lessons/${id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } })).status).toBe(200);
  expect((await ts.api('POST', `/api/v1/lessons/${id}/publications`, { token: ts.users.operator.token, body: { channel: 'portal' } })).status).toBe(201);
  return id;
}

beforeAll(async () => {
  await ensureWebBuild();
  ts = await startTestSystem({ api: true, worker: true });
  dir = await mkdtemp(path.join(os.tmpdir(), 'classcast-pages-'));
  // 24 s at 960x540: a ladder with several video rungs and the audio-only rendition, long enough to
  // still be playing after a switch
  const clip = async (name: string, size: string): Promise<string> => {
    const file = path.join(dir, name);
    await runFfmpegCli(['-f', 'lavfi', '-t', '24', '-i', `testsrc2=size=${size}:rate=25`, '-f', 'lavfi', '-t', '24', '-i', 'sine=frequency=440:sample_rate=48000',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', file]);
    return file;
  };
  lessonId = await publishRecording(await clip('lesson.mp4', '960x540'), { title, description: '认识几分之一，会读写分数。<b>不是HTML</b>', subject: 'math', grade: 'g3' });
  // the lesson withdrawn while it plays needs no ladder of several rungs: 640x360 (360p, 240p, audio) is half the transcode
  withdrawId = await publishRecording(await clip('withdrawn.mp4', '640x360'), { title: '认识钟表', subject: 'chinese', grade: 'g1' });
  draftId = (await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ title: '未发布的课' }) })).body.id;
  browser = await launchChromium();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await ts?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('student pages in Chromium', () => {
  for (const size of sizes) {
    it(`when a student filters by 学段 and 学科 and searches in Chinese (${size}), then the lesson is found and plays`, async () => {
      const ctx = await newContext(browser, size);
      const page = await ctx.newPage();
      const errors = collectPageErrors(page);
      await page.goto(`${ts.url}/lessons`);
      await page.getByRole('group', { name: '学段' }).getByRole('button', { name: /小学/ }).click();
      await page.getByRole('group', { name: '年级' }).getByRole('button', { name: /三年级/ }).click();
      await page.getByRole('group', { name: '学科' }).getByRole('button', { name: /数学/ }).click();
      await expect.poll(() => page.url()).toContain('subject=math');
      expect(new URL(page.url()).searchParams.get('stage')).toBe('primary');
      const card = page.getByRole('link', { name: title });
      await card.waitFor();
      await expect.poll(() => page.getByRole('link', { name: '认识钟表' }).count()).toBe(0);
      await screenshot(page, 'browse-filtered', size);
      await card.click();
      await page.waitForURL(`**/lessons/${lessonId}`);
      await page.goBack();
      // back restores the filters (from the URL)
      await page.getByRole('link', { name: title }).waitFor();
      expect(await page.getByRole('group', { name: '学科' }).getByRole('button', { name: /数学/ }).getAttribute('aria-pressed')).toBe('true');

      await page.goto(`${ts.url}/`);
      await page.getByRole('searchbox', { name: '搜索课程' }).fill('几分之一');
      await page.getByRole('button', { name: '搜索', exact: true }).click();
      await page.waitForURL(/\/lessons\?q=/);
      await page.getByRole('link', { name: title }).click();
      await page.waitForURL(`**/lessons/${lessonId}`);
      await page.getByRole('heading', { level: 1, name: title }).waitFor();
      // the description is text: the tag shows as written, never as markup
      expect(await page.locator('.lesson__description').textContent()).toContain('<b>不是HTML</b>');
      const t = await playsOn(page, 2);
      expect(t).toBeGreaterThan(2);
      if (size === 'desktop') {
        // storyboard thumbnails over the seek bar, fetched through the gateway on first use
        const bar = page.locator('.seek-bar input');
        const box = (await bar.boundingBox())!;
        await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
        await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
        const thumb = page.locator('.seek-bar__thumb');
        await thumb.waitFor();
        expect(await thumb.evaluate((el) => getComputedStyle(el).backgroundImage)).toContain(`/play/${lessonId}/storyboard.jpg`);
        await screenshot(page, 'lesson-storyboard', size);
        await page.mouse.move(0, 0);
      }
      await screenshot(page, 'lesson-playing', size);
      expect(errors).toEqual([]);
      await ctx.close();
    });
  }

  it('when 仅声音 is chosen, then it keeps playing and fetches no further video segment', async () => {
    const ctx = await newContext(browser, 'phone');
    const page = await ctx.newPage();
    const master = await (await fetch(`${ts.url}/play/${lessonId}/master.m3u8`)).text();
    const lines = master.split('\n');
    const audioIdx = lines.findIndex((l) => l.startsWith('#EXT-X-STREAM-INF') && !l.includes('RESOLUTION='));
    expect(audioIdx).toBeGreaterThan(-1);
    const audioDir = lines[audioIdx + 1].trim().split('/')[0];
    let switched = false;
    const after: string[] = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (switched && u.pathname.startsWith(`/play/${lessonId}/`) && /\.(ts|m4s|mp4)$/.test(u.pathname)) after.push(u.pathname);
    });
    await page.goto(`${ts.url}/lessons/${lessonId}`);
    await playsOn(page, 1);
    switched = true;
    await page.getByRole('combobox', { name: '清晰度' }).selectOption({ label: '仅声音' });
    await page.getByText('仅声音模式').waitFor();
    await playsOn(page, 3);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((p) => !p.startsWith(`/play/${lessonId}/${audioDir}/`))).toEqual([]);
    await screenshot(page, 'lesson-audio-only', 'phone');
    await ctx.close();
  });

  it('when a question is asked from the page, then it is hidden until a teacher answers it through the API, then shown', async () => {
    const ctx = await newContext(browser, 'phone');
    const page = await ctx.newPage();
    await page.goto(`${ts.url}/qa`);
    await page.getByLabel('学段').first().selectOption('primary');
    await page.getByLabel('学科').first().selectOption('math');
    const text = '三分之一和四分之一哪个大？为什么？';
    const form = page.locator('form.ask-form');
    await form.getByLabel('学段').selectOption('primary');
    await form.getByLabel('学科').selectOption('math');
    await form.getByLabel('称呼').fill('小明<script>');
    await form.getByLabel('问题').fill(text);
    await form.getByRole('button', { name: '提交问题' }).click();
    await form.getByRole('status').filter({ hasText: '问题已提交' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: '已解答的问题', level: 2 }).waitFor();
    expect(await page.getByText(text).count()).toBe(0);

    const open = await ts.api('GET', '/api/v1/staff/questions?state=open', { token: ts.users.teacherA.token });
    const q = (open.body.items as { id: string; text: string }[]).find((i) => i.text === text)!;
    expect(q).toBeDefined();
    const answer = '通分后比较：4/12 > 3/12，所以三分之一大。';
    expect((await ts.api('POST', `/api/v1/questions/${q.id}/answers`, { token: ts.users.teacherA.token, body: { text: answer } })).status).toBe(201);
    await expect.poll(async () => {
      await page.reload();
      await page.getByRole('heading', { name: '已解答的问题', level: 2 }).waitFor();
      return page.getByText(answer).count();
    }, { timeout: 30_000, interval: 1000 }).toBe(1);
    expect(await page.getByText(text).count()).toBe(1);
    expect(await page.getByText('小明<script> 提问').count()).toBe(1);
    await screenshot(page, 'qa-answered', 'phone');
    await ctx.close();
  });

  it('when an unpublished lesson\'s page is opened, then the Chinese not-found page comes with HTTP 404', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${ts.url}/lessons/${draftId}`);
    expect(res?.status()).toBe(404);
    await page.getByRole('heading', { name: '没有找到这个页面' }).waitFor();
    expect(await page.locator('video').count()).toBe(0);
    await page.close();
  });

  it('when a lesson is withdrawn while it plays, then playback stops and the page says so', async () => {
    const ctx = await newContext(browser, 'desktop');
    const page = await ctx.newPage();
    await page.goto(`${ts.url}/lessons/${withdrawId}`);
    await playsOn(page, 1);
    expect((await ts.api('DELETE', `/api/v1/lessons/${withdrawId}/publications/portal`, { token: ts.users.operator.token })).status).toBeLessThan(300);
    await page.getByRole('alert').filter({ hasText: '这节课已下架' }).waitFor({ timeout: 60_000 });
    expect(await page.locator('video').count()).toBe(0);
    await screenshot(page, 'lesson-withdrawn', 'desktop');
    await ctx.close();
  });

  it('when every page is checked, then axe finds no serious or critical problem, and screenshots are taken at both sizes', async () => {
    const pages: [string, string][] = [
      ['home', '/'],
      ['browse', '/lessons'],
      ['search', `/lessons?q=${encodeURIComponent('分数')}`],
      ['lesson', `/lessons/${lessonId}`],
      ['qa', '/qa?stage=primary&subject=math'],
      ['not-found', `/lessons/${draftId}`],
    ];
    const problems: string[] = [];
    for (const size of sizes) {
      const ctx = await newContext(browser, size);
      for (const [name, p] of pages) {
        const page = await ctx.newPage();
        const errors = collectPageErrors(page);
        await page.goto(`${ts.url}${p}`);
        await page.locator('h1').first().waitFor();
        await page.waitForLoadState('networkidle', { timeout: 5000 }).catch(() => undefined);
        problems.push(...(await seriousA11yProblems(page)).map((v) => `${name}@${size}: ${v}`));
        problems.push(...errors.map((e) => `${name}@${size}: ${e}`));
        await screenshot(page, name, size);
        await page.close();
      }
      await ctx.close();
    }
    expect(problems).toEqual([]);
  }, 600_000);
});
