import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../config/config.schema.ts';
import { createLogger } from '../../src/infra/logger.ts';
import type { QueueFactory } from '../../src/infra/queue.ts';
import type { ObjectStorage } from '../../src/infra/storage.ts';
import { storageLoader } from '../../src/infra/hls-source.ts';
import { validateVod } from '../../src/media/hls-validator.ts';
import { loadVodInput } from '../../src/media/hls-vod-input.ts';
import { hlsPrefix, masterKey, posterKey, sourceKey, storyboardImageKey, storyboardVttKey } from '../../src/media/storage-keys.ts';
import { inspectTsSegment } from '../../src/media/ts-segment.ts';
import { jobIds, type JobResult } from '../../src/jobs/job-types.ts';
import type { ProcessingFailureCode } from '../../src/domain/processing-failures.ts';
import { transcodeJob, type TranscodeResultData } from '../../src/jobs/transcode.job.ts';
import { transcodeHandler, transcodeHandlerEntry } from '../../workers/transcode.handler.ts';
import { startJobWorkers } from '../../workers/worker.ts';
import { generateMedia, type BrokenMediaKind, type GeneratedMedia, type GoodMediaKind } from '../helpers/media.ts';
import { testConfig, testQueues, testStorage } from '../helpers/parts.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Rig {
  cfg: Config;
  storage: ObjectStorage;
  queues: QueueFactory;
  events: QueueEvents;
  workDir: string;
  drops: (() => Promise<void>)[];
}

async function rig(over: Partial<Record<keyof Config, string>> = {}, startWorker = true): Promise<Rig> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'cc-transcode-work-'));
  const cfg = testConfig({ WORK_DIR: workDir, TRANSCODE_CONCURRENCY: '1', ...over });
  const s = await testStorage(cfg);
  const q = await testQueues(cfg);
  const events = q.queues.events('transcode');
  await events.waitUntilReady();
  if (startWorker) {
    const log = createLogger('silent');
    startJobWorkers(q.queues, { config: cfg, storage: s.storage, log }, { transcode: transcodeHandlerEntry(cfg) });
  }
  return { cfg, storage: s.storage, queues: q.queues, events, workDir, drops: [q.drop, s.drop, () => rm(workDir, { recursive: true, force: true })] };
}

async function upload(r: Rig, media: GeneratedMedia): Promise<{ assetId: string; key: string }> {
  const assetId = randomUUID();
  const key = sourceKey(assetId, media.ext);
  await r.storage.putFile(r.storage.mediaBucket, key, media.file, 'application/octet-stream');
  return { assetId, key };
}

async function enqueue(r: Rig, assetId: string, key: string): Promise<Job> {
  const j = transcodeJob({ assetId, sourceKey: key, lessonId: randomUUID() }, r.cfg);
  return r.queues.queue(j.queue).add(j.name, j.data, j.opts);
}

async function poll<T>(fn: () => Promise<T | undefined | null>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((res) => setTimeout(res, 100));
  }
}

const mediaDir = await mkdtemp(path.join(os.tmpdir(), 'cc-transcode-media-'));
afterAll(async () => {
  await rm(mediaDir, { recursive: true, force: true });
});

