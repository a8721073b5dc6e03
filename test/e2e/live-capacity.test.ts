import { describe, expect, it } from 'vitest';
import { startPublisher } from '../helpers/ffmpeg-rtmp.ts';
import { collectPageErrors, newContext, playerNotes, playsOn, screenshot, seriousA11yProblems, sizes, useBrowser } from '../helpers/browser.ts';
import { approvedLiveLesson, useLiveSystem } from '../helpers/live-lesson.ts';
import { eventually } from '../helpers/fleet.ts';

/**
 * The true reason a lesson has no transcoder, end to end (issue 11 item 3): one live worker with one
 * slot (LIVE_CONCURRENCY=1), two real RTMP publishers. The first lesson takes the slot; the second is
 * captured only and its teacher's live status says every live slot is busy; its students, in Chromium,
 * play the captured source with a note that the other qualities come later. The first lesson, with its ladder,
 * is also what a student finds under 直播中 on the home page and watches with its delay shown. Set-up as
 * in live-capture.test.ts (640x360 sources, 360p ladder).
 */

describe('two publishers and one live slot', () => {
  const ts = useLiveSystem({ LIVE_CONCURRENCY: '1' }, { keepPublishers: true });
  const browser = useBrowser();
  const liveLesson = (title: string) => approvedLiveLesson(ts, title);
  const transcode = async (id: string) => (await ts.api('GET', `/api/v1/lessons/${id}/live/status`, { token: ts.users.teacherA.token })).body.transcode;
  // set by the first case, watched by the students of the others
  let a: Awaited<ReturnType<typeof approvedLiveLesson>>;
  let b: Awaited<ReturnType<typeof approvedLiveLesson>>;

  it('when a second lesson goes on air while the only live slot is busy, then its teacher is told it is captured only because every slot is busy', async () => {
    a = await liveLesson('容量直播一');
    b = await liveLesson('容量直播二');
    // both long enough for the students of the later cases (stopped after the file)
    startPublisher(a.url, { size: '640x360', durationS: 180 });
    await eventually(() => transcode(a.id).then((t) => t?.transcoded === true), 60_000, 'the first lesson on the only slot');
    startPublisher(b.url, { size: '640x360', durationS: 180 });
    const second = await eventually(() => transcode(b.id).then((t) => t?.reason === 'slots_busy' && t), 60_000, 'the second lesson captured only');
    expect(second).toEqual({ transcoded: false, reason: 'slots_busy', ahead: 0, sourceProblem: null });
    const snap = (await ts.api('GET', '/api/v1/ops/capacity', { token: ts.users.operator.token })).body;
    expect(snap.slots).toEqual({ total: 1, used: 1, free: 0 });
    expect(snap.sessions).toMatchObject({ onAir: 2, transcoded: 1, captureOnly: 1 });
  }, 240_000);

  it('when a lesson is on air with its ladder, then it is under 直播中 on the home page and plays with its delay shown', async () => {
    const ctx = await newContext(browser(), 'phone');
    const page = await ctx.newPage();
    const errors = collectPageErrors(page);
    const onAir = page.locator('section', { has: page.getByRole('heading', { name: '直播中' }) });
    // the home page lists it under 直播中 once the session is on air
    await expect.poll(async () => {
      await page.goto(`${ts.url}/`);
      await onAir.locator('p, ul').first().waitFor();
      return onAir.getByRole('link', { name: '容量直播一' }).count();
    }, { timeout: 60_000, interval: 1000 }).toBe(1);
    await screenshot(page, 'home-on-air', 'phone');
    expect(await seriousA11yProblems(page)).toEqual([]);
    await onAir.getByRole('link', { name: '容量直播一' }).click();
    await page.waitForURL(`**/lessons/${a.id}`);
    await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 2, undefined, { timeout: 120_000, polling: 250 });
    await playsOn(page, 2, 60_000);
    await page.locator('.player__live .live-badge').waitFor();
    await page.getByText(/延迟约 \d+ 秒/).waitFor({ timeout: 30_000 });
    await screenshot(page, 'lesson-live', 'phone');
    // the stream key never reaches a page
    expect(await page.content()).not.toContain(a.streamKey.split('?key=')[1]);
    expect(errors).toEqual([]);
    await ctx.close();
  }, 240_000);

  it('when a student watches the lesson captured only, then it plays at the original quality with no rungs on offer and a note that says so (the ladder joining the open page: live-refill.test.ts)', async () => {
    for (const size of sizes) {
      const ctx = await newContext(browser(), size);
      const page = await ctx.newPage();
      const errors = collectPageErrors(page);
      await page.goto(`${ts.url}/lessons/${b.id}`);
      await playsOn(page, 2, 60_000);
      // pictures, not only time: the source's frames are decoded
      expect(await page.locator('video').evaluate((v: HTMLVideoElement) => v.getVideoPlaybackQuality().totalVideoFrames)).toBeGreaterThan(0);
      await page.getByText(playerNotes.sourceOnly).waitFor();
      // the capture is one rendition: no quality menu with rungs that are not there
      expect(await page.locator('.quality-menu').count()).toBe(0);
      await screenshot(page, 'lesson-live-source-only', size);
      expect(await seriousA11yProblems(page)).toEqual([]);
      expect(errors).toEqual([]);
      await ctx.close();
    }
  }, 240_000);
});
