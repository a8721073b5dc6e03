import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as HLS from 'hls-parser';
import type { Config } from '../config/config.schema.ts';
import { cableProfileProblems } from '../config/cable-profiles.ts';
import { runFfmpeg, runFfprobe, withWorkDir } from '../src/infra/ffmpeg.runner.ts';
import type { ObjectStorage } from '../src/infra/storage.ts';
import { cableMovieArgs, cablePosterArgs, fitToCableFrame, type CableSource } from '../src/media/cable-args.ts';
import { cableSourceFromMedia, checkCableMovie } from '../src/media/cable-probe.ts';
import { parseProbe } from '../src/media/probe.ts';
import { adiDate, adiDateTime, adiFileNames, buildAdiXml, type AdiPackageInput } from '../src/media/adi-xml.ts';
import { validateAdiPackage, type FileFacts, type ParsedAdi } from '../src/media/adi-validator.ts';
import { TsMuxMeter, muxRateProblems, type TsMuxReport } from '../src/media/ts-mux-meter.ts';
import { cablePackageKey, type CablePackageFile } from '../src/media/cable-keys.ts';
import { cablePackagePayloadSchema, cableResultKey, type CablePackageJob, type CablePackagePayload, type CablePackageResultData } from '../src/jobs/cable.job.ts';
import { PermanentJobError } from '../src/jobs/permanent-error.ts';
import type { JobResult } from '../src/jobs/job-types.ts';
import type { JobHandler } from './handler-types.ts';
import type { HandlerEntry } from './worker.ts';

/**
 * Makes one ADI 1.1 package in the cable outbox (DESIGN.md "Cable VOD", REFERENCE.md).
 *
 * deliver: source -> movie.ts (CBR MPEG-TS per the payload's profile) + poster.jpg; sizes, MD5s and the
 * transport rate measured from the files written, Run_Time from ffprobe of movie.ts; the movie checked
 * against its profile and the package against our ADI validator (any violation is our bug: the job fails
 * and nothing is published); media uploaded first, ADI.XML last.
 *
 * delete: only ADI.XML, with Verb="DELETE" on every asset, the same Asset_IDs and the version the catalog
 * bumped. Media files are never removed here: when the withdrawal goes into the delivery's own folder the
 * media stay beside it, because the back office may still be ingesting the package and must be able to
 * finish before it applies the DELETE; clearing old folders is the catalog's retention, after the back
 * office confirms. A new packageId per withdrawal (recommended) keeps every folder immutable.
 *
 * Idempotent: a folder already holding this version and verb is reported as delivered without writing;
 * a delivery never overwrites a folder whose ADI.XML is already out (pollers may have taken it).
 */
