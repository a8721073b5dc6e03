/**
 * The recording when the transcoder did not cover the whole session (issue 11 item 1: every worker
 * was busy for part of it, or one died mid-session). Domain rule: the recording that goes to review
 * is a complete, aligned ladder of every second the ingest accepted, however busy the transcoders were.
 *
 * Gap-only refill first: only the captured stretches no transcoder slot covers are transcoded (a VOD
 * encode of that stretch of source with the session's ladder, its fixed keyframes and 2 s segments)
 * and spliced into the transcoder's recording behind discontinuities. A transcoder that missed 20 s of
 * an hour costs 20 s of encoding, not an hour's: live transcoding is the fleet's scarce capacity
 * (0.7 of a core per lesson), and the busier the fleet, the more recordings miss a part.
 *
 * The whole capture is transcoded instead (joined into one MPEG-TS with continuous timestamps, handed
 * to the catalog for an ordinary VOD transcode) when splicing is not possible: no transcoder slot or no
 * picture in the transcoder's renditions, or a refill failed (an unreadable stretch, ffmpeg refusing it).
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pMap from 'p-map';
import { runFfmpeg, runFfprobe } from '../infra/ffmpeg.runner.ts';
import { retry } from '../infra/retry.ts';
import type { JobResult } from '../jobs/job-types.ts';
import { buildTranscodeArgs, fmtS, type PassthroughPlan, type TranscodePlan, type VideoRendition } from '../media/ffmpeg-args.ts';
import { withPassthrough } from '../media/passthrough.ts';
import { buildConcatList, buildConcatRemuxArgs, planLiveRun } from '../media/live-args.ts';
import { readFfmpegLivePlaylist, readySlots } from '../media/live-playlists.ts';
import { refillGaps, slotSeconds, spliceRefill, type RefillGap, type RefilledStretch } from '../media/live-refill.ts';
import { rationalValue } from '../media/media-info.ts';
import { parseProbe } from '../media/probe.ts';
import { captureRendition, liveCaptureRecordingKey, liveSlotKey } from '../media/storage-keys.ts';
import type { LiveLedger, LiveSlot } from '../media/live-ledger.ts';
import type { LiveSessionContext } from './live-context.ts';
import { finishRecording } from './live-recording.ts';

const seconds = (ledger: LiveLedger | null): number => (ledger ? slotSeconds(ledger.slots) : 0);

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

/**
 * The recording of a lesson of sound alone (issue 11, a radio-style class) when the transcoder missed
 * any of what was captured (more than half a second): the capture itself (the publisher's own AAC,
 * remuxed into 2 s segments), its rendition an audio one. Sound has no keyframe the ingest could
 * cache, so a transcoder that pulls a second late misses that second: the capture, pulled at once,
 * is the more complete recording. Null when the capture has a picture or holds no more.
 */
export function soundOnlyFromCapture(transcoded: LiveLedger, captured: LiveLedger | null): LiveLedger | null {
  const codecs = captured?.renditions[0]?.codecs;
  if (!captured?.slots.length || !codecs || codecs.includes('avc1') || transcoded.renditions.some((r) => r.kind === 'video')) return null;
  if (transcoded.slots.length && seconds(captured) - seconds(transcoded) <= 0.5) return null;
  return { ...captured, renditions: captured.renditions.map((r) => ({ ...r, kind: 'audio' as const })) };
}

/** What the refill did, in the recording's result (`data.refill`). */
export interface RefillReport {
  stretches: { fromS: number; seconds: number; segments: number }[];
  /** Seconds transcoded by the refill (the missing ones only). */
  seconds: number;
  /** Seconds of the transcoder's own slots kept. */
  keptS: number;
  /** What decided the missing stretches: the publisher's timestamps (cut to the frame) or the two wall clocks (whole captured segments). */
  alignedOn: 'source' | 'clock';
}

/**
 * The session's recording: the transcoder's own when it covered (nearly) everything, else its own with
 * the missing stretches refilled from the capture, else a VOD transcode of the whole capture.
 */
