/**
 * The recording of a live session, made when the session ends: VOD playlists over the live ones,
 * the master from measured sizes, poster and storyboard from the stored segments, validation against
 * the real segments in storage, returned as a `live` result. Finishing twice writes the same objects.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pMap from 'p-map';
import { runFfmpeg } from '../infra/ffmpeg.runner.ts';
import { retry } from '../infra/retry.ts';
import type { ObjectStorage } from '../infra/storage.ts';
import type { JobResult } from '../jobs/job-types.ts';
import { PermanentJobError } from '../jobs/permanent-error.ts';
import { buildPosterArgs, buildStoryboardArgs, buildStoryboardVtt, planStoryboard, type StoryboardPlan } from '../media/image-args.ts';
import { segmentFactsFromTs, type SegmentFacts } from '../media/hls-vod-input.ts';
import { buildConcatList, buildConcatRemuxArgs } from '../media/live-args.ts';
import { captureRendition, contentTypeOf, liveMasterKey, liveMediaPlaylistKey, livePosterKey, livePrefix, liveSlotKey, liveStoryboardImageKey, liveStoryboardVttKey } from '../media/storage-keys.ts';
import { mergeCodecs, type LiveLedger, type LiveSlot } from '../media/live-ledger.ts';
import { liveSegmentFile, liveVariants, writeLiveMaster, writeRecordingPlaylist } from '../media/live-playlists.ts';
import { validateLiveRecording } from '../media/live-recording-check.ts';
import type { LiveSessionContext } from './live-context.ts';

/** Turns the ledger of an ended session into the recording and its `live` result (`extra` joins its data). */
export async function finishRecording(ctx: LiveSessionContext, extra: Record<string, unknown> = {}): Promise<JobResult> {
  const { ledger, storage, bucket, p, log } = ctx;
  if (!ledger.slots.length) throw noMedia();
  const sid = p.sessionId;
  const dir = path.join(ctx.dir, 'recording');
  await mkdir(dir, { recursive: true });
  const slots = ledger.slots;
  const durationS = round3(slots.reduce((s, x) => s + x.parts[0].durationS, 0));
  const videoIdx = ledger.renditions.map((r, i) => (r.kind === 'video' ? i : -1)).filter((i) => i >= 0);
  // A lesson of sound alone (a radio-style class, issue 11) has no poster and no storyboard.
  const pictures = videoIdx.length > 0;
  const posterFile = pictures ? await makePoster(ctx, dir, videoIdx, durationS) : null;
  const sb = pictures ? await makeStoryboard(ctx, dir, videoIdx[videoIdx.length - 1], durationS) : null;

  // Playlists and master from the measured segments, checked against the real segments in storage.
  const media = ledger.renditions.map((_, i) => writeRecordingPlaylist(slots, i, { targetDurationS: ledger.targetDurationS }));
  const facts = await loadFacts(ctx);
  // CODECS of what every segment carries (a copied top rung beside its refilled stretches, a reconnect).
  for (const r of ledger.renditions) r.codecs = mergeCodecs(r.codecs, (facts[`${r.name}/index.m3u8`] ?? []).flatMap((f) => [f.videoCodecs, f.audioCodecs]));
  const master = writeLiveMaster(ledger, { phase: 'recording' });
  const check = validateLiveRecording(ledger, master, facts);
  if (check.violations.some((v) => v.rule === 'segment.missing' || v.rule === 'master.uri')) {
    log.error({ violations: check.violations }, 'recording segments missing from storage');
    throw new Error('some recorded segments could not be read from storage; retrying');
  }
  if (check.violations.length) log.error({ violations: check.violations }, 'live recording failed HLS validation');
  if (check.warnings.length) log.warn({ warnings: check.warnings }, 'live recording: relaxed rules not met');

  // Upload: media playlists (viewers still polling now see ENDLIST), images, master last.
  await Promise.all(ledger.renditions.map((r, i) => retry(() => storage.putBuffer(bucket, liveMediaPlaylistKey(sid, r.name), media[i], contentTypeOf('index.m3u8')))));
  if (posterFile) await storage.putFile(bucket, livePosterKey(sid), posterFile, 'image/jpeg');
  if (sb) {
    await storage.putFile(bucket, liveStoryboardImageKey(sid), sb.file, 'image/jpeg');
    await storage.putBuffer(bucket, liveStoryboardVttKey(sid), sb.vtt, contentTypeOf('storyboard.vtt'));
  }
  await storage.putBuffer(bucket, liveMasterKey(sid), master, contentTypeOf('master.m3u8'));
  await removeOrphans(ctx);

  const data = {
    durationS,
    renditions: recordingRenditions(ledger),
    masterKey: liveMasterKey(sid),
    posterKey: posterFile ? livePosterKey(sid) : null,
    storyboardImageKey: sb ? liveStoryboardImageKey(sid) : null,
    storyboardVttKey: sb ? liveStoryboardVttKey(sid) : null,
    storyboard: sb ? { imageKey: liveStoryboardImageKey(sid), vttKey: liveStoryboardVttKey(sid), intervalS: sb.plan.intervalS, columns: sb.plan.columns, rows: sb.plan.rows, thumbWidth: sb.plan.thumbWidth, thumbHeight: sb.plan.thumbHeight, count: sb.plan.count } : null,
    segments: slots.length,
    runs: ledger.runs.length,
    discontinuities: slots.filter((s) => s.discontinuity).length,
    // Per live run: the rendition served as the publisher's own picture (issue 11 item 2), else why not.
    passthrough: ledger.runs.flatMap((r) => (r.passthrough ? [{ run: r.run, ...r.passthrough }] : [])),
    validation: { violations: check.violations, relaxed: check.warnings },
    ...extra,
  };
  log.info({ durationS, segments: slots.length, discontinuities: data.discontinuities, violations: check.violations.length }, 'live recording ready');
  return { kind: 'live', key: `live:${sid}`, subjectId: sid, ok: true, data };
}

