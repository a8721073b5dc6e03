/**
 * A recording made from the capture (issue 11 item 1): when no transcoder covered the whole session
 * (every worker was busy for part or all of it, or one died mid-session), the captured source is
 * joined into one MPEG-TS with continuous timestamps and handed to the catalog, which turns it into
 * the asset's full ladder with an ordinary VOD transcode. So the recording that goes to review is a
 * complete, aligned ladder of every second the ingest accepted, however busy the transcoders were.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pMap from 'p-map';
import { runFfmpeg } from '../infra/ffmpeg.runner.ts';
import { retry } from '../infra/retry.ts';
import type { JobResult } from '../jobs/job-types.ts';
import { buildConcatList, buildConcatRemuxArgs } from '../media/live-args.ts';
import { captureRendition, liveCaptureRecordingKey, liveSlotKey } from '../media/storage-keys.ts';
import type { LiveLedger } from '../media/live-ledger.ts';
import type { LiveSessionContext } from './live-context.ts';

const seconds = (ledger: LiveLedger | null): number => (ledger ? ledger.slots.reduce((s, x) => s + x.parts[0].durationS, 0) : 0);

/**
 * Whether the recording must come from the capture: the transcoder's segments miss more than
 * `maxGapS` seconds of what was captured. A capture without picture is not used (an audio-only
 * recording is not made yet: the VOD pipeline needs a picture).
 */
export function recordFromCapture(transcoded: LiveLedger, captured: LiveLedger | null, maxGapS: number): boolean {
  if (!captured?.slots.length || !captured.renditions[0]?.codecs?.includes('avc1')) return false;
  const hasVideo = transcoded.renditions.some((r) => r.kind === 'video');
  return !transcoded.slots.length || !hasVideo || seconds(captured) - seconds(transcoded) > maxGapS;
}

/** Joins the captured segments into `live/{sessionId}/source/recording.ts` and returns the `live` result asking for a VOD transcode of it. */
export async function captureRecording(ctx: LiveSessionContext, captured: LiveLedger): Promise<JobResult> {
  const { storage, bucket, p, log, config } = ctx;
  const sid = p.sessionId;
  const dir = path.join(ctx.dir, 'capture-recording');
  await mkdir(dir, { recursive: true });
  const files = await pMap(captured.slots, async (s) => {
    const file = path.join(dir, `${s.msn}.ts`);
    await writeFile(file, await retry(() => storage.getBuffer(bucket, liveSlotKey(sid, captureRendition, s.run, s.seq))));
    return { path: file, durationS: s.parts[0].durationS };
  }, { concurrency: 4 });
  const list = path.join(dir, 'capture.ffconcat');
  await writeFile(list, buildConcatList(files));
  const output = path.join(dir, 'recording.ts');
  await runFfmpeg(buildConcatRemuxArgs({ list, output, allTracks: true }), { ffmpegPath: config.FFMPEG_PATH, signal: ctx.signal, log });
  const sourceKey = liveCaptureRecordingKey(sid);
  await retry(() => storage.putFile(bucket, sourceKey, output, 'video/mp2t'));
  const durationS = Math.round(seconds(captured) * 1000) / 1000;
  log.info({ durationS, segments: captured.slots.length, transcodedS: Math.round(seconds(ctx.ledger) * 1000) / 1000 }, 'the recording is made from the capture (no transcoder covered the whole session)');
  return { kind: 'live', key: `live:${sid}`, subjectId: sid, ok: true, data: { fromCapture: { sourceKey, durationS, segments: captured.slots.length } } };
}
