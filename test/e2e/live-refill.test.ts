import { describe, expect, it } from 'vitest';
import { approvedLiveLesson, eventually, liveReaders, useLiveSystem } from '../helpers/live-lesson.ts';
import { startPublisher } from '../helpers/ffmpeg-rtmp.ts';
import { collectPageErrors, newContext, playerNotes, playsOn, screenshot, seriousA11yProblems, useBrowser } from '../helpers/browser.ts';

/**
 * Gap-only refill (issue 11 item 1) with one live slot in the whole system (LIVE_CONCURRENCY=1): the
 * second lesson goes on air while the only transcoder is busy with the first, which it takes only
 * when the first lesson's job is done. Its recording keeps what the transcoder made and transcodes
 * from the capture only the seconds it missed, and reaches review as one valid ladder as long as what
 * was sent. A student's page (Chromium) plays the second lesson's capture with a note on its quality
 * and takes the ladder up by itself when the transcoder comes. Sources are 320x240 (the 360p fallback
 * rung and audio) to keep two shared cores free.
 */

interface Refill {
  stretches: { fromS: number; seconds: number; segments: number }[];
  seconds: number;
  keptS: number;
  alignedOn: 'source' | 'clock';
}

describe('gap-only refill of a live recording', () => {
  const ts = useLiveSystem({ LIVE_CONCURRENCY: '1', LIVE_X264_PRESET: 'ultrafast' });
  const browser = useBrowser();
  const { status } = liveReaders(ts);

  const liveLesson = (title: string) => approvedLiveLesson(ts, title);
  const master = async (id: string) => {
    const r = await fetch(`${ts.url}/live/${id}/master.m3u8`);
    return r.status === 200 ? r.text() : '';
  };
  const assetOf = async (id: string) => (await ts.sys.db.query<{ id: string; state: string; duration_s: number | null; hls_root: string | null; media: { refill?: Refill; validation?: { violations: unknown[] } } | null }>(
    'SELECT a.id, a.state, a.duration_s, a.hls_root, a.media FROM lessons l JOIN assets a ON a.id = l.current_asset_id WHERE l.id = $1', [id]))[0];

  it('when the only transcoder takes a lesson late, then its recording keeps the transcoded part, refills only the missing seconds from the capture, and is one valid ladder as long as what was sent', async () => {
    const first = await liveLesson('直播一：占用转码');
    const late = await liveLesson('直播二：晚到的转码');
    const sent = { first: 24, late: 70 };
    startPublisher(first.url, { durationS: sent.first });
    await eventually(() => master(first.id), (m) => m.includes('360p/index.m3u8'), 90_000, 'the first lesson\'s ladder');
    startPublisher(late.url, { durationS: sent.late });
    await eventually(() => master(late.id), (m) => m.includes('source/index.m3u8'), 60_000, 'the second lesson at source quality');
    // a student watches meanwhile (Chromium): the capture at first, no quality menu but a note
    const ctx = await newContext(browser(), 'phone');
    const page = await ctx.newPage();
    const errors = collectPageErrors(page);
    await page.goto(`${ts.url}/lessons/${late.id}`);
    await playsOn(page, 2, 60_000);
    await page.getByText(playerNotes.sourceOnly).waitFor();
    expect(await page.locator('.quality-menu').count()).toBe(0);
    // the transcoder comes to the second lesson once the first lesson's job is done
    await eventually(() => master(late.id), (m) => m.includes('360p/index.m3u8'), 120_000, 'the second lesson\'s ladder');
    // and the open page takes the ladder up by itself: rungs and 仅声音 on offer, the note gone, still playing
    const menu = page.getByRole('combobox', { name: '清晰度' });
    await menu.waitFor({ timeout: 60_000 });
    const options = await menu.locator('option').allTextContents();
    expect(options.slice(1).filter((o) => /^\d+p$/.test(o)).length, options.join(' ')).toBeGreaterThan(0);
    expect(options).toContain('仅声音');
    expect(await page.getByText(playerNotes.sourceOnly).count()).toBe(0);
    await playsOn(page, 2, 60_000);
    await screenshot(page, 'lesson-live-ladder-joined', 'phone');
    expect(await seriousA11yProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
    await ctx.close();

    for (const l of [first, late]) await eventually(() => status(l.id), (s) => s === 'in_review' || s === 'failed', 300_000, `the recording of ${l.id}`);
    const asset = await assetOf(late.id);
    expect(await status(late.id)).toBe('in_review');
    expect(asset.state).toBe('ready');
    expect(asset.hls_root, 'spliced into the live ladder, not a VOD transcode of the whole capture').toMatch(/^live\//);
    expect(asset.media?.validation?.violations).toEqual([]);
    const refill = asset.media!.refill!;
    process.stderr.write(`[late transcoder] recording ${asset.duration_s} s of ${sent.late} s sent; refill ${JSON.stringify(refill)}\n`);
    expect(Math.abs(asset.duration_s! - sent.late), `duration ${asset.duration_s}`).toBeLessThanOrEqual(2);
    // only the missing seconds were transcoded again: the start the transcoder missed, not what it made
    expect(refill.keptS).toBeGreaterThan(6);
    expect(refill.stretches[0].fromS).toBe(0);
    // cut on the publisher's timestamps, not on the two processes' wall clocks
    expect(refill.alignedOn).toBe('source');
    expect(refill.seconds).toBeGreaterThan(10);
    expect(Math.abs(refill.seconds + refill.keptS - asset.duration_s!)).toBeLessThan(0.1);
    expect((await assetOf(first.id)).state).toBe('ready');
  }, 600_000);
});