export async function recordSession(ctx: LiveSessionContext, captured: LiveLedger | null): Promise<JobResult> {
  const { ledger, config, log } = ctx;
  const sound = soundOnlyFromCapture(ledger, captured);
  if (sound) {
    log.info({ capturedS: round3(seconds(sound)), transcodedS: round3(seconds(ledger)) }, 'a lesson of sound alone: the capture is the recording');
    return finishRecording({ ...ctx, ledger: sound });
  }
  if (!recordFromCapture(ledger, captured, config.LIVE_RECORDING_MAX_GAP_S)) return finishRecording(ctx);
  const capture = captured!;
  if (ledger.slots.length && ledger.renditions.some((r) => r.kind === 'video') && ledger.renditions.every((r) => r.codecs)) {
    const kept = ledger.slots;
    const keptRuns = ledger.runs;
    const keptTarget = ledger.targetDurationS;
    try {
      const gaps = refillGaps({ slots: kept, runs: keptRuns }, capture);
      const refills: RefilledStretch[] = [];
      for (const [k, gap] of gaps.entries()) refills.push(await refillStretch(ctx, capture, gap, k));
      const sessionStart = Math.min(kept[0].pdtMs, ...gaps.map((g) => g.startPdtMs));
      const report: RefillReport = {
        stretches: gaps.map((g, k) => ({ fromS: round3((g.startPdtMs - sessionStart) / 1000), seconds: round3(refills[k].positions.reduce((t, p) => t + p.parts[0].durationS, 0)), segments: refills[k].positions.length })),
        seconds: 0,
        keptS: round3(slotSeconds(kept)),
        alignedOn: gaps.every((g) => g.trim) ? 'source' : 'clock',
      };
      report.seconds = round3(report.stretches.reduce((t, x) => t + x.seconds, 0));
      ledger.slots = spliceRefill({ slots: kept }, refills);
      ledger.targetDurationS = Math.max(ledger.targetDurationS, ...ledger.slots.flatMap((x) => x.parts.map((part) => Math.round(part.durationS))));
      log.info({ ...report, capturedS: round3(slotSeconds(capture.slots)) }, 'the missing stretches were refilled from the capture');
      return await finishRecording(ctx, { refill: report });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      ledger.slots = kept;
      ledger.runs = keptRuns;
      ledger.targetDurationS = keptTarget;
      log.warn({ err }, 'the gap refill failed: the whole capture is transcoded instead');
    }
  }
  return captureRecording(ctx, capture);
}

/**
 * One missing stretch: its captured segments joined, probed and transcoded with the session's
 * renditions (the live encoder settings, keyframes every segment, 2 s segments), cut to the missing
 * span on the source's timeline when it is known, uploaded as a new run.
 */
async function refillStretch(ctx: LiveSessionContext, captured: LiveLedger, gap: RefillGap, k: number): Promise<RefilledStretch> {
  const { ledger, config, storage, bucket, p, log } = ctx;
  const dir = path.join(ctx.dir, `refill-${k}`);
  const input = await joinCaptured(ctx, gap.slots, dir);
  const probe = await runFfprobe(config.FFPROBE_PATH, input, { signal: ctx.signal, timeoutMs: 60_000 });
  const outcome = parseProbe(probe);
  if (!outcome.ok) throw new Error(`the captured stretch cannot be read: ${outcome.failure.reason}`);
  const info = outcome.info;
  const names = ledger.renditions.map((r) => r.name);
  // the live run's own plan for this source and the session's renditions (video-only stays soundless)
  const encoded = planLiveRun(info, ctx.ladder, names);
  // a session whose runs copied the publisher's picture as the top rung (passthrough) is refilled the
  // same way, so the rung keeps one CODECS and the others stay keyed at the source's keyframes
  const copied = [...ledger.runs].reverse().map((r) => (r.plan as TranscodePlan | null)?.passthrough).find((x): x is PassthroughPlan => !!x?.rendition);
  const plan = copied ? withPassthrough(encoded, { copied: copied.rendition, refused: [], keyframePeriodS: copied.keyframePeriodS, videoKbps: copied.sourceKbps }, { width: info.video.width, height: info.video.height }) : encoded;
  const out = path.join(dir, 'out');
  for (const name of names) await mkdir(path.join(out, name), { recursive: true });
  // Encoded rungs are cut to the frame where the transcoder's own slots end and start again; a copied
  // picture can only start at a keyframe, so it is refilled whole slots as before.
  const trim = gap.trim && !copied ? ['-ss', fmtS(gap.trim.startS), '-t', fmtS(gap.trim.durationS)] : [];
  await runFfmpeg(buildTranscodeArgs({
    input, inputOptions: trim, outDir: out, plan, preset: config.LIVE_X264_PRESET, segmentFormat: 'mpegts',
    // the live rungs' encoder settings, every segment kept in the local list
    live: { listSize: 0, programDateTime: false, deleteSegments: false, playlistType: 'event' },
  }), { ffmpegPath: config.FFMPEG_PATH, signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(refillTimeoutMs(gap.slots))]), log });
  const lists = await Promise.all(names.map(async (n) => readFfmpegLivePlaylist(await readFile(path.join(out, n, 'index.m3u8'), 'utf8'))));
  // a cut stretch may end in a sliver without picture (the capture's last EXTINF runs to its last sound)
  const ready = readySlots(lists, 0).ready.filter((pos) => !gap.trim || pos.parts[0].durationS >= minSegmentS);
  if (!ready.length && gap.trim) return { run: 0, startPdtMs: gap.startPdtMs, positions: [] };
  if (!ready.length) throw new Error('the refill transcode wrote no segment');
  const run = await ctx.control.claimRun();
  const epoch = captured.runs.find((r) => r.run === gap.slots[0].run)?.epoch ?? 0;
  ledger.runs = [...ledger.runs, {
    run, epoch, startedAtMs: Date.now(),
    sizes: Object.fromEntries(plan.renditions.filter((r): r is VideoRendition => r.kind === 'video').map((r) => [r.name, { width: r.width, height: r.height }])),
    frameRate: Math.round(rationalValue(plan.fps) * 1000) / 1000,
    plan,
  }];
  const positions = await pMap(ready, async (pos) => ({
    seq: pos.seq,
    parts: await Promise.all(pos.parts.map(async (part, i) => {
      const file = path.join(out, names[i], part.uri);
      await retry(() => storage.putFile(bucket, liveSlotKey(p.sessionId, names[i], run, pos.seq), file, 'video/mp2t'));
      return { durationS: part.durationS, bytes: (await stat(file)).size };
    })),
  }), { concurrency: 2 });
  return { run, startPdtMs: gap.startPdtMs, positions };
}

