import { describe, expect, it } from 'vitest';
import { approvedLiveLesson, decode, eventually, liveReaders, useLiveSystem, variantUris as variants, type LessonAsset } from '../helpers/live-lesson.ts';
import { startPublisher, type PublisherOptions } from '../helpers/ffmpeg-rtmp.ts';
import { encodeFlvTags, loopClip, publishFlvTags, restartEncoder } from '../helpers/rtmp-client.ts';
import { collectPageErrors, newContext, playerNotes, playsOn, screenshot, seriousA11yProblems, sizes, useBrowser, type ViewportName } from '../helpers/browser.ts';
import { storageLoader } from '../../src/infra/hls-source.ts';
import { LiveLedgerStore } from '../../src/infra/live-ledger.store.ts';
import { validateVod } from '../../src/media/hls-validator.ts';
import { loadVodInput } from '../../src/media/hls-vod-input.ts';

/**
 * Real encoders' streams (issue 11 item 5): publishers as OBS and other encoders send them are
 * accepted, play live and become a valid recording that reaches review, as long as what was sent.
 * Small pictures (the 360p live ladder) and 10-15 s publishers, at most two at once, to keep the two
 * shared cores usable. LIVE_TEST_LOG=1 prints the system's logs.
 */

/** Seconds of a live ledger's slots. */
const ledgerSeconds = (ledger: { slots: { parts: { durationS: number }[] }[] } | null): number => (ledger?.slots ?? []).reduce((t, x) => t + x.parts[0].durationS, 0);

/** A media playlist's EXTINFs all fit its TARGETDURATION (RFC 8216 4.3.3.1: rounded EXTINF <= target). */
function expectValidTarget(text: string): void {
  const target = Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)?.[1]);
  const durations = [...text.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
  expect(durations.length).toBeGreaterThan(0);
  expect(Math.max(...durations.map(Math.round)), text).toBeLessThanOrEqual(target);
}

