import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPublisher, startViewer, stopAllFfmpeg } from '../helpers/ffmpeg-rtmp.ts';
import { eventually, lessonStatus, startFleetRig, type FleetRig } from '../helpers/fleet.ts';
import { lessonBody } from '../helpers/system.ts';
import { LiveControl } from '../../src/infra/live-control.ts';
import { freezeSlackMs, type LadderFreeze } from '../../src/media/live-playlists.ts';

/**
 * Issue 11 items 1 and 6: the only transcoding worker of the fleet (LIVE_CONCURRENCY=1, one worker
 * process) is SIGKILLed while a lesson is on air. The ingest's capture goes on; students get the
 * captured source: the master falls back to it, and a player that had loaded the ladder keeps getting
 * new segments under the rung playlist it holds; when the worker is back it takes the session again
 * and the ladder returns under the next generation's playlists; the recording that reaches review is
 * a valid ladder as long as what was sent. A 320x240 publisher and the smallest ladder keep it light.
 */

let r: FleetRig;

beforeAll(async () => {
  r = await startFleetRig({
    apis: 1, workers: 1, ingest: true, edge: false,
    env: { LIVE_LADDER: '360p', LIVE_X264_PRESET: 'ultrafast', LIVE_CONCURRENCY: '1', LIVE_RECONNECT_WINDOW_S: '4', RTMP_IDLE_TIMEOUT_S: '3' },
  });
}, 300_000);

afterAll(async () => {
  await stopAllFfmpeg();
  await r?.stop();
});

const uris = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

/** A live playlist through the gateway: its text and the sequence number of its newest segment. */
async function playlist(rel: string, lessonId: string): Promise<{ text: string; last: number; url: string } | undefined> {
  const url = `${r.fleet.publicUrl}/live/${lessonId}/${rel}`;
  const res = await fetch(url);
  if (res.status !== 200) return undefined;
  const text = await res.text();
  const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? NaN);
  return Number.isFinite(seq) ? { text, last: seq + uris(text).length - 1, url } : undefined;
}

const master = async (lessonId: string): Promise<string[] | undefined> => {
  const res = await fetch(`${r.fleet.publicUrl}/live/${lessonId}/master.m3u8`);
  return res.status === 200 ? uris(await res.text()) : undefined;
};

