/**
 * The ADI side of a cable package: the writer's input from the payload (and measured files), our
 * validator as a gate, the package already in the outbox folder, and the job's result.
 */
import type { ObjectStorage } from '../infra/storage.ts';
import { cableResultKey, type CablePackageJob, type CablePackageResultData } from '../jobs/cable.job.ts';
import type { JobResult } from '../jobs/job-types.ts';
import { PermanentJobError } from '../jobs/permanent-error.ts';
import { validateAdiPackage, type FileFacts, type ParsedAdi } from '../media/adi-validator.ts';
import { adiDate, adiDateTime, adiFileNames, type AdiPackageInput } from '../media/adi-xml.ts';
import { fitToCableFrame, type CableSource } from '../media/cable-args.ts';
import { cablePackageKey, type CablePackageFile } from '../media/storage-keys.ts';
import { bufferFacts } from './cable-movie.ts';

export type CableFileRow = CablePackageResultData['files'][number];

export interface CableMediaFacts {
  runTimeS: number;
  bitRateKbps: number;
  movie: FileFacts;
  poster: FileFacts;
  source: CableSource;
}

/** ADI writer input from the payload (and, for a delivery, the measured files). */
export function adiInput(p: CablePackageJob, media: CableMediaFacts | null): AdiPackageInput {
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

/** Our ADI 1.1 validator as a gate: any violation is our bug (the job fails, nothing is published). */
export function assertValidAdi(xml: string, files: ReadonlyMap<string, FileFacts> | undefined, p: CablePackageJob): ParsedAdi {
  const r = validateAdiPackage(xml, files, { textUnit: p.provider.textUnit });
  if (r.violations.length || !r.adi) {
    throw new PermanentJobError('cable_adi_invalid', `package ${p.packageId} fails ADI 1.1 validation: ${r.violations.map((v) => `${v.where} ${v.rule}: ${v.message}`).join('; ')}`);
  }
  return r.adi;
}

/** The package already in the folder, when it is this very job's (else null, or a permanent error). */
export async function priorPackage(storage: ObjectStorage, p: CablePackageJob): Promise<{ files: CableFileRow[]; runTimeS?: number; bitRateKbps?: number } | null> {
  const key = cablePackageKey(p.packageId, 'ADI.XML');
  if (!(await storage.stat(storage.cableBucket, key))) return null;
  const xml = await storage.getBuffer(storage.cableBucket, key);
  const adi = validateAdiPackage(xml.toString('utf8'), undefined, { textUnit: p.provider.textUnit }).adi;
  const ams = adi?.pkg.ams ?? {};
  const theirs = [Number(ams.Version_Major), Number(ams.Version_Minor)] as const;
  const same = theirs[0] === p.version.major && theirs[1] === p.version.minor && (adi?.isDelete ?? false) === (p.verb === 'delete') && ams.Asset_ID === p.adiIds.package;
  if (same && adi) {
    const files: CableFileRow[] = [];
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
    'cable_folder_taken',
    `outbox folder ${p.packageId} already holds ${adi?.isDelete ? 'a withdrawal' : 'a delivery'} of ${ams.Asset_ID ?? 'another package'} version ${theirs.join('.')}; ` +
      'a delivery needs a folder of its own and a withdrawal a higher version',
  );
}

/** The `cable` result the catalog applies. */
export function cableResult(p: CablePackageJob, bucket: string, files: CableFileRow[], alreadyDelivered: boolean, runTimeS?: number, bitRateKbps?: number): JobResult {
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
