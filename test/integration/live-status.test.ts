import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';
import { startPublisher, stopAllFfmpeg } from '../helpers/ffmpeg-rtmp.ts';
import { eventually } from '../helpers/wait.ts';

let ts: TestSystem;
beforeAll(async () => {
  ts = await startTestSystem({ api: true, ingest: true });
});
afterEach(async () => {
  await stopAllFfmpeg();
});
afterAll(async () => {
  await stopAllFfmpeg();
  await ts?.stop();
});

async function onAirLesson(gop: number): Promise<string> {
  const start = Date.now() - 60_000;
  const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody({ kind: 'live', type: 'live', scheduledStart: new Date(start).toISOString(), scheduledEnd: new Date(start + 3_600_000).toISOString() }) });
  await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } });
  const k = await ts.api('POST', `/api/v1/lessons/${c.body.id}/live`, { token: ts.users.teacherA.token });
  const url = `${k.body.rtmpUrl.replace(/:\d+\//, `:${ts.sys.ingest!.port}/`)}/${k.body.streamKey}`;
  startPublisher(url, { gop, durationS: 60 });
  return c.body.id;
}

const status = async (id: string, token = ts.users.teacherA.token) => (await ts.api('GET', `/api/v1/lessons/${id}/live/status`, { token })).body;

describe('live status for the teacher', () => {
  it('when the encoder sends keyframes every 2 s, then the teacher sees it connected with its bitrate and frame rate and no advice', async () => {
    const id = await onAirLesson(50);
    const before = await status(id);
    expect(before).toMatchObject({ connected: false, session: null, stream: null, advice: [] });
    const s = await eventually(() => status(id), (v) => v.connected && v.stream?.keyframeIntervalS !== null && v.stream?.keyframeIntervalS !== undefined, 30_000, 'stream figures');
    expect(s.session.state).toBe('on_air');
    expect(s.stream.keyframeIntervalS).toBe(2);
    expect(s.stream.fps).toBeGreaterThan(15);
    expect(s.stream.bitrateKbps).toBeGreaterThan(50);
    expect(s.stream).toMatchObject({ hasVideo: true, hasAudio: true, width: 320, height: 240 });
    expect(s.advice).not.toContain('keyframe_interval');
    // the school's reviewer sees the same; another school's does not see the lesson at all
    expect((await status(id, ts.users.reviewerA.token)).connected).toBe(true);
    expect((await ts.api('GET', `/api/v1/lessons/${id}/live/status`, { token: ts.users.reviewerB.token })).status).toBe(404);
  });

  it('when the encoder leaves keyframes on auto (5 s apart), then the teacher is told to set them to 2 s', async () => {
    const id = await onAirLesson(125);
    const s = await eventually(() => status(id), (v) => v.stream?.keyframeIntervalS != null, 40_000, 'a keyframe interval');
    expect(s.stream.keyframeIntervalS).toBe(5);
    expect(s.advice).toContain('keyframe_interval');
  });

  it('when the lesson is recorded, then there is no live status to ask for', async () => {
    const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody() });
    const r = await ts.api('GET', `/api/v1/lessons/${c.body.id}/live/status`, { token: ts.users.teacherA.token });
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('not_a_live_lesson');
  });
});
