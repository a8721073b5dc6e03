import { createWriteStream } from 'node:fs';
import { appendFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Job } from 'bullmq';
import { vodLadder } from '../config/ladder.ts';
import { FfmpegError, probeStreamEnds, runFfmpeg, runFfprobe, withWorkDir } from '../src/infra/ffmpeg.runner.ts';
import { fileLoader } from '../src/infra/hls-source.ts';
import type { Logger } from '../src/infra/logger.ts';
import type { ObjectStorage } from '../src/infra/storage.ts';
import {
  buildPosterArgs,
  buildStoryboardArgs,
  buildStoryboardVtt,
  buildTranscodeArgs,
  concatListInput,
  planStoryboard,
  planTranscode,
  type TranscodePlan,
  type VideoRendition,
} from '../src/media/ffmpeg-args.ts';
import { measureBandwidth, orderVariants, readMediaPlaylist, requiredVersion, targetDurationFor, writeMasterPlaylist, writeVodMediaPlaylist, type VariantEntry } from '../src/media/hls-playlists.ts';
import { loadVodInput, validateVod, type Violation } from '../src/media/hls-validator.ts';
import { durationFailure, failureMessage, looksTruncated, parseProbe, rationalValue, withMeasuredEnds, type MediaInfo } from '../src/media/probe.ts';
import { capForPeakRatio, freeBox, nullPacket, peakToAverage, stuffingPlan, TS_PACKET } from '../src/media/rate-guard.ts';
import { inspectFmp4Init } from '../src/media/fmp4-segment.ts';
import { contentTypeOf, hlsPrefix, masterKey, mediaPlaylistKey, posterKey, segmentKey, storyboardImageKey, storyboardVttKey } from '../src/media/storage-keys.ts';
import { inspectTsSegment } from '../src/media/ts-segment.ts';
import type { JobResult } from '../src/jobs/job-types.ts';
import { PermanentJobError } from '../src/jobs/permanent-error.ts';
import { transcodePayloadSchema, transcodeResultKey, type TranscodePayload, type TranscodeRenditionData, type TranscodeResultData } from '../src/jobs/transcode.job.ts';
import type { Config } from '../config/config.schema.ts';
import type { JobHandler } from './handler-types.ts';
import type { HandlerEntry } from './worker.ts';

export { transcodeFailureResult } from '../src/jobs/transcode.job.ts';

/** Peak/average ratio a rendition is brought under (REFERENCE: at most 2x; margin for the measurement). */
const maxPeakRatio = 1.9;

/** The output failed our own HLS checks: a bug on our side, retrying the same encode cannot help. */
export class OutputInvalidError extends PermanentJobError {
  constructor(readonly violations: Violation[]) {
    super('We could not finish processing this video because of a fault on our side (the result failed our quality checks). The technical team has been told; please try again later or upload the file again.');
    this.name = 'OutputInvalidError';
  }
}

interface RenditionOutput {
  name: string;
  kind: 'video' | 'audio';
  rendition: TranscodePlan['renditions'][number];
  segments: { uri: string; durationS: number; file: string; bytes: number }[];
  /** fMP4 initialization section (EXT-X-MAP), null for MPEG-TS. */
  init: { uri: string; file: string } | null;
  codecs: string;
}

/**
 * The `transcode` job: source -> probe -> one ffmpeg for the whole ladder -> poster + storyboard ->
 * playlists from measured segments -> our validator -> upload (segments, media playlists, images,
 * master last) under `assets/{assetId}/`. Idempotent: the same input gives the same keys and bytes, so
 * a retried or stalled-and-restarted job overwrites its own partial output and returns the same result.
 * Unusable input throws PermanentJobError with a teacher-readable message; everything else retries.
 */