describe('transcode job through a BullMQ worker', () => {
  let r: Rig;
  beforeAll(async () => {
    r = await rig();
  });
  afterAll(async () => {
    for (const d of r.drops) await d();
  });

  const good: GoodMediaKind[] = [
    'normal-720p', 'normal-1080p', 'rotated-90', 'odd-dimensions', 'anamorphic', 'vfr', 'interlaced',
    'h264-10bit', 'hevc-10bit-hlg', 'mono', 'surround-5.1', 'no-audio', 'audio-longer',
  ];

  for (const kind of good) {
    it(`when a ${kind} source is uploaded, then a valid never-upscaled ladder, poster and storyboard land in storage, master last`, async () => {
      const media = await generateMedia(kind, mediaDir);
      const { assetId, key } = await upload(r, media);
      const job = await enqueue(r, assetId, key);
      const result = (await job.waitUntilFinished(r.events, 280_000)) as JobResult;
      expect(result).toMatchObject({ kind: 'transcode', key: `transcode:${assetId}`, subjectId: assetId, ok: true });
      const data = result.data as unknown as TranscodeResultData;
      const bucket = r.storage.mediaBucket;

      // The ladder: at least two video bit rates, audio-only last, never above the source's display size, aspect kept.
      const videos = data.renditions.filter((x) => x.kind === 'video');
      expect(videos.length).toBeGreaterThanOrEqual(2);
      expect(data.renditions.at(-1)).toMatchObject({ name: 'audio', kind: 'audio', codecs: 'mp4a.40.2' });
      const dw = media.expect.displayWidth!;
      const dh = media.expect.displayHeight!;
      for (const v of videos) {
        expect(v.width!).toBeLessThanOrEqual(dw);
        expect(v.height!).toBeLessThanOrEqual(dh);
        expect(v.width! % 2 + v.height! % 2).toBe(0);
        expect(Math.abs(v.width! / v.height! - dw / dh)).toBeLessThan(0.02);
        expect(v.codecs).toMatch(/^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/);
        expect(v.frameRate! <= 30).toBe(true);
      }
      expect(data.durationS).toBeCloseTo(media.expect.durationS!, 1);

      // What players will fetch passes our validator.
      const input = await loadVodInput(storageLoader(r.storage, bucket, hlsPrefix(assetId)), 'master.m3u8', { durationS: data.durationS });
      expect(validateVod(input)).toEqual([]);

      // Every segment carries AAC-LC stereo 48 kHz, whatever the source had (mono, 5.1, none).
      const firstSeg = (await r.storage.list(bucket, `${hlsPrefix(assetId)}${videos.at(-1)!.name}/`)).find((o) => o.key.endsWith('.ts'))!;
      const facts = inspectTsSegment(await r.storage.getBuffer(bucket, firstSeg.key));
      expect(facts.audio).toMatchObject({ codecs: 'mp4a.40.2', sampleRate: 48000, channels: 2 });
      expect(facts.video?.startsWithIdr).toBe(true);

      // Poster, storyboard and master are there; every stored object under hls/ is named by a playlist.
      const master = await r.storage.stat(bucket, masterKey(assetId));
      expect(master?.contentType).toBe('application/vnd.apple.mpegurl');
      expect((await r.storage.stat(bucket, posterKey(assetId)))?.contentType).toBe('image/jpeg');
      expect((await r.storage.stat(bucket, storyboardImageKey(assetId)))?.size).toBeGreaterThan(0);
      const vtt = (await r.storage.getBuffer(bucket, storyboardVttKey(assetId))).toString();
      expect(vtt.startsWith('WEBVTT\n\n00:00:00.000 --> ')).toBe(true);
      expect(vtt).toContain(`storyboard.jpg#xywh=0,0,${data.storyboard.thumbWidth},${data.storyboard.thumbHeight}`);
      const stored = (await r.storage.list(bucket, hlsPrefix(assetId))).map((o) => o.key.slice(hlsPrefix(assetId).length)).sort();
      const named = ['master.m3u8', ...Object.keys(input.media), ...Object.entries(input.segments!).flatMap(([u, segs]) => segs.map((s) => `${path.posix.dirname(u)}/${s.uri}`))].sort();
      expect(stored).toEqual(named);
      // The master is the newest object of the asset (written last).
      for (const o of await r.storage.list(bucket, hlsPrefix(assetId))) {
        const s = await r.storage.stat(bucket, o.key);
        expect(s!.lastModified.getTime()).toBeLessThanOrEqual(master!.lastModified.getTime());
      }

      const done = await r.queues.queue('transcode').getJob(job.id!);
      expect(done?.progress).toBe(100);
      expect(done?.attemptsMade).toBe(1);

      // Case specifics.
      if (kind === 'rotated-90') expect([videos[0].width, videos[0].height]).toEqual([720, 1280]);
      if (kind === 'anamorphic') expect([videos[0].width, videos[0].height]).toEqual([1280, 720]);
      if (kind === 'odd-dimensions') expect([videos[0].width, videos[0].height]).toEqual([852, 478]);
      if (kind === 'normal-1080p') expect(videos.map((v) => v.name).sort()).toEqual(['1080p', '360p', '480p', '720p']);
      if (kind === 'normal-720p') expect(videos.map((v) => v.name)).not.toContain('1080p');
      if (kind === 'interlaced') expect(data.source).toMatchObject({ interlaced: true });
      if (kind === 'vfr') expect(data.source).toMatchObject({ vfr: true });
      if (kind === 'hevc-10bit-hlg') expect(data.source).toMatchObject({ videoCodec: 'hevc', bitDepth: 10, hdr: 'hlg' });
      if (kind === 'no-audio') expect(data.source.audioCodec).toBeNull();
    }, 300_000);
  }

  const broken: [BrokenMediaKind, RegExp, ProcessingFailureCode][] = [
    ['no-streams', /no picture or sound/, 'no_media_streams'],
    ['audio-only', /sound but no picture/, 'no_video_stream'],
    ['truncated', /incomplete/, 'media_truncated'],
    ['truncated-faststart', /incomplete/, 'media_truncated'],
    ['text-as-mp4', /not a video we can read/, 'media_unreadable'],
    ['picture', /still picture/, 'picture_only'],
  ];
  for (const [kind, message, errorCode] of broken) {
    it(`when a ${kind} file is uploaded, then the job fails at once with a message for the teacher and posts it as the result`, async () => {
      const media = await generateMedia(kind, mediaDir);
      const { assetId, key } = await upload(r, media);
      const job = await enqueue(r, assetId, key);
      await expect(job.waitUntilFinished(r.events, 120_000)).rejects.toThrow(message);
      const failed = await r.queues.queue('transcode').getJob(job.id!);
      expect(failed?.attemptsMade).toBe(1);
      expect(failed?.failedReason).toMatch(message);
      const posted = await poll(() => r.queues.queue('results').getJob(jobIds.result('transcode', assetId, `fail-${job.id}`)));
      expect(posted.data).toMatchObject({ kind: 'transcode', key: `transcode:${assetId}`, subjectId: assetId, ok: false, error: expect.stringMatching(message), errorCode });
      expect(await r.storage.list(r.storage.mediaBucket, `assets/${assetId}/`)).toEqual([]);
    }, 180_000);
  }
});

