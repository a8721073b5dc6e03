import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ensureWebBuild } from '../../scripts/build-web.mjs';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';
import { runFfmpegCli } from '../helpers/media.ts';
import { startPublisher, stopAllFfmpeg } from '../helpers/ffmpeg-rtmp.ts';
import { collectPageErrors, launchChromium, newContext, screenshot, seriousA11yProblems, signIn, sizes, type ViewportName } from '../helpers/browser.ts';
import { eventually } from '../helpers/wait.ts';

/**
 * The staff consoles in Debian's Chromium against a whole system (API, worker with ffmpeg, RTMP
 * ingest, S3 server, PostgreSQL, Redis): a teacher uploads through the page, the reviewer approves
 * from the preview, the operator publishes, a student plays; a live lesson is watched and stopped; a
 * teacher's session opens no other console and no other site can use it.
 */

let ts: TestSystem;
let browser: Browser;
let dir = '';
let clip = '';
let bigClip = '';
let recordedId = '';
let evil: http.Server | undefined;
let evilUrl = '';
const title = '分数的初步认识（网页上传）';

const lessonOf = async (id: string) => (await ts.api('GET', `/api/v1/lessons/${id}`, { token: ts.users.operator.token })).body;

/**
 * The preview's storyboard strip fits its width: no tile spills or scrolls sideways, each tile is its
 * sprite cell scaled (background size and offset in step with the tile's width), and a tap seeks.
 */
async function expectStripFits(item: import('playwright-core').Locator, size: ViewportName): Promise<void> {
  const strip = item.locator('[data-testid="storyboard-strip"]');
  await strip.locator('button').first().waitFor({ timeout: 60_000 });
  const m = await strip.evaluate(async (el) => {
    const box = el.getBoundingClientRect();
    const tiles = [...el.querySelectorAll<HTMLElement>('.storyboard__image')];
    const url = /url\("?(.*?)"?\)/.exec(getComputedStyle(tiles[0]).backgroundImage)![1];
    const img = new Image();
    img.src = url;
    await img.decode();
    return {
      width: box.width, scrollWidth: el.scrollWidth, clientWidth: el.clientWidth, natural: [img.naturalWidth, img.naturalHeight],
      tiles: tiles.map((t) => {
        const r = t.getBoundingClientRect();
        const cs = getComputedStyle(t);
        return { left: r.left - box.left, right: r.right - box.left, w: r.width, h: r.height, cell: t.dataset.cell!.split(',').map(Number), size: cs.backgroundSize, pos: cs.backgroundPosition };
      }),
    };
  });
  expect(m.scrollWidth, `${size}: the strip scrolls sideways`).toBeLessThanOrEqual(m.clientWidth);
  expect(m.tiles.length).toBeGreaterThan(2);
  for (const t of m.tiles) {
    const [x, y, cw, ch] = t.cell;
    expect(t.left, size).toBeGreaterThanOrEqual(-0.5);
    expect(t.right, size).toBeLessThanOrEqual(m.width + 0.5);
    expect(t.w, `${size}: tile scaled below the sprite's ${cw} px`).toBeLessThan(cw);
    expect(t.w).toBeGreaterThanOrEqual(60);
    expect(Math.abs(t.w / t.h - cw / ch)).toBeLessThan(0.05);
    // the sprite drawn at the tile's scale, offset to the tile's cell
    const scale = t.w / cw;
    expect(t.size).toMatch(/^[\d.]+% [\d.]+%$/);
    const [bx, by] = t.size.split(' ').map(parseFloat);
    const sw = (bx / 100) * t.w;
    const sh = (by / 100) * t.h;
    expect(Math.abs(sw - m.natural[0] * scale)).toBeLessThan(1);
    expect(Math.abs(sh - m.natural[1] * scale)).toBeLessThan(1);
    const [px, py] = t.pos.split(' ').map(parseFloat);
    expect(Math.abs(((t.w - sw) * px) / 100 + x * scale)).toBeLessThan(1);
    expect(Math.abs(((t.h - sh) * py) / 100 + y * scale)).toBeLessThan(1);
  }
  // a tap on the third tile seeks the preview to its time
  const tile = strip.locator('button').nth(2);
  const [mm, ss] = ((await tile.getAttribute('aria-label')) ?? '').split(':').map(Number);
  const at = mm * 60 + ss;
  expect(at).toBeGreaterThan(0);
  await item.page().waitForFunction(() => (document.querySelector('.review-preview video') as HTMLVideoElement | null)?.readyState! >= 1, undefined, { timeout: 60_000, polling: 100 });
  await tile.click();
  await item.page().waitForFunction((s) => Math.abs(((document.querySelector('.review-preview video') as HTMLVideoElement).currentTime) - s) < 1, at, { timeout: 10_000, polling: 100 });
}