export const cablePackageHandler: JobHandler<CablePackagePayload> = async (job, deps, signal) => {
  const parsed = cablePackagePayloadSchema.safeParse(job.data);
  if (!parsed.success) throw new PermanentJobError(`invalid cable package job: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const p = parsed.data;
  const log = deps.log.child({ packageId: p.packageId, lessonId: p.lessonId, assetId: p.assetId, verb: p.verb, version: `${p.version.major}.${p.version.minor}` });
  const { storage } = deps;
  const bucket = storage.cableBucket;

  const prior = await priorPackage(storage, p);
  if (prior) {
    log.info('package already in the outbox; nothing written');
    return result(p, bucket, prior.files, true, prior.runTimeS, prior.bitRateKbps);
  }

  if (p.verb === 'delete') {
    const xml = buildAdiXml(adiInput(p, null));
    assertValid(xml, undefined, p);
    const key = cablePackageKey(p.packageId, 'ADI.XML');
    await storage.putBuffer(bucket, key, xml, 'application/xml; charset=utf-8');
    log.info('withdrawal written');
    return result(p, bucket, [{ name: adiFileNames.xml, key, ...bufferFacts(Buffer.from(xml)) }], false);
  }

  const profileProblems = cableProfileProblems(p.profile);
  if (profileProblems.length) throw new PermanentJobError(`cable profile ${p.profile.name} is inconsistent: ${profileProblems.join('; ')}`);
  return withWorkDir(deps.config.WORK_DIR, `cable-${p.packageId}`, async (work) => {
    await job.updateProgress(1);
    const input = await fetchSource(storage, p.sourceKey ?? '', path.join(work, 'src'));
    const probed = parseProbe(await runFfprobe(deps.config.FFPROBE_PATH, input, { signal }), deps.config.MEDIA_MAX_DURATION_S);
    if (!probed.ok) throw new PermanentJobError(probed.failure.message);
    const source = cableSourceFromMedia(probed.info);
    await job.updateProgress(5);

    const moviePath = path.join(work, adiFileNames.movie);
    const posterPath = path.join(work, adiFileNames.poster);
    const service = { provider: p.provider.name, name: p.adiIds.movie };
    await runFfmpeg(cableMovieArgs({ input, output: moviePath, profile: p.profile, source, service }), {
      ffmpegPath: deps.config.FFMPEG_PATH,
      durationS: source.durationS,
      signal,
      log,
      onProgress: (pct) => void job.updateProgress(5 + Math.round(pct * 0.8)).catch(() => undefined),
    });
    await runFfmpeg(cablePosterArgs({ input, output: posterPath, profile: p.profile, source }), { ffmpegPath: deps.config.FFMPEG_PATH, signal, log });
    await job.updateProgress(87);

    const [movie, poster] = await Promise.all([measureMovie(moviePath), fileFacts(posterPath)]);
    const movieInfo = parseProbe(await runFfprobe(deps.config.FFPROBE_PATH, moviePath, { signal }));
    if (!movieInfo.ok) throw new PermanentJobError(`the cable movie cannot be read back: ${movieInfo.failure.reason}`);
    const checked = checkCableMovie(movieInfo.info, p.profile);
    const problems = [...checked.problems, ...muxRateProblems(movie.mux, p.profile.mux.rateKbps * 1000)];
    if (problems.length) throw new PermanentJobError(`the cable movie does not meet profile ${p.profile.name}: ${problems.join('; ')}`);
    const runTimeS = checked.facts.durationS;
    const bitRateKbps = Math.round(movie.mux.rateBps / 1000);
    await job.updateProgress(92);

    const xml = buildAdiXml(adiInput(p, { runTimeS, bitRateKbps, movie: movie.facts, poster, source }));
    assertValid(xml, new Map([[adiFileNames.movie, movie.facts], [adiFileNames.poster, poster]]), p);

    const movieKey = cablePackageKey(p.packageId, 'movie.ts');
    const posterKey = cablePackageKey(p.packageId, 'poster.jpg');
    const xmlKey = cablePackageKey(p.packageId, 'ADI.XML');
    await storage.putFile(bucket, movieKey, moviePath, 'video/mp2t');
    await storage.putFile(bucket, posterKey, posterPath, 'image/jpeg');
    for (const [key, want] of [[movieKey, movie.facts.size], [posterKey, poster.size]] as const) {
      const got = await storage.stat(bucket, key);
      if (got?.size !== want) throw new Error(`upload of ${key} stored ${got?.size ?? 'nothing'}, want ${want} bytes`);
    }
    await job.updateProgress(97);
    // last: ingest pollers take a package once its ADI.XML is there
    await storage.putBuffer(bucket, xmlKey, xml, 'application/xml; charset=utf-8');
    await job.updateProgress(100);
    log.info({ runTimeS, bitRateKbps, movieBytes: movie.facts.size, profile: p.profile.name }, 'package delivered');
    return result(p, bucket, [
      { name: adiFileNames.movie, key: movieKey, ...movie.facts },
      { name: adiFileNames.poster, key: posterKey, ...poster },
      { name: adiFileNames.xml, key: xmlKey, ...bufferFacts(Buffer.from(xml)) },
    ], false, runTimeS, bitRateKbps);
  }, log);
};

/** The handler-map entry (workers/handlers.ts): `cable: cableHandlerEntry(config)`. */
export function cableHandlerEntry(config: Config): HandlerEntry {
  return {
    handler: cablePackageHandler as HandlerEntry['handler'],
    kind: 'cable',
    subject: (d) => String(d.packageId),
    concurrency: config.CABLE_CONCURRENCY,
  };
}

type FileRow = CablePackageResultData['files'][number];

function result(p: CablePackageJob, bucket: string, files: FileRow[], alreadyDelivered: boolean, runTimeS?: number, bitRateKbps?: number): JobResult {
  const data: CablePackageResultData = {
    packageId: p.packageId,
    verb: p.verb,
    lessonId: p.lessonId,
    assetId: p.assetId,
    version: p.version,
    adiIds: p.adiIds,
    bucket,
    files,
    profile: p.profile.name,
    ...(runTimeS !== undefined ? { runTimeS } : {}),
    ...(bitRateKbps !== undefined ? { bitRateKbps } : {}),
    alreadyDelivered,
  };
  return { kind: 'cable', key: cableResultKey(p), subjectId: p.packageId, ok: true, data: { ...data } };
}

interface MediaFacts {
  runTimeS: number;
  bitRateKbps: number;
  movie: FileFacts;
  poster: FileFacts;
  source: CableSource;
}

/** ADI writer input from the payload (and, for a delivery, the measured files). */
function adiInput(p: CablePackageJob, media: MediaFacts | null): AdiPackageInput {
  const tz = p.provider.timeZone;
  const common = {
    provider: { name: p.provider.name, id: p.provider.id, product: p.provider.product },
    creationDate: adiDate(p.createdAt, tz),
    version: p.version,
    ids: p.adiIds,
    textUnit: p.provider.textUnit,
  };
  if (!media) return { ...common, verb: 'delete', title: { title: p.lesson.title } };
  const root = p.provider.categoryRoot;
  const v = p.profile.video;
  const fit = fitToCableFrame(p.profile, media.source);
  const wide = v.displayAspect[0] * 3 > v.displayAspect[1] * 4;
  return {
    ...common,
    verb: 'deliver',
    title: {
      title: p.lesson.title,
      ...(p.lesson.titleBrief ? { brief: p.lesson.titleBrief } : {}),
      summary: p.lesson.description,
      categories: [[root, p.lesson.stage, p.lesson.subject], ...p.lesson.extraCategories.map((c) => [root, ...c])],
      rating: p.provider.rating,
      genre: p.provider.genre,
      billingId: p.provider.billingId,
      previewPeriodS: p.provider.previewPeriodS,
      qaContact: p.provider.qaContact,
      licenseStart: adiDateTime(p.license.start, tz),
      licenseEnd: adiDateTime(p.license.end, tz),
      runTimeS: media.runTimeS,
    },
    movie: {
      name: adiFileNames.movie,
      ...media.movie,
      bitRateKbps: media.bitRateKbps,
      audioType: 'Stereo',
      // a 4:3 frame carrying a wider picture between bars is Letterbox (CableLabs Screen_Format)
      screenFormat: wide ? 'Widescreen' : fit.padY > 0 ? 'Letterbox' : 'Standard',
      hd: v.height >= 720,
      resolution: `${v.width}x${v.height}${v.scan === 'tff' ? 'i' : 'p'}`,
      frameRate: String(v.fps),
      codec: v.codec === 'h264' ? 'AVC' : 'MPEG2',
    },
    poster: { name: adiFileNames.poster, ...media.poster, width: p.profile.poster.width, height: p.profile.poster.height },
  };
}

function assertValid(xml: string, files: ReadonlyMap<string, FileFacts> | undefined, p: CablePackageJob): ParsedAdi {
  const r = validateAdiPackage(xml, files, { textUnit: p.provider.textUnit });
  if (r.violations.length || !r.adi) {
    throw new PermanentJobError(`package ${p.packageId} fails ADI 1.1 validation: ${r.violations.map((v) => `${v.where} ${v.rule}: ${v.message}`).join('; ')}`);
  }
  return r.adi;
}

/** The package already in the folder, when it is this very job's (else null, or a permanent error). */
async function priorPackage(storage: ObjectStorage, p: CablePackageJob): Promise<{ files: FileRow[]; runTimeS?: number; bitRateKbps?: number } | null> {
  const key = cablePackageKey(p.packageId, 'ADI.XML');
  if (!(await storage.stat(storage.cableBucket, key))) return null;
  const xml = await storage.getBuffer(storage.cableBucket, key);
  const adi = validateAdiPackage(xml.toString('utf8'), undefined, { textUnit: p.provider.textUnit }).adi;
  const ams = adi?.pkg.ams ?? {};
  const theirs = [Number(ams.Version_Major), Number(ams.Version_Minor)] as const;
  const same = theirs[0] === p.version.major && theirs[1] === p.version.minor && (adi?.isDelete ?? false) === (p.verb === 'delete') && ams.Asset_ID === p.adiIds.package;
  if (same && adi) {
    const files: FileRow[] = [];
    let runTimeS: number | undefined;
    for (const c of adi.children) {
      const size = c.appData.find((d) => d.name === 'Content_FileSize')?.value;
      const md5 = c.appData.find((d) => d.name === 'Content_CheckSum')?.value;
      for (const name of c.content) files.push({ name, key: cablePackageKey(p.packageId, name as CablePackageFile), size: Number(size), md5: md5 ?? '' });
    }
    const rt = adi.title?.appData.find((d) => d.name === 'Run_Time')?.value;
    if (rt) runTimeS = rt.split(':').reduce((s, x) => s * 60 + Number(x), 0);
    const br = adi.children.find((c) => c.assetClass === 'movie')?.appData.find((d) => d.name === 'Bit_Rate')?.value;
    files.push({ name: adiFileNames.xml, key, ...bufferFacts(xml) });
    return { files, ...(runTimeS !== undefined ? { runTimeS } : {}), ...(br ? { bitRateKbps: Number(br) } : {}) };
  }
  const newer = p.version.major > theirs[0] || (p.version.major === theirs[0] && p.version.minor > theirs[1]);
  if (p.verb === 'delete' && newer && ams.Asset_ID === p.adiIds.package) return null;
  throw new PermanentJobError(
    `outbox folder ${p.packageId} already holds ${adi?.isDelete ? 'a withdrawal' : 'a delivery'} of ${ams.Asset_ID ?? 'another package'} version ${theirs.join('.')}; ` +
      'a delivery needs a folder of its own and a withdrawal a higher version',
  );
}

/**
 * Copies the source next to ffmpeg: one object, or a recording's HLS media playlist as one file (its
 * segments joined in order: TS segments are a TS, an fMP4 init + fragments an MP4), so the recording is
 * probed and read like any upload.
 */
async function fetchSource(storage: ObjectStorage, key: string, dir: string): Promise<string> {
  const bucket = storage.mediaBucket;
  if (!(await storage.stat(bucket, key))) throw new PermanentJobError('the lesson source file is missing from storage');
  await mkdir(dir, { recursive: true });
  if (!/\.m3u8$/i.test(key)) {
    const file = path.join(dir, `source${path.extname(key).replace(/[^.A-Za-z0-9]/g, '') || '.bin'}`);
    await pipeline(await storage.get(bucket, key), createWriteStream(file));
    return file;
  }
  let playlistKey = key;
  let playlist = HLS.parse((await storage.getBuffer(bucket, key)).toString('utf8'));
  if (playlist.isMasterPlaylist) {
    // the top rendition: the best picture the recording has
    const top = [...(playlist as HLS.types.MasterPlaylist).variants].sort((a, b) => b.bandwidth - a.bandwidth)[0];
    if (!top) throw new PermanentJobError('the recording playlist lists no rendition');
    playlistKey = relativeKey(key, top.uri);
    playlist = HLS.parse((await storage.getBuffer(bucket, playlistKey)).toString('utf8'));
  }
  const segments = (playlist as HLS.types.MediaPlaylist).segments;
  if (!segments.length) throw new PermanentJobError('the recording has no segments');
  const maps = new Set(segments.map((s) => s.map?.uri).filter((u): u is string => !!u));
  if (maps.size > 1) throw new PermanentJobError('the recording changes its fMP4 initialisation segment midway; it cannot be joined into one file');
  const parts = [...maps, ...segments.map((s) => s.uri)];
  const file = path.join(dir, maps.size ? 'source.mp4' : 'source.ts');
  const out = createWriteStream(file);
  for (const uri of parts) await pipeline(await storage.get(bucket, relativeKey(playlistKey, uri)), out, { end: false });
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return file;
}

/** A playlist URI as a key beside the playlist; absolute URLs and escapes are refused. */
function relativeKey(playlistKey: string, uri: string): string {
  return path.posix.join(path.posix.dirname(playlistKey), safeRelative(uri));
}

function safeRelative(uri: string): string {
  const clean = uri.split(/[?#]/)[0];
  const norm = path.posix.normalize(clean);
  if (/^[a-z]+:/i.test(uri) || norm.startsWith('/') || norm.startsWith('..')) throw new PermanentJobError(`the recording playlist points outside its folder (${uri})`);
  return norm;
}

function bufferFacts(b: Buffer): FileFacts {
  return { size: b.length, md5: createHash('md5').update(b).digest('hex') };
}

async function fileFacts(file: string): Promise<FileFacts> {
  const h = createHash('md5');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return { size: (await stat(file)).size, md5: h.digest('hex') };
}

/** One read of movie.ts: size, MD5 and the transport stream measurements. */
async function measureMovie(file: string): Promise<{ facts: FileFacts; mux: TsMuxReport }> {
  const h = createHash('md5');
  const meter = new TsMuxMeter();
  let size = 0;
  for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) {
    const b = c as Buffer;
    h.update(b);
    meter.push(b);
    size += b.length;
  }
  return { facts: { size, md5: h.digest('hex') }, mux: meter.finish() };
}