describe('transcode limits', () => {
  let r: Rig;
  beforeAll(async () => {
    r = await rig({ MEDIA_MAX_DURATION_S: '2' });
  });
  afterAll(async () => {
    for (const d of r.drops) await d();
  });

  it('when a lesson is longer than the configured maximum, then it fails at once saying both lengths', async () => {
    const media = await generateMedia('no-audio', path.join(mediaDir, 'long'));
    const { assetId, key } = await upload(r, media);
    const job = await enqueue(r, assetId, key);
    await expect(job.waitUntilFinished(r.events, 60_000)).rejects.toThrow('The lesson is 4 s long; the longest accepted is 2 s.');
    expect((await r.queues.queue('transcode').getJob(job.id!))?.attemptsMade).toBe(1);
    const posted = await poll(() => r.queues.queue('results').getJob(jobIds.result('transcode', assetId, `fail-${job.id}`)));
    expect(posted.data).toMatchObject({ ok: false, errorCode: 'duration_too_long' });
  }, 120_000);
});

describe('fMP4 segments (HLS_SEGMENT_FORMAT=fmp4)', () => {
  let r: Rig;
  beforeAll(async () => {
    r = await rig({ HLS_SEGMENT_FORMAT: 'fmp4' });
  });
  afterAll(async () => {
    for (const d of r.drops) await d();
  });

  it('when the segment format is fMP4, then every rendition has an init section named by EXT-X-MAP and the ladder passes the validator', async () => {
    const media = await generateMedia('normal-720p', path.join(mediaDir, 'fmp4'));
    const { assetId, key } = await upload(r, media);
    const job = await enqueue(r, assetId, key);
    const result = (await job.waitUntilFinished(r.events, 280_000)) as JobResult;
    expect(result.ok).toBe(true);
    const bucket = r.storage.mediaBucket;
    const input = await loadVodInput(storageLoader(r.storage, bucket, hlsPrefix(assetId)));
    expect(validateVod(input)).toEqual([]);
    expect(input.master).toContain('#EXT-X-VERSION:6');
    expect(input.media['720p/index.m3u8']).toContain('#EXT-X-MAP:URI="init.mp4"');
    expect(input.segments!['720p/index.m3u8'].every((s) => s.container === 'fmp4' && s.startsWithIdr)).toBe(true);
    expect((await r.storage.stat(bucket, `${hlsPrefix(assetId)}720p/init.mp4`))?.contentType).toBe('video/mp4');
    expect((await r.storage.stat(bucket, `${hlsPrefix(assetId)}720p/seg-00000.m4s`))?.contentType).toBe('video/iso.segment');
    expect((await r.storage.stat(bucket, posterKey(assetId)))?.size).toBeGreaterThan(0);
  }, 300_000);
});