describe('live lessons when the transcoder dies', () => {
  it('when the only transcoding worker is SIGKILLed mid-lesson, then capture goes on, students keep playing from the source under the playlists they hold, the ladder comes back with the worker, and the recording is a whole ladder', async () => {
    const t = r.ts;
    const start = Date.now() - 5 * 60_000;
    const c = await t.api('POST', '/api/v1/lessons', { token: t.users.teacherA.token, body: lessonBody({ kind: 'live', type: 'live', title: '直播：转码进程被杀', scheduledStart: new Date(start).toISOString(), scheduledEnd: new Date(start + 45 * 60_000).toISOString() }) });
    expect(c.status).toBe(201);
    const lessonId = c.body.id as string;
    expect((await t.api('POST', `/api/v1/lessons/${lessonId}/review`, { token: t.users.reviewerA.token, body: { decision: 'approve' } })).status).toBe(200);
    const k = await t.api('POST', `/api/v1/lessons/${lessonId}/live`, { token: t.users.teacherA.token });
    const sentS = 70;
    const pub = startPublisher(`${k.body.rtmpUrl}/${k.body.streamKey}`, { durationS: sentS });
    try {
      // a student loads the ladder's master and polls its rung
      const ladder = await eventually(async () => (await master(lessonId))?.includes('360p/index.m3u8') && master(lessonId), 90_000, 'the ladder in the live master');
      expect(ladder).not.toContain('source/index.m3u8');
      const rungBefore = await eventually(() => playlist('360p/index.m3u8', lessonId), 10_000, 'the rung playlist');
      const sourceBefore = await eventually(() => playlist('source/index.m3u8', lessonId), 10_000, 'the captured source playlist');
      // a player (ffmpeg's HLS demuxer) on the rung it chose, kept running across the death
      const viewer = startViewer(rungBefore.url);
      await eventually(async () => viewer.frames() > 50, 60_000, 'the viewer playing the rung');

      const worker = r.fleet.workers[0];
      await worker.kill('SIGKILL');
      let restarted = false;
      try {
        // the capture goes on, the master falls back to it
        await eventually(async () => ((await playlist('source/index.m3u8', lessonId))?.last ?? -1) > sourceBefore.last + 3, 30_000, 'the source playlist to advance without a transcoder');
        expect(await eventually(async () => {
          const m = await master(lessonId);
          return m?.length === 1 && m[0] === 'source/index.m3u8' && m;
        }, 30_000, 'the source-only master')).toEqual(['source/index.m3u8']);
        // the student's rung playlist goes on from the source: fetchable, growing, its new segments there
        const rung = await eventually(async () => {
          const p = await playlist('360p/index.m3u8', lessonId);
          return p && p.last > rungBefore.last + 2 && p.text.includes('../source/') && p;
        }, 30_000, 'the rung playlist to go on from the source');
        expect(rung.text).toContain('#EXT-X-DISCONTINUITY');
        // the freeze chose the captured slot on the publisher's timestamps: its keyframes every 2 s are
        // segment starts in both the capture and the ladder, so the rung goes on where it stopped
        const sessionId = (await t.sys.db.query<{ id: string }>('SELECT id FROM live_sessions WHERE lesson_id = $1', [lessonId]))[0].id;
        const [frozen] = (await new LiveControl(t.sys.redis, t.sys.config.QUEUE_PREFIX, sessionId).ladderFreezes(1)).map((x) => JSON.parse(x) as LadderFreeze);
        process.stderr.write(`[transcoder killed] freeze ${JSON.stringify(frozen)}\n`);
        expect(frozen).toMatchObject({ generation: 0, alignedOn: 'source' });
        expect(Math.abs(frozen.seamMs!)).toBeLessThanOrEqual(freezeSlackMs);
        for (const u of uris(rung.text).slice(-2)) {
          const seg = await fetch(new URL(u, rung.url));
          expect(seg.status, u).toBe(200);
          expect((await seg.arrayBuffer()).byteLength).toBeGreaterThan(1000);
        }
        // the player that held the rung plays on from the source without reloading anything
        const seen = viewer.frames();
        await eventually(async () => viewer.frames() > seen + 100, 30_000, 'the viewer to play on from the source');
        expect(viewer.proc.exitCode).toBeNull();
        await viewer.stop();
        expect(pub.proc.exitCode).toBeNull();
      } finally {
        await worker.start();
        restarted = true;
      }
      expect(restarted).toBe(true);
      // the worker takes the session again: the ladder returns under new playlist names
      const back = await eventually(async () => {
        const m = await master(lessonId);
        return m?.includes('360p/index-g1.m3u8') && m;
      }, 60_000, 'the ladder back in the master');
      expect(back).not.toContain('source/index.m3u8');
      // the frozen rung keeps growing for players that still hold it: its numbers never went back
      const held = await eventually(() => playlist('360p/index.m3u8', lessonId), 10_000, 'the frozen rung');
      expect(held.last).toBeGreaterThan(rungBefore.last + 2);

      await pub.exited;
      await lessonStatus(r, lessonId, 'in_review', 300_000);
      const assets = await t.sys.db.query<{ id: string; state: string; duration_s: number | null; hls_root: string | null }>("SELECT id, state, duration_s, hls_root FROM assets WHERE lesson_id = $1 AND origin = 'live'", [lessonId]);
      expect(assets).toHaveLength(1);
      const asset = assets[0];
      expect(asset.state).toBe('ready');
      expect(Math.abs((asset.duration_s ?? 0) - sentS), `recording ${asset.duration_s} s of ${sentS} s sent`).toBeLessThanOrEqual(2);
      // the transcoder's own segments were kept and only the seconds it missed were transcoded from the capture
      expect(asset.hls_root, 'a recording spliced from the live ladder, not a VOD transcode of the whole capture').toMatch(/^live\//);
      const media = (await t.sys.db.query<{ media: { validation: { violations: unknown[] }; refill?: { seconds: number; keptS: number; stretches: unknown[] } } }>('SELECT media FROM assets WHERE id = $1', [asset.id]))[0].media;
      expect(media.validation.violations).toEqual([]);
      process.stderr.write(`[transcoder killed] recording ${asset.duration_s} s of ${sentS} s sent; refill ${JSON.stringify(media.refill)}\n`);
      // kept: what the transcoder made before the kill (and after its return); refilled: the rest only
      expect(media.refill!.keptS).toBeGreaterThanOrEqual(6);
      expect(media.refill!.seconds).toBeGreaterThan(10);
      expect(Math.abs(media.refill!.seconds + media.refill!.keptS - asset.duration_s!)).toBeLessThan(0.1);
    } finally {
      await pub.stop();
    }
  }, 600_000);
});
