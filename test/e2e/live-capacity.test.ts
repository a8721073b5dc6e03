import { describe, expect, it } from 'vitest';
import { startPublisher } from '../helpers/ffmpeg-rtmp.ts';
import { approvedLiveLesson, useLiveSystem } from '../helpers/live-lesson.ts';
import { eventually } from '../helpers/fleet.ts';

/**
 * The true reason a lesson has no transcoder, end to end (issue 11 item 3): one live worker with one
 * slot (LIVE_CONCURRENCY=1), two real RTMP publishers. The first lesson takes the slot; the second is
 * captured only and its teacher's live status says every live slot is busy. Set-up as in
 * live-capture.test.ts (640x360 sources, 360p ladder).
 */

describe('two publishers and one live slot', () => {
  const ts = useLiveSystem({ LIVE_CONCURRENCY: '1' });
  const liveLesson = (title: string) => approvedLiveLesson(ts, title);
  const transcode = async (id: string) => (await ts.api('GET', `/api/v1/lessons/${id}/live/status`, { token: ts.users.teacherA.token })).body.transcode;

  it('when a second lesson goes on air while the only live slot is busy, then its teacher is told it is captured only because every slot is busy', async () => {
    const a = await liveLesson('容量直播一');
    const b = await liveLesson('容量直播二');
    startPublisher(a.url, { size: '640x360', durationS: 60 });
    await eventually(() => transcode(a.id).then((t) => t?.transcoded === true), 60_000, 'the first lesson on the only slot');
    startPublisher(b.url, { size: '640x360', durationS: 60 });
    const second = await eventually(() => transcode(b.id).then((t) => t?.reason === 'slots_busy' && t), 60_000, 'the second lesson captured only');
    expect(second).toEqual({ transcoded: false, reason: 'slots_busy', ahead: 0, sourceProblem: null });
    const snap = (await ts.api('GET', '/api/v1/ops/capacity', { token: ts.users.operator.token })).body;
    expect(snap.slots).toEqual({ total: 1, used: 1, free: 0 });
    expect(snap.sessions).toMatchObject({ onAir: 2, transcoded: 1, captureOnly: 1 });
  }, 240_000);
});
