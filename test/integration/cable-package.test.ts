import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCableProfile, type CableProfile } from '../../config/cable-profiles.ts';
import { createLogger } from '../../src/infra/logger.ts';
import type { ObjectStorage } from '../../src/infra/storage.ts';
import type { QueueFactory } from '../../src/infra/queue.ts';
import { cableJob, cableLicenseWindow, cableProfileFromConfig, cableProviderFromConfig, type CablePackagePayload, type CablePackageResultData } from '../../src/jobs/cable.job.ts';
import type { JobResult } from '../../src/jobs/job-types.ts';
import { formatAssetId, formatRunTime } from '../../src/media/adi-xml.ts';
import { appValue, validateAdiPackage, type FileFacts, type ParsedAdi } from '../../src/media/adi-validator.ts';
import { cableHandlerEntry } from '../../workers/cable-package.handler.ts';
import { startJobWorkers } from '../../workers/worker.ts';
import { rid, testConfig, testQueues, testStorage } from '../helpers/parts.ts';

const run = promisify(execFile);
const bin = async (cmd: string, args: string[]): Promise<Buffer> => (await run(cmd, args, { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 })).stdout;

/** Short test sources from lavfi: no binary fixtures. */
async function makeSource(dir: string, name: string, o: { w: number; h: number; fps: number; seconds: number; audio: boolean; hls?: boolean }): Promise<string> {
  const out = path.join(dir, name);
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${o.w}x${o.h}:rate=${o.fps}:duration=${o.seconds}`];
  if (o.audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${o.seconds}`);
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(o.fps));
  if (o.audio) args.push('-c:a', 'aac', '-ac', '1');
  if (o.hls) args.push('-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', '-hls_segment_filename', path.join(out, 'seg_%03d.ts'), path.join(out, 'index.m3u8'));
  else args.push(out);
  if (o.hls) await run('mkdir', ['-p', out]);
  await bin('ffmpeg', args);
  return out;
}

/** Bits per second over each second of PCR time, read straight from the packets (independent of the packager's meter). */
function pcrWindowRates(ts: Buffer): { rates: number[]; overall: number; nullShare: number } {
  const pcrs: { off: number; pcr: number }[] = [];
  let pcrPid = -1;
  let nulls = 0;
  let lostSync = 0;
  for (let off = 0; off + 188 <= ts.length; off += 188) {
    if (ts[off] !== 0x47) lostSync++;
    const pid = ((ts[off + 1] & 0x1f) << 8) | ts[off + 2];
    if (pid === 0x1fff) nulls++;
    const hasAf = (ts[off + 3] & 0x20) !== 0;
    if (!hasAf || ts[off + 4] === 0 || !(ts[off + 5] & 0x10)) continue;
    if (pcrPid === -1) pcrPid = pid;
    if (pid !== pcrPid) continue;
    const b = ts.subarray(off + 6, off + 12);
    const base = b[0] * 2 ** 25 + b[1] * 2 ** 17 + b[2] * 2 ** 9 + b[3] * 2 + (b[4] >> 7);
    pcrs.push({ off, pcr: base * 300 + (((b[4] & 1) << 8) | b[5]) });
  }
  const rates: number[] = [];
  for (let a = 0, i = 1; i < pcrs.length; i++) {
    if (pcrs[i].pcr - pcrs[a].pcr >= 27_000_000) {
      rates.push(((pcrs[i].off - pcrs[a].off) * 8 * 27_000_000) / (pcrs[i].pcr - pcrs[a].pcr));
      a = i;
    }
  }
  const first = pcrs[0];
  const last = pcrs[pcrs.length - 1];
  expect({ lostSync, partial: ts.length % 188 }).toEqual({ lostSync: 0, partial: 0 });
  return { rates, overall: ((last.off - first.off) * 8 * 27_000_000) / (last.pcr - first.pcr), nullShare: nulls / (ts.length / 188) };
}

interface StoredPackage {
  xml: string;
  adi: ParsedAdi;
  keys: string[];
  files: Map<string, FileFacts>;
  movie?: string;
  poster?: string;
}

