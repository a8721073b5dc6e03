import { describe, expect, it } from 'vitest';
import { approvedLiveLesson, decode, eventually, liveReaders, useLiveSystem, variantUris as variants } from '../helpers/live-lesson.ts';
import { startPublisher } from '../helpers/ffmpeg-rtmp.ts';
import { storageLoader } from '../../src/infra/hls-source.ts';
import { validateVod } from '../../src/media/hls-validator.ts';
import { loadVodInput } from '../../src/media/hls-vod-input.ts';

/**
 * Capture before transcode (issue 11 item 1) with one live slot in the whole fleet
 * (LIVE_CONCURRENCY=1, one worker): every accepted publisher is captured by the ingest from its first
 * second, students get at least the source live while the only transcoder is busy, and every lesson's
 * recording reaches review as a valid ladder as long as what was sent. Sources are 640x360 (live
 * ladder 360p + 240p + audio) to keep two shared cores free.
 */

describe('live capture when the only transcoder is busy', () => {
  const ts = useLiveSystem({ LIVE_CONCURRENCY: '1' });
  const { status, gateway, assetOf } = liveReaders(ts);

  const liveLesson = (title: string) => approvedLiveLesson(ts, title);
  const masterAt = (id: string) => eventually(() => gateway(`/live/${id}/master.m3u8`), () => true, 60_000, 'the live master');

  it('when two publishers are on air for 60 s and a third comes and goes, then all play live (the first with its ladder, the others at source quality) and all three recordings reach review as valid ladders as long as what was sent', async () => {
    const [a, b, c] = [await liveLesson('直播一'), await liveLesson('直播二'), await liveLesson('直播三')];
    const sent = { [a.id]: 60, [b.id]: 60, [c.id]: 20 };
    startPublisher(a.url, { size: '640x360', durationS: sent[a.id] });
    await eventually(() => status(a.id), (s) => s === 'on_air', 20_000, 'first on air');
    // the first takes the only live slot before the others arrive
    const ladder = await eventually(() => masterAt(a.id), (m) => variants(m).includes('360p/index.m3u8'), 60_000, 'the first lesson\'s ladder');
    startPublisher(b.url, { size: '640x360', durationS: sent[b.id] });
    startPublisher(c.url, { size: '640x360', durationS: sent[c.id] });
    await eventually(() => Promise.all([status(b.id), status(c.id)]), (s) => s.every((x) => x === 'on_air'), 20_000, 'second and third on air');

    // the transcoder is busy with the first: the others are served their captured source
    for (const l of [b, c]) expect(variants(await masterAt(l.id))).toEqual(['source/index.m3u8']);
    // the remuxed source declares its measured frame rate like any video variant (REFERENCE.md)
    for (const l of [b, c]) expect(await masterAt(l.id)).toMatch(/,RESOLUTION=640x360,FRAME-RATE=25\.000\nsource\/index\.m3u8\n/);
    expect(variants(ladder)).not.toContain('source/index.m3u8');
    const played = await Promise.all([a, b, c].map((l) => decode(`${ts.url}/live/${l.id}/master.m3u8`, 4)));
    for (const p of played) {
      expect(p.code, p.stderr).toBe(0);
      expect(p.frames).toBeGreaterThan(50);
    }

    // every recording reaches review: the first from its live ladder or the capture, the others from the capture
    for (const l of [a, b, c]) await eventually(() => status(l.id), (s) => s === 'in_review' || s === 'failed', 300_000, `the recording of ${l.id}`);
    for (const l of [a, b, c]) {
      expect(await status(l.id)).toBe('in_review');
      const asset = await assetOf(l.id);
      expect(asset.state).toBe('ready');
      expect(Math.abs(asset.duration_s! - sent[l.id]), `duration of ${l.id}: ${asset.duration_s}`).toBeLessThanOrEqual(2);
      if (asset.hls_root?.startsWith('live/')) {
        expect(asset.media).toMatchObject({ validation: { violations: [] } });
      } else {
        const input = await loadVodInput(storageLoader(ts.sys.storage, ts.sys.storage.mediaBucket, `assets/${asset.id}/hls/`), 'master.m3u8', { durationS: asset.duration_s! });
        expect(validateVod(input)).toEqual([]);
      }
      const ladderOf = variants((await ts.sys.storage.getBuffer(ts.sys.storage.mediaBucket, asset.media!.masterKey)).toString('utf8'));
      expect(ladderOf.length).toBeGreaterThanOrEqual(3);
    }
  }, 600_000);
});
