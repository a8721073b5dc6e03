import { describe, expect, it } from 'vitest';
import { approvedLiveLesson, eventually, liveReaders, useLiveSystem, variantUris as variants } from '../helpers/live-lesson.ts';
import { startPublisher } from '../helpers/ffmpeg-rtmp.ts';
import { LiveLedgerStore } from '../../src/infra/live-ledger.store.ts';
import { liveSlotKey } from '../../src/media/storage-keys.ts';
import type { TranscodePlan } from '../../src/media/ffmpeg-args.ts';

/**
 * The passthrough top rung (issue 11 item 2), end to end: a real RTMP publisher into the ingest, the
 * `live` job on an in-process worker with the default live ladder (720p, 480p, 360p, audio), live HLS
 * at the gateway and the recording through review. A 720p30 H.264 + AAC publisher with 2 s keyframes
 * is served as is for its top rung; one whose keyframes come every 6 s has every rung encoded.
 * Publishers send 15-20 s. LIVE_TEST_LOG=1 prints the system's logs.
 */

/** The attribute line of a variant in a master playlist. */
const variantLine = (master: string, uri: string): string => {
  const lines = master.split('\n');
  return lines[lines.indexOf(uri) - 1] ?? '';
};

describe('passthrough top rung of the live ladder', () => {
  const ts = useLiveSystem({ LIVE_CONCURRENCY: '1', LIVE_LADDER: '720p,480p,360p' });
  const { status, gateway } = liveReaders(ts);

  const ladderMaster = (id: string, top: string) => eventually(() => gateway(`/live/${id}/master.m3u8`), (m) => variants(m).includes(`${top}/index.m3u8`), 120_000, 'the live ladder');
  const session = async (id: string) => (await ts.sys.db.query<{ id: string; asset_id: string | null }>('SELECT id, asset_id FROM live_sessions WHERE lesson_id = $1', [id]))[0];
  const assetOf = async (assetId: string) => (await ts.sys.db.query<{ state: string; duration_s: number | null; media: Record<string, any> | null }>('SELECT state, duration_s, media FROM assets WHERE id = $1', [assetId]))[0];
  const segment = async (sessionId: string, rendition: string, run: number, seq: number) => ts.sys.storage.getBuffer(ts.sys.storage.mediaBucket, liveSlotKey(sessionId, rendition, run, seq));
  /** Ends the lesson and waits for its recording; returns the session and its asset. */
  const record = async (id: string) => {
    expect((await ts.api('POST', `/api/v1/lessons/${id}/live/stop`, { token: ts.users.reviewerA.token })).status).toBe(200);
    await eventually(() => status(id), (s) => s === 'in_review' || s === 'failed', 300_000, 'the recording');
    expect(await status(id)).toBe('in_review');
    const s = await session(id);
    return { sessionId: s.id, asset: await assetOf(s.asset_id!) };
  };

  it('when a 720p30 H.264 + AAC publisher sends 2 s keyframes, then its own stream is the 720p rung, the lower rungs cut at its keyframes, and the recording is a valid ladder', async () => {
    const { id, url } = await approvedLiveLesson(ts, '直播：直通');
    // x264 ultrafast: Constrained Baseline, which the worker never makes (it encodes High with CRF)
    const pub = startPublisher(url, { size: '1280x720', fps: 30, gop: 60, bitrateKbps: 1500, durationS: 20, obsSound: true });
    const master = await ladderMaster(id, '720p');
    expect(variantLine(master, '720p/index.m3u8')).toMatch(/CODECS="avc1\.42c01f,mp4a\.40\.2",RESOLUTION=1280x720,FRAME-RATE=30\.000$/);
    expect(variantLine(master, '480p/index.m3u8')).toMatch(/CODECS="avc1\.64001f,mp4a\.40\.2",RESOLUTION=854x480,FRAME-RATE=30\.000$/);
    expect(variantLine(master, '360p/index.m3u8')).toMatch(/CODECS="avc1\.64001e,mp4a\.40\.2",RESOLUTION=640x360,FRAME-RATE=30\.000$/);

    await pub.exited;
    const { sessionId, asset } = await record(id);
    if (process.env.LIVE_TEST_LOG) console.log(JSON.stringify({ refill: asset.media!.refill, passthrough: asset.media!.passthrough, renditions: asset.media!.renditions }));
    expect(asset.state).toBe('ready');
    expect(asset.media).toMatchObject({ validation: { violations: [] } });
    expect(Math.abs(asset.duration_s! - 20), `duration ${asset.duration_s}`).toBeLessThanOrEqual(2);
    const ledger = (await new LiveLedgerStore(ts.sys.storage, sessionId).load())!;
    const copiedRuns = ledger.runs.filter((r) => r.passthrough?.copied === '720p').map((r) => r.run);
    expect(copiedRuns.length).toBeGreaterThanOrEqual(1);
    expect(asset.media!.passthrough).toEqual(expect.arrayContaining([{ run: copiedRuns[0], copied: '720p', refused: [] }]));
    // its stereo 128 kb/s AAC is copied into the renditions configured for 128 kb/s; 360p and the audio-only one encode theirs
    for (const r of ledger.runs.filter((x) => copiedRuns.includes(x.run))) expect((r.plan as TranscodePlan).passthrough!.soundCopied).toEqual(['720p', '480p']);
    const slots = ledger.slots.filter((s) => copiedRuns.includes(s.run));
    expect(slots.length).toBeGreaterThanOrEqual(3);
    const r720 = ledger.renditions.findIndex((r) => r.name === '720p');
    for (const s of slots.slice(0, -1)) {
      // one segment per publisher keyframe (60 frames), the same instants in every rendition
      for (const part of s.parts.slice(0, 3)) expect(part.durationS).toBeCloseTo(2, 2);
      expect(Math.abs(s.parts[3].durationS - 2)).toBeLessThanOrEqual(0.022);
    }
    // The copy carries the publisher's bits: no trace of the worker's encoder settings (its x264
    // writes them into the first picture of every rendition it encodes), the publisher's rate.
    const first = slots[0];
    const top = await segment(sessionId, '720p', first.run, first.seq);
    const lower = await segment(sessionId, '480p', first.run, first.seq);
    expect(lower.includes('rc=crf')).toBe(true);
    expect(top.includes('rc=crf')).toBe(false);
    const bytes = slots.reduce((t, s) => t + s.parts[r720].bytes, 0);
    const seconds = slots.reduce((t, s) => t + s.parts[r720].durationS, 0);
    // 1500 kb/s of picture, 128 kb/s of sound, MPEG-TS overhead
    expect((bytes * 8) / seconds / 1000).toBeGreaterThan(1300);
    expect((bytes * 8) / seconds / 1000).toBeLessThan(2200);
    const recorded = (await ts.sys.storage.getBuffer(ts.sys.storage.mediaBucket, asset.media!.masterKey)).toString('utf8');
    expect(variantLine(recorded, '720p/index.m3u8')).toContain('avc1.42c01f');
  }, 480_000);

  it('when the publisher\'s keyframes come every 6 s, then every rung is encoded (keyframes every 2 s) and the recording is a valid ladder', async () => {
    const { id, url } = await approvedLiveLesson(ts, '直播：关键帧稀疏');
    const pub = startPublisher(url, { size: '640x360', fps: 25, gop: 150, bitrateKbps: 500, durationS: 16 });
    const master = await ladderMaster(id, '360p');
    // the worker's own High-profile encode, not the publisher's Constrained Baseline
    expect(variantLine(master, '360p/index.m3u8')).toMatch(/CODECS="avc1\.64001e,mp4a\.40\.2",RESOLUTION=640x360,FRAME-RATE=25\.000$/);
    await pub.exited;
    const { sessionId, asset } = await record(id);
    expect(asset.media).toMatchObject({ validation: { violations: [] } });
    expect(Math.abs(asset.duration_s! - 16), `duration ${asset.duration_s}`).toBeLessThanOrEqual(2);
    const ledger = (await new LiveLedgerStore(ts.sys.storage, sessionId).load())!;
    const decided = ledger.runs.filter((r) => r.passthrough);
    expect(decided.length).toBeGreaterThanOrEqual(1);
    for (const r of decided) expect(r.passthrough).toEqual({ copied: null, refused: ['keyframes_sparse'] });
    const s = ledger.slots.find((x) => decided.some((r) => r.run === x.run))!;
    expect((await segment(sessionId, '360p', s.run, s.seq)).includes('rc=crf')).toBe(true);
  }, 480_000);
});