/** Video size of rendition `i` in run `run`. */
function sizeOf(ledger: LiveLedger, i: number, run: number): { width: number; height: number } | undefined {
  return ledger.runs.find((r) => r.run === run)?.sizes[ledger.renditions[i].name];
}

/** Poster: 10 % in, from the largest rendition up to 720p (as recorded lessons). */
async function makePoster(ctx: LiveSessionContext, dir: string, videoIdx: number[], durationS: number): Promise<string> {
  const { ledger, storage, bucket, config } = ctx;
  const slots = ledger.slots;
  const posterIdx = videoIdx.find((i) => {
    const s = sizeOf(ledger, i, slots[0].run);
    return !!s && Math.min(s.width, s.height) <= 720;
  }) ?? videoIdx[0];
  const at = slotAt(slots, durationS * 0.1);
  const posterSeg = path.join(dir, 'poster-src.ts');
  await downloadTo(storage, bucket, liveSlotKey(ledger.sessionId, ledger.renditions[posterIdx].name, at.run, at.seq), posterSeg);
  const posterSize = sizeOf(ledger, posterIdx, at.run)!;
  const posterFile = path.join(dir, 'poster.jpg');
  // The keyframe opening that segment (an input seek inside a 2 s TS segment can land past its end).
  await runFfmpeg(buildPosterArgs({ input: posterSeg, atS: 0, width: posterSize.width, height: posterSize.height, output: posterFile }), { ffmpegPath: config.FFMPEG_PATH, signal: ctx.signal, log: ctx.log });
  return posterFile;
}

/** Storyboard: the smallest rendition; one segment per thumbnail interval on a continuous timeline. */
async function makeStoryboard(ctx: LiveSessionContext, dir: string, sbIdx: number, durationS: number): Promise<{ plan: StoryboardPlan; file: string; vtt: string }> {
  const { ledger, storage, bucket, config, log } = ctx;
  const slots = ledger.slots;
  const sbSize = sizeOf(ledger, sbIdx, slots[0].run)!;
  const sb = planStoryboard(durationS, sbSize.width, sbSize.height, { gopSeconds: ledger.segmentSeconds });
  const chosen: { path: string; durationS: number }[] = [];
  for (let k = 0; k < sb.count; k++) {
    const t = k * sb.intervalS;
    const slot = slotAt(slots, t);
    const file = path.join(dir, `sb-${String(k).padStart(4, '0')}.ts`);
    await downloadTo(storage, bucket, liveSlotKey(ledger.sessionId, ledger.renditions[sbIdx].name, slot.run, slot.seq), file);
    chosen.push({ path: file, durationS: Math.max(0.04, Math.min(sb.intervalS, durationS - t)) });
  }
  const list = path.join(dir, 'storyboard.ffconcat');
  await writeFile(list, buildConcatList(chosen));
  const sbInput = path.join(dir, 'storyboard-src.ts');
  await runFfmpeg(buildConcatRemuxArgs({ list, output: sbInput }), { ffmpegPath: config.FFMPEG_PATH, signal: ctx.signal, log });
  const file = path.join(dir, 'storyboard.jpg');
  await runFfmpeg(buildStoryboardArgs({ input: sbInput, plan: sb, output: file }), { ffmpegPath: config.FFMPEG_PATH, signal: ctx.signal, log });
  return { plan: sb, file, vtt: buildStoryboardVtt(sb, 'storyboard.jpg', durationS) };
}