beforeAll(async () => {
  await ensureWebBuild();
  ts = await startTestSystem({ api: true, worker: true, ingest: true });
  dir = await mkdtemp(path.join(os.tmpdir(), 'classcast-consoles-'));
  clip = path.join(dir, 'lesson.mp4');
  await runFfmpegCli(['-f', 'lavfi', '-t', '12', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-t', '12', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', clip]);
  // three 16 MiB upload parts (noise does not compress): an upload that can be cut between parts
  bigClip = path.join(dir, 'long.mp4');
  await runFfmpegCli(['-f', 'lavfi', '-t', '4', '-i', "nullsrc=s=640x360:r=25,geq=lum='random(1)*255':cb=128:cr=128", '-f', 'lavfi', '-t', '4', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', bigClip]);
  browser = await launchChromium();
  // another site: a page whose form posts to the API
  evil = http.createServer((req, res) => {
    const target = decodeURIComponent((req.url ?? '/').slice(1));
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><form id="f" method="post" action="${target}"><input name="decision" value="approve"></form><script>document.getElementById('f').submit()</script>`);
  });
  await new Promise<void>((r) => evil!.listen(0, '127.0.0.1', () => r()));
  evilUrl = `http://127.0.0.1:${(evil.address() as import('node:net').AddressInfo).port}`;
}, 600_000);

afterAll(async () => {
  await stopAllFfmpeg();
  await browser?.close();
  await new Promise((r) => (evil ? evil.close(r) : r(undefined)));
  await ts?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('staff consoles in Chromium', () => {
  it('when a teacher signs in on a phone, creates a lesson and uploads a clip through the page, then it reaches 待审核 without a reload', async () => {
    const ctx = await newContext(browser, 'phone');
    const page = await signIn(ctx, ts.url, ts.users.teacherA, '/teach');
    const errors = collectPageErrors(page);
    await page.getByRole('button', { name: '新建课程' }).click();
    await page.locator('input[name="title"]').fill(title);
    await page.locator('textarea[name="description"]').fill('认识几分之一。<b>不是HTML</b>');
    await page.locator('select[name="stage"]').selectOption('primary');
    await page.locator('select[name="grade"]').selectOption('g3');
    await page.locator('select[name="subject"]').selectOption('math');
    await page.locator('select[name="type"]').selectOption('recorded');
    await page.locator('select[name="edition"]').selectOption('pep');
    await page.getByRole('button', { name: '创建课程' }).click();
    const item = page.locator('[data-testid="lesson-item"]', { hasText: title });
    await item.waitFor();
    await item.getByRole('button', { name: '上传视频' }).click();
    await item.locator('input[name="media"]').setInputFiles(clip);
    await item.locator('[data-testid="lesson-status"]', { hasText: '待审核' }).waitFor({ timeout: 300_000 });
    recordedId = (await ts.api('GET', '/api/v1/staff/lessons', { token: ts.users.teacherA.token })).body.items.find((l: { title: string }) => l.title === title).id;
    expect((await lessonOf(recordedId)).status).toBe('in_review');
    // user text is text
    expect(await page.locator('b', { hasText: '不是HTML' }).count()).toBe(0);
    await screenshot(page, 'console-teach', 'phone');
    expect(await seriousA11yProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
    await ctx.close();
  }, 600_000);

  it('when the browser goes offline during an upload, then the upload resumes from the parts received and finishes', async () => {
    const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ title: '断网续传' }) });
    const ctx = await newContext(browser, 'desktop');
    const page = await signIn(ctx, ts.url, ts.users.teacherA, '/teach');
    const item = page.locator('[data-testid="lesson-item"]', { hasText: '断网续传' });
    await item.getByRole('button', { name: '上传视频' }).click();
    // the connection drops just as part 2 leaves (a local server takes all parts faster than a test could cut them)
    let cut = false;
    await page.route('**/parts/2', async (route) => {
      if (cut) return route.continue();
      cut = true;
      await ctx.setOffline(true);
      await route.abort('internetdisconnected');
    });
    await item.locator('input[name="media"]').setInputFiles(bigClip);
    await item.getByText('网络中断，恢复后自动继续…').waitFor({ timeout: 60_000 });
    const received = await ts.sys.db.query<{ n: number }>('SELECT count(*)::int n FROM upload_parts p JOIN uploads u ON u.id = p.upload_id WHERE u.lesson_id = $1', [c.body.id]);
    expect(Number(received[0].n)).toBeGreaterThanOrEqual(1);
    await ctx.setOffline(false);
    await eventually(() => lessonOf(c.body.id), (l) => ['processing', 'in_review', 'failed'].includes(l.status), 120_000, 'the upload to complete');
    const parts = await ts.sys.db.query<{ part_number: number }>('SELECT part_number FROM upload_parts p JOIN uploads u ON u.id = p.upload_id WHERE u.lesson_id = $1 ORDER BY part_number', [c.body.id]);
    expect(parts.map((p) => p.part_number)).toEqual([1, 2, 3]);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('classcast:upload:')))).toEqual([]);
    await ctx.close();
  }, 300_000);

  it('when the reviewer previews the lesson and approves it, the operator publishes it to portal and cable, then the student page plays it', async () => {
    expect(recordedId).not.toBe('');
    const ctx = await newContext(browser, 'desktop');
    const page = await signIn(ctx, ts.url, ts.users.reviewerA, '/review');
    const errors = collectPageErrors(page);
    const item = page.locator('[data-testid="queue-item"]', { hasText: title });
    await item.getByRole('button', { name: '预览' }).click();
    await item.locator('video').waitFor();
    await expectStripFits(item, 'desktop');
    await screenshot(page, 'console-review', 'desktop');
    expect(await seriousA11yProblems(page)).toEqual([]);
    {
      const phoneCtx = await newContext(browser, 'phone');
      const phone = await signIn(phoneCtx, ts.url, ts.users.reviewerA, '/review');
      const onPhone = phone.locator('[data-testid="queue-item"]', { hasText: title });
      await onPhone.getByRole('button', { name: '预览' }).click();
      await expectStripFits(onPhone, 'phone');
      await screenshot(phone, 'console-review', 'phone');
      expect(await seriousA11yProblems(phone)).toEqual([]);
      await phoneCtx.close();
    }
    await item.getByRole('button', { name: '通过', exact: true }).click();
    await eventually(() => lessonOf(recordedId), (l) => l.status === 'approved', 30_000, 'approval');
    expect(errors).toEqual([]);

    const opsCtx = await newContext(browser, 'phone');
    const ops = await signIn(opsCtx, ts.url, ts.users.operator, '/ops');
    const pub = ops.locator('[data-testid="publish-item"]', { hasText: title });
    await pub.getByRole('button', { name: '发布到网站' }).click();
    await pub.getByRole('button', { name: '下架（网站）' }).waitFor();
    await pub.getByRole('button', { name: '发布到有线电视' }).click();
    await pub.getByRole('button', { name: '下架（有线电视）' }).waitFor();
    const published = (await lessonOf(recordedId)).published.filter((p: { state: string }) => p.state === 'published').map((p: { channel: string }) => p.channel);
    expect(published.sort()).toEqual(['cable', 'portal']);
    await screenshot(ops, 'console-ops', 'phone');
    expect(await seriousA11yProblems(ops)).toEqual([]);

    const student = await (await newContext(browser, 'phone')).newPage();
    await student.goto(`${ts.url}/lessons/${recordedId}`);
    const video = student.locator('video');
    await video.waitFor();
    await student.evaluate(() => void document.querySelector('video')?.play().catch(() => undefined));
    await student.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 1, undefined, { timeout: 90_000, polling: 250 });
    await ctx.close();
    await opsCtx.close();
  });

  it('when the operator opens the cable packages and the audit log, then states and actions read in Chinese, never as codes', async () => {
    expect(recordedId).not.toBe('');
    const ctx = await newContext(browser, 'phone');
    const page = await signIn(ctx, ts.url, ts.users.operator, '/ops');
    const errors = collectPageErrors(page);
    await page.getByRole('button', { name: '有线电视', exact: true }).click();
    const states = page.locator('[data-testid="cable-state"]');
    await states.first().waitFor();
    const shown = await states.allTextContents();
    expect(shown.length).toBeGreaterThan(0);
    for (const s of shown) expect(s).toMatch(/^(正在制作|已送达有线电视|制作失败|已撤下)$/);
    expect(await page.locator('main').innerText()).not.toMatch(/\b(packaging|delivered|deliver|withdrawn)\b/);

    await page.getByRole('button', { name: '操作日志', exact: true }).click();
    await page.locator('[data-testid="audit-table"]').waitFor();
    const actions = await page.locator('[data-testid="audit-action"]').allTextContents();
    expect(actions.length).toBeGreaterThan(3);
    // the worker's transcode result and the operator's publications of this test are among them
    expect(actions.some((a) => a.startsWith('处理完成'))).toBe(true);
    expect(actions.some((a) => a.startsWith('发布'))).toBe(true);
    expect(actions.filter((a) => /[a-z]+_[a-z]+|[A-Za-z]{3,}/.test(a))).toEqual([]);
    const actors = await page.locator('[data-testid="audit-table"] td[data-label="操作人"]').allTextContents();
    expect(actors.filter((a) => /^(worker|system|ingest|operator:|teacher:|reviewer:)/.test(a))).toEqual([]);
    // filtering by what was done: a Chinese choice, the code underneath
    await page.locator('select[name="action"]').selectOption({ label: '处理完成' });
    await page.getByRole('button', { name: '筛选', exact: true }).click();
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="audit-action"]')].every((td) => td.textContent?.startsWith('处理完成')), undefined, { polling: 100 });
    await screenshot(page, 'console-ops-audit', 'phone');
    expect(await seriousA11yProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('when a teacher goes live with an encoder, then the page shows the stream connected; the reviewer stops it from the console', async () => {
    const start = Date.now() - 60_000;
    const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ kind: 'live', type: 'live', title: '直播：认识钟表', scheduledStart: new Date(start).toISOString(), scheduledEnd: new Date(start + 3_600_000).toISOString() }) });
    await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } });
    const ctx = await newContext(browser, 'phone');
    const page = await signIn(ctx, ts.url, ts.users.teacherA, '/teach');
    const item = page.locator('[data-testid="lesson-item"]', { hasText: '直播：认识钟表' });
    await item.getByRole('button', { name: '直播推流' }).click();
    await item.getByRole('button', { name: '显示 OBS 设置' }).click();
    const key = (await item.locator('[data-testid="stream-key"]').textContent()) ?? '';
    expect(key).toContain(c.body.id);
    const rtmp = `rtmp://127.0.0.1:${ts.sys.ingest!.port}/live/${key}`;
    const pub = startPublisher(rtmp, { gop: 125, durationS: 120 });
    await item.locator('[data-testid="live-connected"]', { hasText: '已连接' }).waitFor({ timeout: 60_000 });
    await item.getByText('关键帧间隔请设为 2 秒。').waitFor({ timeout: 60_000 });
    await screenshot(page, 'console-teach-live', 'phone');
    expect(await seriousA11yProblems(page)).toEqual([]);

    const rctx = await newContext(browser, 'phone');
    const review = await signIn(rctx, ts.url, ts.users.reviewerA, '/review');
    await review.getByRole('button', { name: '直播中', exact: true }).click();
    const onAir = review.locator('[data-testid="onair-item"]', { hasText: '直播：认识钟表' });
    await onAir.getByRole('button', { name: '停止直播' }).click();
    const exit = await Promise.race([pub.exited, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
    expect(exit, 'the publisher was cut off').not.toBeNull();
    await item.locator('[data-testid="live-connected"]', { hasText: '已停止' }).waitFor({ timeout: 30_000 });
    await ctx.close();
    await rctx.close();
  });

  it('when the school\'s reviewer keeps a timetable, then the teacher\'s timetable tab lists its entries with their states and the late reason', async () => {
    // the week (Monday, Beijing) of a release two hours from now: less than 3 days ahead, so publishing is late
    const at = Date.now() + 2 * 3_600_000;
    const bj = new Date(at + 8 * 3_600_000);
    const weekStart = new Date(bj.getTime() - ((bj.getUTCDay() + 6) % 7) * 86_400_000).toISOString().slice(0, 10);
    const reviewer = { token: ts.users.reviewerA.token };
    const mine = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ title: '课表：认识人民币' }) });
    const other = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA2.token, body: lessonBody({ title: '课表：年月日' }) });
    const tt = await ts.api('POST', '/api/v1/timetables', { ...reviewer, body: { scope: 'school', weekStart, title: '三年级数学' } });
    expect(tt.status).toBe(201);
    const add = (lessonId: string, startsAt: number, note: string) => ts.api('POST', `/api/v1/timetables/${tt.body.id}/entries`, { ...reviewer, body: { lessonId, startsAt: new Date(startsAt).toISOString(), audience: '三年级', note } });
    expect((await add(mine.body.id, at, '请提前预习')).status).toBe(201);
    const published = await ts.api('POST', `/api/v1/timetables/${tt.body.id}/publish`, { ...reviewer, body: { lateReason: '教研调整，周末才定下' } });
    expect(published.status).toBe(201);
    // added after publication: the teacher sees it as not yet announced
    expect((await add(other.body.id, at + 60_000, '')).status).toBe(201);

    const ctx = await newContext(browser, 'phone');
    const page = await signIn(ctx, ts.url, ts.users.teacherA, '/teach');
    const errors = collectPageErrors(page);
    await page.getByRole('button', { name: '本校课表', exact: true }).click();
    const week = page.locator('[data-testid="timetable-week"]', { hasText: '三年级数学' });
    await week.waitFor();
    await expect(week.locator('[data-testid="timetable-status"]').textContent()).resolves.toBe('已公布 · 第 1 版');
    await expect(week.locator('[data-testid="late-reason"]').textContent()).resolves.toContain('教研调整，周末才定下');
    const first = week.locator('[data-testid="timetable-entry"]', { hasText: '课表：认识人民币' });
    await expect(first.locator('[data-testid="entry-state"]').textContent()).resolves.toBe('按时上课');
    await first.getByText('我的课').waitFor();
    await first.getByText('请提前预习').waitFor();
    const second = week.locator('[data-testid="timetable-entry"]', { hasText: '课表：年月日' });
    await expect(second.locator('[data-testid="entry-state"]').textContent()).resolves.toBe('未公布');
    // neither lesson is on the public schedule (recorded, not approved): the tab reads the timetables
    const pub = await ts.api('GET', `/api/v1/schedule?school=${ts.schools.A}`);
    expect(JSON.stringify(pub.body)).not.toContain('课表：认识人民币');
    await screenshot(page, 'console-teach-timetable', 'phone');
    expect(await seriousA11yProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('when a teacher\'s session opens the operator console, then it gets the login page and no data', async () => {
    const ctx = await newContext(browser, 'desktop');
    const page = await signIn(ctx, ts.url, ts.users.teacherA, '/teach');
    const seen: string[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/api/v1/') && r.status() === 200) seen.push(new URL(r.url()).pathname);
    });
    await page.goto(`${ts.url}/ops`);
    await page.waitForURL(/\/login\?/);
    await page.getByText('当前账号无权打开这个工作台，请用对应的账号登录。').waitFor();
    expect(seen.filter((p) => p !== '/api/v1/auth/me')).toEqual([]);
    const audit = await page.evaluate(async () => (await fetch('/api/v1/audit')).status);
    expect(audit).toBe(403);
    await ctx.close();
  });

  it('when a session expires, then the console returns to the login and, after signing in again, to where the person was', async () => {
    const ctx = await newContext(browser, 'phone');
    const page = await signIn(ctx, ts.url, ts.users.reviewerA, '/review');
    await ts.sys.db.query("UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND label = 'login'", [ts.users.reviewerA.id]);
    await page.goto(`${ts.url}/review?tab=edits`);
    await page.waitForURL(/\/login\?.*reason=expired/);
    await page.getByText('登录已过期，请重新登录。').waitFor();
    await page.locator('input[name="username"]').fill(ts.users.reviewerA.username);
    await page.locator('input[name="password"]').fill(ts.users.reviewerA.password);
    await page.getByRole('button', { name: '登录', exact: true }).click();
    await page.waitForURL(`${ts.url}/review?tab=edits`);
    await ctx.close();
  });

  it('when another site posts a form carrying the reviewer\'s cookie, then it is refused and nothing changes', async () => {
    const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ kind: 'live', type: 'live', title: '伪造请求', scheduledStart: new Date(Date.now() + 86_400_000).toISOString(), scheduledEnd: new Date(Date.now() + 90_000_000).toISOString() }) });
    const ctx = await newContext(browser, 'desktop');
    await signIn(ctx, ts.url, ts.users.reviewerA, '/review');
    const page = await ctx.newPage();
    const answer = page.waitForResponse((r) => r.url().includes(`/api/v1/lessons/${c.body.id}/review`));
    await page.goto(`${evilUrl}/${encodeURIComponent(`${ts.url}/api/v1/lessons/${c.body.id}/review`)}`);
    const r = await answer;
    // same host, another port: the browser does send the SameSite cookie, so the server must refuse it
    expect((await r.request().allHeaders()).cookie ?? '').toContain('cc_session=');
    expect(r.status()).toBe(403);
    expect((await lessonOf(c.body.id)).status).toBe('scheduled');
    await ctx.close();
  });

  it.each(sizes)('when every tab of every console and the login are opened at %s size, then nothing spills sideways, no code shows, axe finds nothing serious and screenshots are written', async (size) => {
    const ctx = await newContext(browser, size);
    const login = await ctx.newPage();
    await login.goto(`${ts.url}/login`);
    await login.locator('input[name="username"]').waitFor();
    await screenshot(login, 'console-login', size);
    expect(await seriousA11yProblems(login), `login ${size}`).toEqual([]);
    await ctx.close();
    const consoles = [
      [ts.users.teacherA, '/teach', 'teach', ['我的课程', '新建课程', '待答问题', '本校课表']],
      [ts.users.reviewerA, '/review', 'review', ['待审核', '待审修改', '直播中', '审核记录']],
      [ts.users.operator, '/ops', 'ops', ['发布', '有线电视', '操作日志', '分类', '课表迟交', '直播容量']],
      [ts.users.admin, '/ops', 'admin', ['学校', '用户']],
    ] as const;
    for (const [u, landing, name, tabs] of consoles) {
      const c2 = await newContext(browser, size);
      const p = await signIn(c2, ts.url, u, landing);
      const errors = collectPageErrors(p);
      await p.locator('.tabs').waitFor();
      for (const [i, tab] of tabs.entries()) {
        const where = `${name} ${tab} ${size}`;
        await p.locator('.tabs').getByRole('button', { name: tab, exact: true }).click();
        await p.waitForLoadState('networkidle');
        await p.waitForFunction(() => !document.querySelector('main')?.textContent?.includes('正在加载…'), undefined, { timeout: 30_000, polling: 100 });
        const seen = await p.evaluate(() => {
          const main = document.querySelector('main')!.cloneNode(true) as HTMLElement;
          // ids, user names and services' own English are data, not words for people
          main.querySelectorAll('.log__id, [lang="en"], .secret, input, textarea').forEach((e) => e.remove());
          return { text: main.textContent ?? '', spill: document.documentElement.scrollWidth - window.innerWidth };
        });
        expect(seen.spill, `${where}: the page scrolls sideways`).toBeLessThanOrEqual(0);
        expect(seen.text.match(/\b[a-z]+(_[a-z]+)+\b/g) ?? [], `${where}: codes on screen`).toEqual([]);
        await screenshot(p, `console-${name}-${i}`, size);
        expect(await seriousA11yProblems(p), where).toEqual([]);
      }
      expect(errors).toEqual([]);
      await c2.close();
    }
  }, 600_000);
});