/** A refilled segment shorter than this (a frame or two) is left out of a cut stretch. */
const minSegmentS = 0.1;

/** A refill transcode that takes longer than this is given up (the whole capture is transcoded instead): a minute plus ten times the stretch. */
const refillTimeoutMs = (gap: readonly LiveSlot[]): number => Math.round(60_000 + 10_000 * slotSeconds(gap));

/** Downloads captured slots and joins them into one MPEG-TS with continuous timestamps (no re-encode). */
async function joinCaptured(ctx: LiveSessionContext, slots: readonly LiveSlot[], dir: string): Promise<string> {
  const { storage, bucket, p, config, log } = ctx;
  await mkdir(dir, { recursive: true });
  const files = await pMap(slots, async (s) => {
    const file = path.join(dir, `${s.msn}.ts`);
    await writeFile(file, await retry(() => storage.getBuffer(bucket, liveSlotKey(p.sessionId, captureRendition, s.run, s.seq))));
    return { path: file, durationS: s.parts[0].durationS };
  }, { concurrency: 4 });
  const list = path.join(dir, 'capture.ffconcat');
  await writeFile(list, buildConcatList(files));
  const output = path.join(dir, 'joined.ts');
  await runFfmpeg(buildConcatRemuxArgs({ list, output, allTracks: true }), { ffmpegPath: config.FFMPEG_PATH, signal: ctx.signal, log });
  return output;
}

/** Joins the captured segments into `live/{sessionId}/source/recording.ts` and returns the `live` result asking for a VOD transcode of it. */
export async function captureRecording(ctx: LiveSessionContext, captured: LiveLedger): Promise<JobResult> {
  const { storage, bucket, p, log } = ctx;
  const sid = p.sessionId;
  const output = await joinCaptured(ctx, captured.slots, path.join(ctx.dir, 'capture-recording'));
  const sourceKey = liveCaptureRecordingKey(sid);
  await retry(() => storage.putFile(bucket, sourceKey, output, 'video/mp2t'));
  const durationS = round3(seconds(captured));
  log.info({ durationS, segments: captured.slots.length, transcodedS: round3(seconds(ctx.ledger)) }, 'the recording is made from the capture (no transcoder covered the whole session)');
  return { kind: 'live', key: `live:${sid}`, subjectId: sid, ok: true, data: { fromCapture: { sourceKey, durationS, segments: captured.slots.length } } };
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;
