import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ensureWebBuild } from '../../scripts/build-web.mjs';
import { startTestSystem, type TestSystem } from '../helpers/system.ts';
import { approvedLiveLesson } from '../helpers/live-lesson.ts';
import { startPublisher, stopAllFfmpeg } from '../helpers/ffmpeg-rtmp.ts';
import { collectPageErrors, launchChromium, newContext, screenshot, seriousA11yProblems } from '../helpers/browser.ts';

/**
 * A live lesson from a real RTMP publisher (ffmpeg, as OBS would send it) through the ingest, a live
 * worker's ladder and the gateway, watched on the student pages in Chromium.
 */

let ts: TestSystem;
let browser: Browser;

beforeAll(async () => {
  await ensureWebBuild();
  ts = await startTestSystem({ api: true, ingest: true, worker: true }, { LIVE_LADDER: '360p', RTMP_IDLE_TIMEOUT_S: '5' });
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await stopAllFfmpeg();
  await browser?.close();
  await ts?.stop();
});

describe('a live lesson on the student pages', () => {
  it('when a teacher goes on air from an RTMP publisher, then the lesson is under 直播中 on the home page and plays with its delay shown', async () => {
    const title = '直播：认识钟表';
    const { id, url, streamKey } = await approvedLiveLesson(ts, title);
    startPublisher(url, { size: '640x360', durationS: 180 });

    const ctx = await newContext(browser, 'phone');
    const page = await ctx.newPage();
    const errors = collectPageErrors(page);
    // the home page lists it under 直播中 once the session is on air
    await expect.poll(async () => {
      await page.goto(`${ts.url}/`);
      const section = page.locator('section', { has: page.getByRole('heading', { name: '直播中' }) });
      await section.locator('p, ul').first().waitFor();
      return section.getByRole('link', { name: title }).count();
    }, { timeout: 60_000, interval: 1000 }).toBe(1);
    await screenshot(page, 'home-on-air', 'phone');
    expect(await seriousA11yProblems(page)).toEqual([]);
    await page.locator('section', { has: page.getByRole('heading', { name: '直播中' }) }).getByRole('link', { name: title }).click();
    await page.waitForURL(`**/lessons/${id}`);
    // the live rungs come a few segments after the publisher starts: the page waits for them by itself
    await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 2, undefined, { timeout: 120_000, polling: 250 });
    const t0 = await page.locator('video').evaluate((v: HTMLVideoElement) => v.currentTime);
    await page.waitForFunction((t0) => (document.querySelector('video')?.currentTime ?? 0) > t0 + 2, t0, { timeout: 60_000, polling: 250 });
    await page.locator('.player__live .live-badge').waitFor();
    await page.getByText(/延迟约 \d+ 秒/).waitFor({ timeout: 30_000 });
    await screenshot(page, 'lesson-live', 'phone');
    // the stream key never reaches a page
    expect(await page.content()).not.toContain(streamKey.split('?key=')[1]);
    expect(errors).toEqual([]);
    await ctx.close();
  }, 400_000);
});