describe('cable packaging: real BullMQ worker, S3 server and ffmpeg', () => {
  const cfg = testConfig();
  const hd = cableProfileFromConfig(cfg);
  const sd = resolveCableProfile('sd-mpeg2-576i50');
  const provider = cableProviderFromConfig(cfg);
  const drops: (() => Promise<void>)[] = [];
  let storage: ObjectStorage;
  let queues: QueueFactory;
  let events: QueueEvents;
  let dir: string;
  const lessonIds = { package: formatAssetId('CLCS', 1001), title: formatAssetId('CLCS', 1002), movie: formatAssetId('CLCS', 1003), poster: formatAssetId('CLCS', 1004) };
  const longTitle = '吉林市初中数学公益课堂：一元二次方程的配方法与公式法综合应用专题复习（第一课时）'.repeat(4);
  const longDescription = '本节课围绕一元二次方程展开，讲解配方法、公式法与因式分解法，并通过例题比较三种方法的适用场合。'.repeat(8);
  const keys = { wide: '', narrowHls: '', text: '' };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cable-test-'));
    const s = await testStorage(cfg);
    storage = s.storage;
    drops.push(s.drop);
    const q = await testQueues(cfg);
    queues = q.queues;
    drops.push(q.drop);
    startJobWorkers(queues, { config: cfg, storage, log: createLogger('silent') }, { cable: cableHandlerEntry(cfg) });
    events = queues.events('cable');
    await events.waitUntilReady();

    const wide = await makeSource(dir, 'wide.mp4', { w: 1280, h: 720, fps: 30, seconds: 3, audio: true });
    keys.wide = `sources/${rid()}/source.mp4`;
    await storage.putFile(storage.mediaBucket, keys.wide, wide, 'video/mp4');
    // a recorded live lesson: the top rendition's HLS media playlist, 4:3 and without sound
    const hlsDir = await makeSource(dir, 'narrow-hls', { w: 640, h: 480, fps: 25, seconds: 3, audio: false, hls: true });
    const prefix = `assets/${rid()}/hls/480p/`;
    for (const f of await readdir(hlsDir)) await storage.putFile(storage.mediaBucket, prefix + f, path.join(hlsDir, f), f.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t');
    keys.narrowHls = `${prefix}index.m3u8`;
    keys.text = `sources/${rid()}/source.mp4`;
    await storage.putBuffer(storage.mediaBucket, keys.text, 'this is not a video', 'video/mp4');
  });

  afterAll(async () => {
    for (const d of drops.reverse()) await d();
    await rm(dir, { recursive: true, force: true });
  });

  function payload(over: Partial<CablePackagePayload> & { profile?: CableProfile } = {}): CablePackagePayload {
    return {
      packageId: `pkg-${rid()}`,
      verb: 'deliver',
      lessonId: 'lesson-1',
      assetId: 'asset-1',
      version: { major: 1, minor: 0 },
      sourceKey: keys.wide,
      adiIds: lessonIds,
      lesson: { title: longTitle, description: longDescription, stage: '初中', subject: '数学' },
      createdAt: '2025-03-01T00:00:00Z',
      license: cableLicenseWindow(new Date('2025-03-01T00:00:00Z'), cfg.CABLE_LICENSE_DAYS),
      provider,
      profile: hd,
      ...over,
    };
  }

  async function runJob(p: CablePackagePayload, jobId?: string): Promise<JobResult> {
    const j = cableJob(p);
    const job = await queues.queue(j.queue).add(j.name, j.data, { ...j.opts, ...(jobId ? { jobId } : {}) });
    return (await job.waitUntilFinished(events, 110_000)) as JobResult;
  }

  /** Reads the package back from the outbox, validates it (XML + files) and keeps the media on disk. */
  async function stored(packageId: string): Promise<StoredPackage> {
    const listed = await storage.list(storage.cableBucket, `${packageId}/`);
    const files = new Map<string, FileFacts>();
    const out: Partial<StoredPackage> = { keys: listed.map((o) => o.key).sort(), files };
    for (const o of listed) {
      const name = o.key.slice(packageId.length + 1);
      const buf = await storage.getBuffer(storage.cableBucket, o.key);
      if (name === 'ADI.XML') {
        out.xml = buf.toString('utf8');
        continue;
      }
      files.set(name, { size: buf.length, md5: createHash('md5').update(buf).digest('hex') });
      const local = path.join(dir, `${packageId}-${name}`);
      await writeFile(local, buf);
      if (name === 'movie.ts') out.movie = local;
      if (name === 'poster.jpg') out.poster = local;
    }
    expect(out.xml).toBeDefined();
    const v = validateAdiPackage(out.xml!, files.size ? files : undefined);
    expect(v.violations).toEqual([]);
    return { ...(out as StoredPackage), adi: v.adi! };
  }

  async function probe(file: string): Promise<{ streams: Record<string, string | number>[]; format: { duration: string } }> {
    return JSON.parse((await bin('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file])).toString());
  }

  async function frames(file: string): Promise<{ type: string; key: boolean; interlaced: boolean; tff: boolean }[]> {
    const csv = (await bin('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=key_frame,pict_type,interlaced_frame,top_field_first', '-of', 'csv=p=0', file])).toString();
    // ffprobe adds an empty line and a trailing comma where a frame carries side data
    return csv.split('\n').filter((l) => l.trim()).map((l) => {
      const [key, type, interlaced, tff] = l.split(',');
      return { type, key: key === '1', interlaced: interlaced === '1', tff: tff === '1' };
    });
  }

  /** Checks the movie against its profile the way an operator's ingest would. */
  async function checkMovie(pkg: StoredPackage, profile: CableProfile, codec: string): Promise<void> {
    const movie = pkg.movie!;
    const info = await probe(movie);
    const v = info.streams.find((s) => s.codec_type === 'video')!;
    const a = info.streams.find((s) => s.codec_type === 'audio')!;
    expect(info.streams).toHaveLength(2);
    expect([v.codec_name, v.width, v.height, v.field_order, v.r_frame_rate]).toEqual([codec, profile.video.width, profile.video.height, 'tt', '25/1']);
    expect([a.codec_name, a.sample_rate, a.channels]).toEqual([profile.audio.codec, '48000', 2]);

    const fr = await frames(movie);
    expect(fr.every((f) => f.interlaced && f.tff)).toBe(true);
    const iAt = fr.flatMap((f, i) => (f.type === 'I' ? [i] : []));
    expect(iAt[0]).toBe(0);
    const gops = iAt.slice(1).map((x, i) => x - iAt[i]);
    expect(gops.length).toBeGreaterThan(1);
    expect(new Set(gops)).toEqual(new Set([profile.video.gop]));
    expect(fr.filter((f) => f.type === 'I').every((f) => f.key)).toBe(true);

    const es = await bin('ffmpeg', ['-v', 'error', '-i', movie, '-map', '0:v:0', '-c', 'copy', '-f', codec === 'h264' ? 'h264' : 'mpeg2video', '-']);
    if (codec === 'h264') {
      // every GOP closed: x264 reports how it was told to encode
      const sei = /x264 - core[^\0]*?options: ([^\0]*?)\0/.exec(es.toString('latin1'))?.[1] ?? '';
      expect(sei).toMatch(/\binterlaced=tff\b/);
      expect(sei).toMatch(/\bopen_gop=0\b/);
      expect(sei).toMatch(/\bscenecut=0\b/);
      expect(sei).toMatch(/\bnal_hrd=cbr\b/);
    } else {
      // MPEG-2 GOP headers (00 00 01 B8): closed_gop is bit 6 of the 4th byte after the start code
      const closed: boolean[] = [];
      for (let i = es.indexOf(Buffer.from([0, 0, 1, 0xb8])); i !== -1; i = es.indexOf(Buffer.from([0, 0, 1, 0xb8]), i + 4)) closed.push((es[i + 7] & 0x40) !== 0);
      expect(closed.length).toBe(iAt.length);
      expect(closed.every(Boolean)).toBe(true);
    }

    const ts = await bin('cat', [movie]);
    const rate = profile.mux.rateKbps * 1000;
    const m = pcrWindowRates(ts);
    expect(m.rates.length).toBeGreaterThanOrEqual(2);
    for (const r of m.rates) expect(Math.abs(r - rate) / rate).toBeLessThan(0.01);
    expect(Math.abs(m.overall - rate) / rate).toBeLessThan(0.01);
    expect(m.nullShare).toBeGreaterThan(0);
  }

  const data = (r: JobResult) => r.data as unknown as CablePackageResultData;
  let firstDelivery: { packageId: string; result: CablePackageResultData } | null = null;

  it('when a 16:9 lesson with a very long Chinese title is delivered in HD, then the stored package validates and the movie is 1080i25 H.264 at a constant 12 Mb/s', async () => {
    const p = payload();
    const r = await runJob(p);
    expect(r).toMatchObject({ kind: 'cable', subjectId: p.packageId, ok: true, key: `cable:${p.packageId}:1.0:deliver` });
    const pkg = await stored(p.packageId);
    expect(pkg.keys).toEqual([`${p.packageId}/ADI.XML`, `${p.packageId}/movie.ts`, `${p.packageId}/poster.jpg`]);
    const d = data(r);
    expect(d.files.map((f) => f.name)).toEqual(['movie.ts', 'poster.jpg', 'ADI.XML']);
    for (const f of d.files.slice(0, 2)) expect(pkg.files.get(f.name)).toEqual({ size: f.size, md5: f.md5 });
    expect(d.files[2].md5).toBe(createHash('md5').update(pkg.xml).digest('hex'));

    const title = pkg.adi.title!;
    expect([...appValue(title, 'Title')!]).toHaveLength(128);
    expect([...appValue(title, 'Title_Brief')!]).toHaveLength(19);
    expect([...appValue(title, 'Summary_Short')!]).toHaveLength(256);
    expect(appValue(title, 'Category')).toBe('吉林市中小学公益课/初中/数学');
    expect([appValue(title, 'Licensing_Window_Start'), appValue(title, 'Licensing_Window_End')]).toEqual(['2025-03-01T08:00:00', '2026-03-01T08:00:00']);
    const movieAsset = pkg.adi.children.find((c) => c.assetClass === 'movie')!;
    expect([appValue(movieAsset, 'Screen_Format'), appValue(movieAsset, 'HDContent'), appValue(movieAsset, 'Bit_Rate'), appValue(movieAsset, 'Resolution')]).toEqual(['Widescreen', 'Y', '12000', '1920x1080i']);

    const info = await probe(pkg.movie!);
    expect(appValue(title, 'Run_Time')).toBe(formatRunTime(Number(info.format.duration)));
    expect(d.runTimeS).toBeCloseTo(Number(info.format.duration), 3);
    await checkMovie(pkg, hd, 'h264');
    const poster = (await probe(pkg.poster!)).streams[0];
    expect([poster.codec_name, poster.width, poster.height]).toEqual(['mjpeg', 640, 360]);
    firstDelivery = { packageId: p.packageId, result: d };
  });

  it('when the same package is queued again after it was delivered, then nothing is rewritten and the same files are reported', async () => {
    expect(firstDelivery).not.toBeNull();
    const { packageId, result } = firstDelivery!;
    const before = await storage.stat(storage.cableBucket, `${packageId}/movie.ts`);
    const p = payload({ packageId });
    const r = await runJob(p, `cable-${packageId}-again`);
    expect(data(r).alreadyDelivered).toBe(true);
    expect(data(r).files).toEqual(result.files);
    expect((await storage.stat(storage.cableBucket, `${packageId}/movie.ts`))?.lastModified).toEqual(before?.lastModified);
  });

  it('when the lesson is withdrawn into its delivery folder, then ADI.XML says DELETE on every asset with the bumped version and the media stay', async () => {
    const { packageId } = firstDelivery!;
    const r = await runJob(payload({ packageId, verb: 'delete', version: { major: 1, minor: 1 }, sourceKey: undefined }));
    expect(data(r).files.map((f) => f.name)).toEqual(['ADI.XML']);
    const listed = (await storage.list(storage.cableBucket, `${packageId}/`)).map((o) => o.key).sort();
    expect(listed).toEqual([`${packageId}/ADI.XML`, `${packageId}/movie.ts`, `${packageId}/poster.jpg`]);
    const xml = (await storage.getBuffer(storage.cableBucket, `${packageId}/ADI.XML`)).toString('utf8');
    const v = validateAdiPackage(xml);
    expect(v.violations).toEqual([]);
    expect(v.adi?.isDelete).toBe(true);
    expect(xml.match(/Verb="DELETE"/g)).toHaveLength(4);
    expect(xml.match(/Version_Major="1" Version_Minor="1"/g)).toHaveLength(4);
    for (const id of Object.values(lessonIds)) expect(xml).toContain(`Asset_ID="${id}"`);
  });

  it('when a withdrawal goes to a folder of its own, then the folder holds only ADI.XML', async () => {
    const p = payload({ verb: 'delete', version: { major: 1, minor: 2 }, sourceKey: undefined });
    await runJob(p);
    const pkg = await stored(p.packageId);
    expect(pkg.keys).toEqual([`${p.packageId}/ADI.XML`]);
    expect(pkg.adi.isDelete).toBe(true);
  });

  it('when a new approved version (a 4:3 live recording without sound) is published again, then it is re-delivered as Version_Major 2 with the same Asset_IDs, pillarboxed, with a silent AC-3 track', async () => {
    const p = payload({ version: { major: 2, minor: 0 }, sourceKey: keys.narrowHls, assetId: 'asset-2', lesson: { title: '一元二次方程（复习）', description: '', stage: '初中', subject: '数学' } });
    const r = await runJob(p);
    expect(data(r).version).toEqual({ major: 2, minor: 0 });
    const pkg = await stored(p.packageId);
    expect(pkg.xml.match(/Version_Major="2" Version_Minor="0"/g)).toHaveLength(4);
    expect(pkg.adi.pkg.ams.Asset_ID).toBe(lessonIds.package);
    await checkMovie(pkg, hd, 'h264');
    // 4:3 in 16:9: 240-pixel black bars left and right, picture in the middle
    const gray = await bin('ffmpeg', ['-v', 'error', '-i', pkg.movie!, '-frames:v', '1', '-vf', 'format=gray', '-f', 'rawvideo', '-']);
    const col = (x: number) => Math.max(...Array.from({ length: 1080 }, (_, y) => gray[y * 1920 + x]));
    expect([col(10), col(230), col(1690), col(1910)].every((v) => v <= 20)).toBe(true);
    expect(col(960)).toBeGreaterThan(100);
    const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostats', '-i', pkg.movie!, '-map', '0:a:0', '-af', 'volumedetect', '-f', 'null', '-']);
    expect(Number(/max_volume: (-?[\d.]+|-inf) dB/.exec(stderr)?.[1].replace('-inf', '-200'))).toBeLessThan(-80);
  });

  it('when the SD profile is used, then the movie is MPEG-2 576i25, letterboxed in 4:3, closed 12-frame GOPs, at a constant 3.75 Mb/s', async () => {
    const p = payload({ profile: sd, lesson: { title: '配方法', description: '短课', stage: '初中', subject: '数学' } });
    await runJob(p);
    const pkg = await stored(p.packageId);
    await checkMovie(pkg, sd, 'mpeg2video');
    const info = await probe(pkg.movie!);
    expect(info.streams.find((s) => s.codec_type === 'video')?.display_aspect_ratio).toBe('4:3');
    const movieAsset = pkg.adi.children.find((c) => c.assetClass === 'movie')!;
    expect([appValue(movieAsset, 'Screen_Format'), appValue(movieAsset, 'HDContent'), appValue(movieAsset, 'Codec'), appValue(movieAsset, 'Bit_Rate')]).toEqual(['Letterbox', 'N', 'MPEG2', '3750']);
    const poster = (await probe(pkg.poster!)).streams[0];
    expect([poster.width, poster.height]).toEqual([480, 360]);
  });

  it('when the source is not a video, then the job fails at once with a message a teacher understands and writes nothing', async () => {
    const p = payload({ sourceKey: keys.text });
    const j = cableJob(p);
    const job = await queues.queue(j.queue).add(j.name, j.data, j.opts);
    await expect(job.waitUntilFinished(events, 60_000)).rejects.toThrow(/not a video we can read/);
    const failed = await queues.queue(j.queue).getJob(job.id!);
    expect(failed?.attemptsMade).toBe(1);
    expect(await storage.list(storage.cableBucket, `${p.packageId}/`)).toEqual([]);
  });

  it('when a delivery targets a folder that already holds another version, then it fails at once instead of overwriting', async () => {
    const { packageId } = firstDelivery!;
    const j = cableJob(payload({ packageId, version: { major: 3, minor: 0 } }));
    const job = await queues.queue(j.queue).add(j.name, j.data, j.opts);
    await expect(job.waitUntilFinished(events, 60_000)).rejects.toThrow(/already holds a withdrawal/);
  });
});