describe('live lessons from real encoders\' streams', () => {
  const ts = useLiveSystem({ LIVE_CONCURRENCY: '2' });
  const browser = useBrowser();
  const { status, gateway, assetOf } = liveReaders(ts);

  const liveLesson = (title: string) => approvedLiveLesson(ts, title);
  const liveStatus = async (id: string) => (await ts.api('GET', `/api/v1/lessons/${id}/live/status`, { token: ts.users.teacherA.token })).body;
  const sessionOf = async (id: string) => (await ts.sys.db.query<{ id: string; epoch: number }>('SELECT id, epoch FROM live_sessions WHERE lesson_id = $1 ORDER BY started_at', [id]))[0];
  const stored = async (key: string) => (await ts.sys.storage.getBuffer(ts.sys.storage.mediaBucket, key)).toString('utf8');

  /**
   * The recording of a lesson reaches review, valid and as long as what was sent: the transcoder's
   * live recording checked by the live recording check (live-recording-check.ts) in the worker, or
   * the capture's VOD transcode checked here by the VOD validator. Returns the recording's master.
   */
  const expectRecording = async (id: string, sentS: number): Promise<{ master: string; root: string; asset: LessonAsset }> => {
    await eventually(() => status(id), (s) => s === 'in_review' || s === 'failed', 240_000, `the recording of ${id}`);
    const asset = await assetOf(id);
    expect(await status(id), asset.error ?? '').toBe('in_review');
    expect(asset.state).toBe('ready');
    expect(Math.abs(asset.duration_s! - sentS), `recording of ${asset.duration_s} s for ${sentS} s sent`).toBeLessThanOrEqual(2);
    const root = asset.hls_root ?? `assets/${asset.id}/hls/`;
    if (root.startsWith('live/')) {
      expect(asset.media).toMatchObject({ validation: { violations: [] } });
    } else {
      const input = await loadVodInput(storageLoader(ts.sys.storage, ts.sys.storage.mediaBucket, root), 'master.m3u8', { durationS: asset.duration_s! });
      expect(validateVod(input)).toEqual([]);
    }
    return { master: await stored(`${root}master.m3u8`), root, asset };
  };

  /** A student opens the live lesson of sound alone: the player says so, its media element plays on, no quality menu. */
  const studentHears = async (id: string, size: ViewportName): Promise<void> => {
    const ctx = await newContext(browser(), size);
    const page = await ctx.newPage();
    const errors = collectPageErrors(page);
    await page.goto(`${ts.url}/lessons/${id}`);
    await page.getByText(playerNotes.soundOnly).waitFor({ timeout: 30_000 });
    await playsOn(page, 2, 30_000);
    expect(await page.locator('.quality-menu').count()).toBe(0);
    await screenshot(page, 'lesson-live-sound-only', size);
    expect(await seriousA11yProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
    await ctx.close();
  };

  /** Publishes `opts` for `sentS` seconds; resolves once the transcoder's live ladder is at the gateway and ffmpeg played it. */
  const onAir = async (title: string, sentS: number, opts: PublisherOptions): Promise<{ id: string; master: string }> => {
    const l = await liveLesson(title);
    startPublisher(l.url, { ...opts, durationS: sentS });
    await eventually(() => status(l.id), (s) => s === 'on_air', 20_000, `${title} on air`);
    const master = await eventually(() => gateway(`/live/${l.id}/master.m3u8`), (m) => variants(m).includes('360p/index.m3u8'), 60_000, `the live ladder of ${title}`);
    const played = await decode(`${ts.url}/live/${l.id}/master.m3u8`, 3, opts.noVideo ? 'a' : 'v');
    expect(played.code, played.stderr).toBe(0);
    expect(played.frames, `${title}: decoded frames`).toBeGreaterThan(40);
    return { id: l.id, master };
  };

  it('when the publisher sends picture and no sound, then the live ladder is video-only (CODECS avc1, no audio-only rendition), the teacher is told, and the recording reaches review', async () => {
    const sent = 14;
    const l = await liveLesson('无声直播');
    startPublisher(l.url, { noAudio: true, durationS: sent });
    await eventually(() => status(l.id), (s) => s === 'on_air', 20_000, 'on air');
    expect((await eventually(() => liveStatus(l.id), (b) => b.stream !== null, 15_000, 'live figures')).advice).toContain('no_audio');
    const master = await eventually(() => gateway(`/live/${l.id}/master.m3u8`), (m) => variants(m).includes('360p/index.m3u8'), 60_000, 'the live ladder');
    expect(variants(master).sort()).toEqual(['240p/index.m3u8', '360p/index.m3u8']);
    expect(master).toMatch(/CODECS="avc1\.[0-9a-f]{6}",/);
    expect(master).not.toContain('mp4a');
    const played = await decode(`${ts.url}/live/${l.id}/master.m3u8`, 3);
    expect(played.code, played.stderr).toBe(0);
    expect(played.frames).toBeGreaterThan(40);

    const rec = await expectRecording(l.id, sent);
    // the transcoder's own ledger: video renditions only, its slots uploaded to the publisher's end (what
    // it missed at the start, while it probed, is refilled from the capture)
    const session = await sessionOf(l.id);
    const ledger = await new LiveLedgerStore(ts.sys.storage, session.id).load();
    expect(ledger!.renditions.map((r) => [r.name, r.kind])).toEqual([['360p', 'video'], ['240p', 'video']]);
    expect(ledger!.slots.reduce((s, x) => s + x.parts[0].durationS, 0)).toBeGreaterThan(4);
    expect(variants(rec.master).length).toBeGreaterThanOrEqual(2);
  }, 300_000);

  it('when the publisher sends sound and no picture (a radio-style class), then students hear it live from an audio-only master (the player says there is no picture), and the recording (no poster, no storyboard) reaches review, previews and plays once published', async () => {
    const sent = 14;
    const l = await liveLesson('广播课');
    startPublisher(l.url, { noVideo: true, durationS: sent });
    await eventually(() => status(l.id), (s) => s === 'on_air', 20_000, 'on air');
    expect((await eventually(() => liveStatus(l.id), (b) => b.stream !== null, 15_000, 'live figures')).advice).toContain('no_video');
    const master = await eventually(() => gateway(`/live/${l.id}/master.m3u8`), (m) => variants(m).includes('audio/index.m3u8'), 60_000, 'the audio-only live master');
    expect(variants(master)).toEqual(['audio/index.m3u8']);
    expect(master).toMatch(/CODECS="mp4a\.40\.2"/);
    expect(master).not.toMatch(/RESOLUTION|avc1/);
    // ffmpeg and a student at each size (Chromium) at once, while it is on air (not earlier: pages
    // starting with the publisher take the CPU the capture and the transcoder need to start)
    const [heard] = await Promise.all([decode(`${ts.url}/live/${l.id}/master.m3u8`, 3, 'a'), ...sizes.map((size) => studentHears(l.id, size))]);
    expect(heard.code, heard.stderr).toBe(0);
    expect(heard.frames).toBeGreaterThan(40);

    const rec = await expectRecording(l.id, sent);
    expect(rec.root).toMatch(/^live\//);
    // the transcoder's audio rendition, or the captured sound itself when the transcoder missed more of it
    expect(variants(rec.master)).toHaveLength(1);
    expect(rec.master).toMatch(/CODECS="mp4a\.40\.2"/);
    expect(rec.master).not.toMatch(/RESOLUTION|avc1/);
    expect(rec.asset.media).toMatchObject({ posterKey: null, storyboard: null });
    // the reviewer's signed preview and, once approved and published, the students' playback
    const preview = (await ts.api('GET', `/api/v1/lessons/${l.id}`, { token: ts.users.reviewerA.token })).body.preview.hls as string;
    const previewed = await decode(preview.startsWith('http') ? preview : `${ts.url}${preview}`, 3, 'a');
    expect(previewed.code, previewed.stderr).toBe(0);
    expect((await ts.api('POST', `/api/v1/lessons/${l.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } })).status).toBe(200);
    expect((await ts.api('POST', `/api/v1/lessons/${l.id}/publications`, { token: ts.users.operator.token, body: { channel: 'portal' } })).status).toBeLessThan(300);
    const played = await decode(`${ts.url}/play/${l.id}/master.m3u8`, 3, 'a');
    expect(played.code, played.stderr).toBe(0);
    expect(played.frames).toBeGreaterThan(40);
  }, 300_000);

  it('when the encoder sends B-frames and 44.1 kHz sound at 25 fps, then it plays live with the usual ladder (sound resampled to 48 kHz) and its recording reaches review', async () => {
    const sent = 12;
    const l = await onAir('B帧直播', sent, { bframes: 3, sampleRate: 44100, fps: 25, size: '640x360' });
    expect(variants(l.master).sort()).toEqual(['240p/index.m3u8', '360p/index.m3u8', 'audio/index.m3u8']);
    expect(l.master).toMatch(/RESOLUTION=640x360,FRAME-RATE=25\.000/);
    expect(l.master).toMatch(/CODECS="mp4a\.40\.2"/);
    await expectRecording(l.id, sent);
  }, 300_000);

  it('when the encoder sends 1080p60, then it plays live with the ladder at 30 fps and its recording reaches review', async () => {
    const sent = 10;
    const l = await onAir('1080p60直播', sent, { size: '1920x1080', fps: 60 });
    expect(variants(l.master).sort()).toEqual(['240p/index.m3u8', '360p/index.m3u8', 'audio/index.m3u8']);
    // 60 fps is divided down to the ladder's 30; the picture fits the 360p box
    expect(l.master).toMatch(/RESOLUTION=640x360,FRAME-RATE=30\.000/);
    await expectRecording(l.id, sent);
  }, 300_000);

  it('when the encoder leaves keyframes on auto (x264: 10 s apart), then the teacher is warned, students still get valid playlists (target at least the longest segment) and the recording reaches review', async () => {
    const sent = 16;
    const l = await liveLesson('自动关键帧');
    startPublisher(l.url, { gop: 'auto', durationS: sent });
    await eventually(() => status(l.id), (s) => s === 'on_air', 20_000, 'on air');
    const live = await eventually(() => liveStatus(l.id), (b) => b.stream?.keyframeIntervalS != null, 30_000, 'a measured keyframe interval');
    expect(live.stream.keyframeIntervalS).toBeGreaterThan(5);
    expect(live.advice).toContain('keyframe_interval');
    // the ladder keys every 2 s whatever the source; the captured source keeps the publisher's keyframes
    for (const uri of ['360p/index.m3u8', 'source/index.m3u8']) {
      const text = await eventually(() => gateway(`/live/${l.id}/${uri}`), (t) => t.includes('#EXTINF'), 40_000, `live ${uri}`);
      expectValidTarget(text);
    }
    const played = await decode(`${ts.url}/live/${l.id}/master.m3u8`, 3);
    expect(played.code, played.stderr).toBe(0);
    const rec = await expectRecording(l.id, sent);
    for (const uri of variants(rec.master)) expectValidTarget(await stored(`${rec.root}${uri}`));
  }, 300_000);

  it('when the encoder is restarted within the reconnect window (timestamps from 0 again), then viewers get a discontinuity and the session is one recording of everything sent', async () => {
    const parts = [8, 8];
    const l = await liveLesson('编码器重启');
    const first = startPublisher(l.url, { durationS: parts[0] });
    await eventually(() => status(l.id), (s) => s === 'on_air', 20_000, 'on air');
    await first.exited;
    startPublisher(l.url, { durationS: parts[1] });
    const withBreak = await eventually(() => gateway(`/live/${l.id}/360p/index.m3u8`), (t) => t.includes('#EXT-X-DISCONTINUITY\n'), 60_000, 'a discontinuity in the live playlist');
    expectValidTarget(withBreak);
    const rec = await expectRecording(l.id, parts[0] + parts[1]);
    expect((await sessionOf(l.id)).epoch).toBe(2);
    if (rec.root.startsWith('live/')) expect(rec.asset.media!.discontinuities).toBeGreaterThanOrEqual(1);
  }, 300_000);

  it('when the encoder restarts on its connection while the ladder is on air (its timestamps 5 s back), then students keep getting valid, playable live segments, capture and transcoder run on, and the recording holds everything sent', async () => {
    const l = await liveLesson('编码器原地重启');
    const url = new URL(l.url);
    // the encoder sends until the ladder is live, restarts at its next keyframe, and sends 4-6 s more
    let ladderLive = false;
    let restartAtMs: number | null = null;
    const pauseS = 0.3;
    const feed = restartEncoder(loopClip(await encodeFlvTags({ seconds: 4 }), (ms) => restartAtMs === null || ms < restartAtMs + 4000), {
      when: () => ladderLive, backS: 5, pauseS, onRestart: (ms) => { restartAtMs = ms; },
    });
    const pub = await publishFlvTags(Number(url.port), `${url.pathname.split('/').pop()}${url.search}`, feed);
    expect(pub.status).toBe('NetStream.Publish.Start');
    const seen: { uri: string; msn: number; dsn: number }[] = [];
    let session: Awaited<ReturnType<typeof sessionOf>>;
    let transcodedBeforeS = 0;
    let sentAfterFromMs = 0;
    try {
      await eventually(() => status(l.id), (s) => s === 'on_air', 20_000, 'on air');
      await eventually(() => gateway(`/live/${l.id}/master.m3u8`), (m) => variants(m).includes('360p/index.m3u8'), 90_000, 'the live ladder');
      session = await sessionOf(l.id);
      transcodedBeforeS = ledgerSeconds(await new LiveLedgerStore(ts.sys.storage, session.id).load());
      sentAfterFromMs = pub.lastSentAtMs();
      ladderLive = true;
      // every live playlist students fetch until the encoder stops: valid, its numbering only moving forward
      let sending = true;
      const watch = (async () => {
        while (sending) {
          for (const uri of ['360p/index.m3u8', 'source/index.m3u8']) {
            const text = await gateway(`/live/${l.id}/${uri}`).catch(() => null);
            if (!text?.includes('#EXTINF')) continue;
            expectValidTarget(text);
            seen.push({ uri, msn: Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1]), dsn: Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0) });
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      })();
      // students who start watching after the restart get picture
      await eventually(async () => pub.lastSentAtMs(), (ms) => restartAtMs !== null && ms > restartAtMs + 1500, 30_000, 'the restart sent');
      const played = await decode(`${ts.url}/live/${l.id}/master.m3u8`, 3);
      expect(played.code, played.stderr).toBe(0);
      expect(played.frames).toBeGreaterThan(40);
      await pub.done.finally(() => { sending = false; });
      await watch;
    } finally {
      pub.stop();
    }
    for (const uri of ['360p/index.m3u8', 'source/index.m3u8']) {
      const mine = seen.filter((x) => x.uri === uri);
      expect(mine.length, uri).toBeGreaterThan(0);
      expect(mine.every((x, i) => i === 0 || (x.msn >= mine[i - 1].msn && x.dsn >= mine[i - 1].dsn)), `${uri}: ${JSON.stringify(mine)}`).toBe(true);
    }
    // media seconds sent (the restart's pause is not media; a frame is 1/30 s)
    const sentS = (pub.lastSentAtMs() - pauseS * 1000 + 33) / 1000;
    const rec = await expectRecording(l.id, sentS);
    // one connection, one epoch; the capture and the transcoder each ran on in one run, the replayed seconds kept
    expect((await sessionOf(l.id)).epoch).toBe(1);
    const capture = await new LiveLedgerStore(ts.sys.storage, session!.id, 'capture').load();
    expect(capture!.runs).toHaveLength(1);
    expect(ledgerSeconds(capture)).toBeGreaterThan(sentS - 2);
    const ladder = await new LiveLedgerStore(ts.sys.storage, session!.id).load();
    expect(ladder!.runs).toHaveLength(1);
    expect(ledgerSeconds(ladder) - transcodedBeforeS).toBeGreaterThan((pub.lastSentAtMs() - sentAfterFromMs) / 1000 - 2);
    expect(variants(rec.master).length).toBeGreaterThanOrEqual(2);
  }, 300_000);
});
