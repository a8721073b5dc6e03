import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { Worker } from 'bullmq';
import { ensureWebBuild } from '../../scripts/build-web.mjs';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';
import { collectPageErrors, launchChromium, newContext, screenshot, seriousA11yProblems, signIn, sizes } from '../helpers/browser.ts';
import { LiveWorkersStore } from '../../src/infra/live-workers.store.ts';
import { createRedis } from '../../src/infra/redis.ts';
import { jobIds, queueNames } from '../../src/jobs/job-types.ts';

/**
 * Live capacity in the consoles (issue 11 item 3), in Debian's Chromium: the operator's 直播容量 tab
 * (workers, slots, lessons on air transcoded or captured only with the reason, the windows of the next
 * 3 days over capacity) and the teacher's live panel saying why students get only the original
 * stream. One live worker with one slot is stood in for by its heartbeat and a job taken off the
 * queue; lessons go on air through the catalog as the ingest reports them.
 */

let ts: TestSystem;
let browser: Browser;
let taker: Worker | undefined;

const liveLesson = async (title: string, startMs: number, minutes = 40): Promise<string> => {
  const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ kind: 'live', type: 'live', title, scheduledStart: new Date(startMs).toISOString(), scheduledEnd: new Date(startMs + minutes * 60_000).toISOString() }) });
  await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } });
  return c.body.id;
};

beforeAll(async () => {
  await ensureWebBuild();
  ts = await startTestSystem({ api: true }, { LIVE_RECONNECT_WINDOW_S: '3600' });
  browser = await launchChromium();
  const now = Date.now() - 60_000;
  const ids = [await liveLesson('直播：分数的意义', now), await liveLesson('直播：认识钟表', now), await liveLesson('直播：古诗两首', now)];
  const sessions = [];
  for (const id of ids) sessions.push((await ts.sys.services.live.onPublishStart(id))!.sessionId);
  // the only live worker (one slot) carries the first; the others wait behind it
  taker = new Worker(queueNames.live, null, { connection: createRedis(ts.sys.redisUrl, { forBullmq: true }), prefix: ts.sys.config.QUEUE_PREFIX });
  expect((await taker.getNextJob('console-test'))?.id).toBe(jobIds.live(sessions[0]));
  await new LiveWorkersStore(ts.sys.redis, ts.sys.config.QUEUE_PREFIX).beat({
    workerId: 'live-1', host: 'live-1.school.lan', pid: 4242, slots: 1, startedAt: Date.now(), at: Date.now(),
    sessions: [{ sessionId: sessions[0], lessonId: ids[0], since: Date.now(), state: 'transcoding' }],
  }, 600);
  // the first lesson's encoder dropped: it waits for a reconnect (its transcoder keeps the slot)
  await ts.sys.services.live.onPublisherLost(ids[0]);
  // tomorrow 10:00 (Beijing) two lessons at once for one slot
  const tomorrow = Math.floor((Date.now() + 86_400_000) / 86_400_000) * 86_400_000 + 2 * 3600_000;
  await liveLesson('明日直播：光的折射', tomorrow);
  await liveLesson('明日直播：化学方程式', tomorrow + 10 * 60_000);
}, 300_000);

afterAll(async () => {
  await taker?.close();
  await browser?.close();
  await ts?.stop();
});

describe('live capacity in the consoles', () => {
  it.each(sizes)('when the operator opens 直播容量 (%s), then the fleet, each lesson on air with its reason and the windows over capacity show', async (size) => {
    const ctx = await newContext(browser, size);
    const page = await signIn(ctx, ts.url, ts.users.operator, '/ops');
    const errors = collectPageErrors(page);
    await page.getByRole('button', { name: '直播容量', exact: true }).click();
    const now = page.locator('[data-testid="capacity-now"]');
    await now.getByText('已用 1 / 共 1').waitFor();
    await expect(now.getByText('3 节（转码 1 节，仅原画质 2 节）').count()).resolves.toBe(1);
    const item = (title: string) => page.locator('[data-testid="capacity-session"]', { hasText: title });
    await expect(item('直播：分数的意义').getByText('已转码').count()).resolves.toBe(1);
    await expect(item('直播：分数的意义').getByText('信号中断，等待重连', { exact: false }).count()).resolves.toBe(1);
    await expect(item('直播：认识钟表').getByText('转码名额已满，排队中（下一个就轮到）').count()).resolves.toBe(1);
    await expect(item('直播：古诗两首').getByText('转码名额已满，排队中（前面还有 1 节课）').count()).resolves.toBe(1);
    await now.getByText('live-1.school.lan（进程 4242）· 已用 1 / 1').waitFor();
    const window = page.locator('[data-testid="capacity-window"]', { hasText: '明日直播：光的折射' });
    await window.getByText('同时 2 节 · 容量 1 · 缺 1 个名额').waitFor();
    await expect(window.getByText('明日直播：化学方程式').count()).resolves.toBe(1);
    await screenshot(page, 'console-ops-capacity', size);
    expect(await seriousA11yProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('when the teacher\'s lesson waits for a transcoder, then the live panel says students get only the original stream and how many lessons are ahead', async () => {
    const ctx = await newContext(browser, 'phone');
    const page = await signIn(ctx, ts.url, ts.users.teacherA, '/teach');
    const errors = collectPageErrors(page);
    const item = page.locator('[data-testid="lesson-item"]', { hasText: '直播：古诗两首' });
    await item.getByRole('button', { name: '直播推流' }).click();
    await item.locator('[data-testid="transcode-note"]', { hasText: '学生目前只能看到原画质，转码服务器繁忙（前面还有 1 节课）。' }).waitFor({ timeout: 15_000 });
    await screenshot(page, 'console-teach-capture-only', 'phone');
    expect(await seriousA11yProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