/** The result's renditions: the recording master's measured figures per rendition. */
function recordingRenditions(ledger: LiveLedger) {
  const variants = liveVariants(ledger, { phase: 'recording' });
  return ledger.renditions.map((r, i) => {
    const v = variants.find((x) => x.uri === `${r.name}/index.m3u8`);
    return {
      name: r.name,
      kind: r.kind,
      width: v?.resolution?.width ?? null,
      height: v?.resolution?.height ?? null,
      frameRate: v?.frameRate ?? null,
      bandwidth: v?.bandwidth ?? null,
      averageBandwidth: v?.averageBandwidth ?? null,
      codecs: r.codecs,
      playlistKey: liveMediaPlaylistKey(ledger.sessionId, r.name),
      segments: ledger.slots.length,
      bytes: ledger.slots.reduce((s, x) => s + x.parts[i].bytes, 0),
    };
  });
}

/** The slot playing at `t` seconds into the recording. */
function slotAt(slots: readonly LiveSlot[], t: number): LiveSlot {
  let start = 0;
  for (const s of slots) {
    start += s.parts[0].durationS;
    if (t < start) return s;
  }
  return slots[slots.length - 1];
}

async function downloadTo(storage: ObjectStorage, bucket: string, key: string, file: string): Promise<void> {
  await writeFile(file, await retry(() => storage.getBuffer(bucket, key)));
}

/** Facts of every recorded segment, read back from storage (what players will get). */
async function loadFacts(ctx: LiveSessionContext): Promise<Record<string, SegmentFacts[]>> {
  const { ledger, storage, bucket } = ctx;
  const out: Record<string, SegmentFacts[]> = {};
  for (const r of ledger.renditions) {
    const list: SegmentFacts[] = [];
    await pMap(
      ledger.slots,
      async (s) => {
        const bytes = await retry(() => storage.getBuffer(bucket, liveSlotKey(ledger.sessionId, r.name, s.run, s.seq))).catch(() => null);
        if (bytes) list[s.msn] = segmentFactsFromTs(liveSegmentFile(s.run, s.seq), bytes);
      },
      { concurrency: 4 },
    );
    out[`${r.name}/index.m3u8`] = list.filter((x) => !!x);
  }
  return out;
}

/** Segments uploaded by a run that never made it into the ledger (a worker died in between). */
async function removeOrphans(ctx: LiveSessionContext): Promise<void> {
  const { ledger, storage, bucket } = ctx;
  const keep = new Set(ledger.slots.flatMap((s) => ledger.renditions.map((r) => liveSlotKey(ledger.sessionId, r.name, s.run, s.seq))));
  const prefix = livePrefix(ledger.sessionId);
  // the capture's segments (source/) are its own; only the transcoder's orphans go
  const keys = (await storage.list(bucket, prefix)).map((o) => o.key);
  const orphans = [
    ...keys.filter((k) => /\/r\d+-\d+\.ts$/.test(k) && !keep.has(k) && !k.startsWith(`${prefix}${captureRendition}/`)),
    // the live playlists of later ladder generations (live-ladder-fallback.ts): the recording names none
    ...keys.filter((k) => /\/index-g\d+\.m3u8$/.test(k)),
  ];
  for (const k of orphans) await storage.remove(bucket, k).catch(() => undefined);
  if (orphans.length) ctx.log.info({ orphans: orphans.length }, 'removed segments no playlist ever named and later generations\' live playlists');
}

const noMedia = (): PermanentJobError => new PermanentJobError('live_no_media', 'the live lesson ended before any video arrived');
const round3 = (n: number): number => Math.round(n * 1000) / 1000;