describe('stalled-job recovery', () => {
  let r: Rig;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    r = await rig({ LOG_LEVEL: 'warn' }, false);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of r.drops) await d();
  });

  function startChild(): Promise<ChildProcess> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      REDIS_URL: r.cfg.REDIS_URL,
      QUEUE_PREFIX: r.cfg.QUEUE_PREFIX,
      S3_ENDPOINT: r.cfg.S3_ENDPOINT,
      S3_BUCKET_PREFIX: r.cfg.S3_BUCKET_PREFIX,
      WORK_DIR: r.workDir,
      TRANSCODE_CONCURRENCY: '1',
    };
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, '../helpers/transcode-worker.entry.ts'), '--lock-ms', '3000', '--stalled-ms', '1000'], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('ready')) resolve(child);
      });
      child.once('exit', (code) => reject(new Error(`worker exited early (${code})`)));
    });
  }

  it('when the worker is killed with SIGKILL mid-transcode, then another one completes the job with the same result, nothing partial reachable, temp dirs gone', async () => {
    const media = await generateMedia('normal-720p', path.join(mediaDir, 'kill'));
    const { assetId, key } = await upload(r, media);
    const bucket = r.storage.mediaBucket;
    const first = await startChild();
    const jobId = jobIds.transcode(assetId);
    const midway = new Promise<void>((resolve) => {
      r.events.on('progress', ({ jobId: id, data }) => {
        if (id === jobId && typeof data === 'number' && data >= 10 && data < 80) resolve();
      });
    });
    await enqueue(r, assetId, key);
    await midway;
    first.kill('SIGKILL');
    await new Promise((res) => first.once('exit', res));

    // Killed mid-encode: its temp dir is left behind, and no master exists.
    expect((await readdir(r.workDir)).filter((n) => n.startsWith('classcast-'))).toHaveLength(1);
    expect(await r.storage.stat(bucket, masterKey(assetId))).toBeNull();

    const completed = new Promise<JobResult>((resolve, reject) => {
      r.events.on('completed', ({ jobId: id, returnvalue }) => {
        if (id === jobId) resolve((typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as JobResult);
      });
      r.events.on('failed', ({ jobId: id, failedReason }) => {
        if (id === jobId) reject(new Error(failedReason));
      });
    });
    let masterSeenEarly = false;
    r.events.on('progress', ({ jobId: id, data }) => {
      if (id === jobId && typeof data === 'number' && data < 90) {
        void r.storage.stat(bucket, masterKey(assetId)).then((s) => {
          if (s) masterSeenEarly = true;
        });
      }
    });
    await startChild();
    const result = await completed;
    expect(result).toMatchObject({ kind: 'transcode', key: `transcode:${assetId}`, subjectId: assetId, ok: true });
    expect(masterSeenEarly).toBe(false);
    const job = await r.queues.queue('transcode').getJob(jobId);
    expect(job?.attemptsMade).toBe(1);
    expect(job?.stalledCounter ?? 1).toBeGreaterThanOrEqual(1);

    // Every temp dir is gone: the dead worker's was swept, the live one's removed after the job.
    expect((await readdir(r.workDir)).filter((n) => n.startsWith('classcast-'))).toEqual([]);

    // The recovered output passes the validator.
    const input = await loadVodInput(storageLoader(r.storage, bucket, hlsPrefix(assetId)));
    expect(validateVod(input)).toEqual([]);

    // Running the job again gives the same result and the very same objects (idempotent, deterministic).
    const before = await storedDigest(r.storage, bucket, `assets/${assetId}/`);
    const again = await transcodeHandler(
      { id: 'again', data: { assetId, sourceKey: key }, updateProgress: async () => undefined } as unknown as Job<never>,
      { config: r.cfg, storage: r.storage, log: createLogger('silent') },
      new AbortController().signal,
    );
    expect(again).toEqual(result);
    expect(await storedDigest(r.storage, bucket, `assets/${assetId}/`)).toEqual(before);
  }, 300_000);
});

async function storedDigest(storage: ObjectStorage, bucket: string, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const o of await storage.list(bucket, prefix)) {
    out[o.key] = (await storage.stat(bucket, o.key))!.etag;
  }
  return out;
}