export const transcodeHandler: JobHandler<TranscodePayload> = async (job, deps, signal) => {
  const parsed = transcodePayloadSchema.safeParse(job.data);
  if (!parsed.success) throw new PermanentJobError(`invalid transcode job: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const p = parsed.data;
  const { config, storage } = deps;
  // jobId comes with the bootstrap's child logger.
  const log = deps.log.child({ assetId: p.assetId, lessonId: p.lessonId });
  const progress = progressReporter(job, log);
  const bucket = storage.mediaBucket;
  const format = config.HLS_SEGMENT_FORMAT;

  return withWorkDir(
    config.WORK_DIR,
    `transcode-${p.assetId}`,
    async (dir) => {
      const steps: Record<string, number> = {};
      let mark = Date.now();
      const step = (name: string) => {
        const now = Date.now();
        steps[name] = now - mark;
        mark = now;
      };
      // 1. Source to the work dir.
      const ext = /\.([A-Za-z0-9]{1,8})$/.exec(p.sourceKey)?.[1]?.toLowerCase() ?? 'bin';
      const src = path.join(dir, `source.${ext}`);
      const head = await storage.stat(bucket, p.sourceKey);
      if (!head) throw new PermanentJobError('The uploaded file could not be found any more. Please upload the lesson video again.');
      if (head.size === 0) throw new PermanentJobError(failureMessage('empty'));
      await pipeline(await storage.get(bucket, p.sourceKey), createWriteStream(src), { signal });
      progress(2);
      step('downloadMs');

      // 2. Probe: unusable input fails at once with the reason.
      const probe = await runFfprobe(config.FFPROBE_PATH, src, { signal });
      const outcome = parseProbe(probe, config.MEDIA_MAX_DURATION_S);
      if (!outcome.ok) {
        log.warn({ reason: outcome.failure.reason, stderr: probe.stderr.slice(-500) }, 'source rejected');
        throw new PermanentJobError(outcome.failure.message);
      }
      // Header lengths can be off (Matroska, ASF, FLV): measure where each stream really ends.
      const ends = await probeStreamEnds(config.FFPROBE_PATH, src, outcome.info.formatStartS + outcome.info.durationS, { signal });
      const info = withMeasuredEnds(outcome.info, ends);
      const tooLong = durationFailure(info, config.MEDIA_MAX_DURATION_S);
      if (tooLong) throw new PermanentJobError(tooLong.message);
      const plan = planTranscode(info, vodLadder);
      step('probeMs');
      log.info({ source: sourceSummary(info), renditions: plan.renditions.map((r) => (r.kind === 'video' ? `${r.name}:${r.width}x${r.height}` : r.name)), fps: plan.fps }, 'transcode planned');
      progress(4);

      // 3. One ffmpeg for every rendition.
      const outDir = path.join(dir, 'hls');
      const encode = async (target: string, planned: TranscodePlan, only: string[] | undefined, span: [number, number]) => {
        for (const r of planned.renditions) if (!only || only.includes(r.name)) await mkdir(path.join(target, r.name), { recursive: true });
        const args = buildTranscodeArgs({ input: src, inputOptions: ['-probesize', '50M', '-analyzeduration', '20M'], outDir: target, plan: planned, preset: config.TRANSCODE_X264_PRESET, segmentFormat: format, only });
        try {
          return await runFfmpeg(args, { ffmpegPath: config.FFMPEG_PATH, durationS: planned.durationS, signal, log, onProgress: (pct) => progress(span[0] + ((span[1] - span[0]) * pct) / 100) });
        } catch (err) {
          if (err instanceof FfmpegError && !err.aborted && err.signal === null && /Invalid data found when processing input|moov atom not found|partial file|Invalid NAL unit size|corrupt|Error splitting the input into NAL units/i.test(err.stderrTail)) {
            log.warn({ stderrTail: err.stderrTail }, 'source could not be decoded');
            throw new PermanentJobError(failureMessage('truncated'));
          }
          throw err;
        }
      };
      const run = await encode(outDir, plan, undefined, [4, 80]);
      signal.throwIfAborted();
      step('encodeMs');

      let outputs = await collectOutputs(outDir, plan);
      await mergeAudioSlivers(outputs);
      const top = outputs.find((o) => o.kind === 'video')!;
      const producedS = sum(top.segments.map((s) => s.durationS));
      if (plan.durationS !== null && looksTruncated(run.stderrTail, plan.durationS, producedS)) {
        log.warn({ expectedS: plan.durationS, producedS, stderrTail: run.stderrTail }, 'source ends early');
        throw new PermanentJobError(failureMessage('truncated'));
      }

      // 4. Peak <= 2x average: re-encode bursty video renditions with a lower cap, then pad what remains.
      const reencoded: string[] = [];
      const stuffed: string[] = [];
      const lowered = lowerCaps(plan, outputs);
      if (lowered.names.length) {
        log.info({ renditions: lowered.names, caps: lowered.caps }, 'peak above 2x average: re-encoding with a lower cap');
        const redo = path.join(dir, 'redo');
        await encode(redo, lowered.plan, lowered.names, [80, 84]);
        for (const name of lowered.names) {
          await rm(path.join(outDir, name), { recursive: true, force: true });
          await rename(path.join(redo, name), path.join(outDir, name));
        }
        reencoded.push(...lowered.names);
        outputs = await collectOutputs(outDir, plan);
      }
      for (const o of outputs) {
        const target = targetDurationFor(o.segments.map((s) => s.durationS));
        const packets = stuffingPlan(o.segments.map((s) => ({ durationS: s.durationS, bytes: s.bytes })), target, maxPeakRatio);
        if (!packets.some((n) => n > 0)) continue;
        const pkt = nullPacket();
        for (let i = 0; i < o.segments.length; i++) {
          if (packets[i] <= 0) continue;
          // MPEG-TS: null packets (PID 0x1FFF); fMP4: one `free` box of the same size. Players skip both.
          await appendFile(o.segments[i].file, format === 'fmp4' ? freeBox(packets[i] * TS_PACKET) : Buffer.concat(Array.from({ length: packets[i] }, () => pkt)));
        }
        stuffed.push(o.name);
      }
      if (stuffed.length) {
        log.info({ renditions: stuffed }, 'peak above 2x average: null packets added to the lightest segments');
        outputs = await collectOutputs(outDir, plan);
      }
      progress(85);
      step('rateGuardMs');

      // 5. Poster (10 % in) and storyboard (keyframes of a small rendition).
      const videos = outputs.filter((o) => o.kind === 'video');
      const durationS = round3(producedS);
      const posterSrc = videos.find((o) => shortSide(o.rendition as VideoRendition) <= 720) ?? videos[0];
      const pr = posterSrc.rendition as VideoRendition;
      const at = durationS * 0.1;
      const seg = segmentAt(posterSrc.segments, at);
      const posterFile = path.join(dir, 'poster.jpg');
      // A TS segment decodes on its own; fMP4 is read as init + segments through a concat list.
      const readable = async (o: RenditionOutput, segs: RenditionOutput['segments'], tag: string): Promise<string> => {
        if (!o.init) return segs.length === 1 ? segs[0].file : path.join(outDir, o.name, 'index.m3u8');
        const list = path.join(dir, `${o.name}-${tag}.txt`);
        await writeFile(list, [o.init.file, ...segs.map((x) => x.file)].join('\n') + '\n');
        return concatListInput(list);
      };
      const posterRun = async (s: { file: string; offsetS: number }) => {
        const input = await readable(posterSrc, posterSrc.segments.filter((x) => x.file === s.file), 'poster');
        await runFfmpeg(buildPosterArgs({ input, atS: s.offsetS, width: pr.width, height: pr.height, output: posterFile }), { ffmpegPath: config.FFMPEG_PATH, signal, log });
      };
      await posterRun(seg);
      // Nothing decodable at that instant (a tail without frames): the very first picture will do.
      if (!(await exists(posterFile))) await posterRun({ file: posterSrc.segments[0].file, offsetS: 0 });
      const sbSrc = videos[videos.length - 1];
      const sr = sbSrc.rendition as VideoRendition;
      const sb = planStoryboard(durationS, sr.width, sr.height, { gopSeconds: plan.gopSeconds });
      const sbFile = path.join(dir, 'storyboard.jpg');
      const sbInput = sbSrc.init ? await readable(sbSrc, sbSrc.segments, 'storyboard') : path.join(outDir, sbSrc.name, 'index.m3u8');
      await runFfmpeg(buildStoryboardArgs({ input: sbInput, plan: sb, output: sbFile }), { ffmpegPath: config.FFMPEG_PATH, signal, log });
      const vttFile = path.join(dir, 'storyboard.vtt');
      await writeFile(vttFile, buildStoryboardVtt(sb, 'storyboard.jpg', durationS));
      progress(88);
      step('imagesMs');

      // 6. Our playlists from the measured segments.
      const variants: VariantEntry[] = [];
      const renditionData: TranscodeRenditionData[] = [];
      for (const o of outputs) {
        await writeFile(path.join(outDir, o.name, 'index.m3u8'), writeVodMediaPlaylist(o.segments, { mapUri: o.init?.uri ?? null }));
        const target = targetDurationFor(o.segments.map((s) => s.durationS));
        const bw = measureBandwidth(o.segments.map((s) => ({ durationS: s.durationS, bytes: s.bytes })), target);
        const r = o.rendition;
        const entry: VariantEntry = {
          uri: `${o.name}/index.m3u8`,
          bandwidth: Math.ceil(bw.peakBps),
          averageBandwidth: Math.ceil(bw.averageBps),
          codecs: o.codecs,
          ...(r.kind === 'video' ? { resolution: { width: r.width, height: r.height }, frameRate: rationalValue(plan.fps) } : {}),
        };
        variants.push(entry);
        renditionData.push({
          name: o.name,
          kind: o.kind,
          width: r.kind === 'video' ? r.width : null,
          height: r.kind === 'video' ? r.height : null,
          frameRate: r.kind === 'video' ? round3(rationalValue(plan.fps)) : null,
          bandwidth: entry.bandwidth,
          averageBandwidth: entry.averageBandwidth,
          codecs: o.codecs,
          playlistKey: mediaPlaylistKey(p.assetId, o.name),
          segments: o.segments.length,
          bytes: sum(o.segments.map((s) => s.bytes)),
        });
      }
      const ordered = orderVariants(variants);
      // The master's version is what its media playlists need (3; 6 with fMP4's EXT-X-MAP).
      const version = requiredVersion({ decimalDurations: true, map: format === 'fmp4' });
      await writeFile(path.join(outDir, 'master.m3u8'), writeMasterPlaylist(ordered, { version, independentSegments: true }));

      // 7. Our validator on exactly what will be uploaded: any violation is our bug.
      const violations = validateVod(await loadVodInput(fileLoader(outDir), 'master.m3u8', { durationS }));
      if (violations.length) {
        log.error({ violations }, 'HLS output failed validation');
        throw new OutputInvalidError(violations);
      }
      progress(90);
      step('validateMs');

      // 8. Upload: init sections and segments, then media playlists, then images, then the master last.
      const uploaded = new Set<string>();
      const put = async (key: string, file: string) => {
        await storage.putFile(bucket, key, file, contentTypeOf(key));
        uploaded.add(key);
      };
      for (const o of outputs) if (o.init) await put(segmentKey(p.assetId, o.name, o.init.uri), o.init.file);
      const segJobs = outputs.flatMap((o) => o.segments.map((s) => ({ key: segmentKey(p.assetId, o.name, s.uri), file: s.file })));
      let done = 0;
      await eachLimit(segJobs, 4, async (j) => {
        signal.throwIfAborted();
        await put(j.key, j.file);
        done++;
        progress(90 + (8 * done) / segJobs.length);
      });
      for (const o of outputs) await put(mediaPlaylistKey(p.assetId, o.name), path.join(outDir, o.name, 'index.m3u8'));
      await put(posterKey(p.assetId), posterFile);
      await put(storyboardImageKey(p.assetId), sbFile);
      await put(storyboardVttKey(p.assetId), vttFile);
      signal.throwIfAborted();
      await put(masterKey(p.assetId), path.join(outDir, 'master.m3u8'));
      await removeStale(storage, bucket, hlsPrefix(p.assetId), uploaded, log);
      progress(100);
      step('uploadMs');

      const data: TranscodeResultData = {
        durationS,
        width: (videos[0].rendition as VideoRendition).width,
        height: (videos[0].rendition as VideoRendition).height,
        masterKey: masterKey(p.assetId),
        posterKey: posterKey(p.assetId),
        storyboard: { imageKey: storyboardImageKey(p.assetId), vttKey: storyboardVttKey(p.assetId), intervalS: sb.intervalS, columns: sb.columns, rows: sb.rows, thumbWidth: sb.thumbWidth, thumbHeight: sb.thumbHeight, count: sb.count },
        renditions: ordered.map((v) => renditionData.find((r) => `${r.name}/index.m3u8` === v.uri)!),
        source: sourceSummary(info),
        rateGuard: { reencoded, stuffed },
      };
      log.info({ durationS, renditions: data.renditions.map((r) => `${r.name}@${r.averageBandwidth}/${r.bandwidth}`), rateGuard: data.rateGuard, steps }, 'transcode done');
      const result: JobResult = { kind: 'transcode', key: transcodeResultKey(p.assetId), subjectId: p.assetId, ok: true, data: data as unknown as Record<string, unknown> };
      return result;
    },
    log,
  );
};

/** The handler-map entry (workers/handlers.ts): `transcode: transcodeHandlerEntry(config)`. */
export function transcodeHandlerEntry(config: Config): HandlerEntry {
  return {
    handler: transcodeHandler as HandlerEntry['handler'],
    kind: 'transcode',
    subject: (d) => String(d.assetId),
    concurrency: config.TRANSCODE_CONCURRENCY,
  };
}

/** Throttled job.updateProgress: integer percent, only upwards, at most about once a second. */
function progressReporter(job: Job, log: Logger): (pct: number) => void {
  let last = -1;
  let lastAt = 0;
  return (pct: number) => {
    const v = Math.max(0, Math.min(100, Math.floor(pct)));
    const now = Date.now();
    if (v <= last || (v < 100 && now - lastAt < 1000)) return;
    last = v;
    lastAt = now;
    job.updateProgress(v).catch((err: unknown) => log.debug({ err }, 'progress not stored'));
  };
}

/** Segments of every rendition as ffmpeg wrote them, with sizes and the codecs of the real encode. */
async function collectOutputs(outDir: string, plan: TranscodePlan): Promise<RenditionOutput[]> {
  const out: RenditionOutput[] = [];
  for (const r of plan.renditions) {
    const folder = path.join(outDir, r.name);
    const pl = readMediaPlaylist(await readFile(path.join(folder, 'index.m3u8'), 'utf8'));
    if (!pl.segments.length) throw new Error(`ffmpeg wrote no segment for ${r.name}`);
    const init = pl.mapUri ? { uri: pl.mapUri, file: path.join(folder, pl.mapUri) } : null;
    const segments: RenditionOutput['segments'] = [];
    for (const s of pl.segments) {
      const file = path.join(folder, s.uri);
      segments.push({ uri: s.uri, durationS: s.durationS, file, bytes: (await stat(file)).size });
    }
    let codecs: string[];
    if (init) {
      const tracks = inspectFmp4Init(await readFile(init.file)).tracks;
      codecs = ['vide', 'soun'].map((h) => tracks.find((t) => t.handler === h)?.codecs).filter((c): c is string => !!c);
    } else {
      const f = inspectTsSegment(await readFile(segments[0].file));
      codecs = [f.video?.codecs, f.audio?.codecs].filter((c): c is string => !!c);
    }
    out.push({ name: r.name, kind: r.kind, rendition: r, segments, init, codecs: codecs.join(',') });
  }
  return out;
}

/**
 * AAC's priming frame puts the audio-only rendition ~21 ms ahead of time zero, so when the lesson
 * length is a whole number of segments it gets one extra sliver segment the video renditions do not
 * have. The sliver is appended to the segment before it (TS packets, or fMP4 fragments without their
 * styp/sidx) so every rendition has the same segment count and boundaries (REFERENCE: aligned).
 */
async function mergeAudioSlivers(outputs: RenditionOutput[]): Promise<void> {
  const video = outputs.find((o) => o.kind === 'video');
  if (!video) return;
  for (const o of outputs) {
    if (o.kind !== 'audio' || o.segments.length !== video.segments.length + 1) continue;
    const last = o.segments[o.segments.length - 1];
    if (last.durationS >= 0.5) continue;
    const prev = o.segments[o.segments.length - 2];
    let tail: Buffer = await readFile(last.file);
    if (o.init) tail = withoutBoxes(tail, ['styp', 'sidx']);
    await appendFile(prev.file, tail);
    await rm(last.file, { force: true });
    prev.durationS = Math.round((prev.durationS + last.durationS) * 1e6) / 1e6;
    prev.bytes = (await stat(prev.file)).size;
    o.segments.pop();
    await writeFile(path.join(path.dirname(prev.file), 'index.m3u8'), writeVodMediaPlaylist(o.segments, { mapUri: o.init?.uri ?? null }));
  }
}

/** Top-level ISO BMFF boxes of a buffer, minus the given types. */
function withoutBoxes(b: Buffer, drop: string[]): Buffer {
  const keep: Buffer[] = [];
  for (let off = 0; off + 8 <= b.length; ) {
    const size = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    const len = size === 0 ? b.length - off : size;
    if (len < 8) break;
    if (!drop.includes(type)) keep.push(b.subarray(off, off + len));
    off += len;
  }
  return Buffer.concat(keep);
}

/** Lowered caps never go under this share of the rung's cap: motion keeps a watchable quality, stuffing does the rest. */
const minCapShare = 0.5;

/**
 * Video renditions whose peak exceeds the ratio, with a lower cap (not under half the rung's) that
 * should bring them under it or at least cut the padding the rest needs.
 */
function lowerCaps(plan: TranscodePlan, outputs: RenditionOutput[]): { names: string[]; caps: Record<string, number>; plan: TranscodePlan } {
  const caps: Record<string, number> = {};
  for (const o of outputs) {
    if (o.kind !== 'video') continue;
    const measures = o.segments.map((s) => ({ durationS: s.durationS, bytes: s.bytes }));
    const target = targetDurationFor(measures.map((m) => m.durationS));
    if (peakToAverage(measures, target) <= maxPeakRatio) continue;
    const cap = capForPeakRatio(measures, target, 1.7);
    const r = o.rendition as VideoRendition;
    if (cap === null) continue;
    // The cap covers the whole mux: leave room for the audio and ~8 % TS overhead.
    const toVideoKbps = (bps: number) => (bps / 1000) * 0.92 - r.audioKbps;
    const videoKbps = Math.max(Math.ceil(r.maxrateKbps * minCapShare), Math.floor(toVideoKbps(cap)));
    const peakVideoKbps = toVideoKbps(measureBandwidth(measures, target).peakBps);
    if (videoKbps < r.maxrateKbps && peakVideoKbps > videoKbps * 1.05) caps[o.name] = videoKbps;
  }
  const names = Object.keys(caps);
  return {
    names,
    caps,
    plan: {
      ...plan,
      // A one-second VBV buffer holds the lowered cap over every segment.
      renditions: plan.renditions.map((r) => (r.kind === 'video' && caps[r.name] ? { ...r, maxrateKbps: caps[r.name], bufsizeKbps: caps[r.name] } : r)),
    },
  };
}

function segmentAt(segments: RenditionOutput['segments'], atS: number): { file: string; offsetS: number } {
  let start = 0;
  for (const s of segments) {
    if (atS < start + s.durationS) return { file: s.file, offsetS: Math.max(0, atS - start) };
    start += s.durationS;
  }
  return { file: segments[0].file, offsetS: 0 };
}

/** Objects under the asset's HLS prefix that this run did not write (a previous, different attempt). */
async function removeStale(storage: ObjectStorage, bucket: string, prefix: string, keep: Set<string>, log: Logger): Promise<void> {
  const stale = (await storage.list(bucket, prefix)).map((o) => o.key).filter((k) => !keep.has(k));
  for (const key of stale) await storage.remove(bucket, key);
  if (stale.length) log.info({ stale: stale.length }, 'removed objects of an earlier attempt');
}

async function eachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

function sourceSummary(info: MediaInfo): TranscodeResultData['source'] {
  return {
    container: info.formatName,
    videoCodec: info.video.codec,
    audioCodec: info.audio?.codec ?? null,
    width: info.video.width,
    height: info.video.height,
    rotation: info.video.rotation,
    interlaced: info.video.interlaced,
    vfr: info.video.vfr,
    bitDepth: info.video.bitDepth,
    hdr: info.video.hdr,
    audioChannels: info.audio?.channels ?? null,
  };
}

const exists = (file: string): Promise<boolean> => stat(file).then((s) => s.size > 0, () => false);
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const round3 = (n: number): number => Math.round(n * 1000) / 1000;
const shortSide = (r: VideoRendition): number => Math.min(r.width, r.height);
