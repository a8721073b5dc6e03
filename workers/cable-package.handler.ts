import path from 'node:path';
import type { Config } from '../config/config.schema.ts';
import { cableProfileProblems } from '../config/cable-profiles.ts';
import { withWorkDir } from '../src/infra/ffmpeg.runner.ts';
import { cablePackagePayloadSchema, type CablePackagePayload } from '../src/jobs/cable.job.ts';
import { parseJobPayload, PermanentJobError } from '../src/jobs/permanent-error.ts';
import { adiFileNames, buildAdiXml } from '../src/media/adi-xml.ts';
import { cablePackageKey } from '../src/media/storage-keys.ts';
import { adiInput, assertValidAdi, cableResult, priorPackage } from '../src/pipeline/cable-adi.ts';
import { bufferFacts, checkCableMedia, encodeCableMedia, probeCableSource } from '../src/pipeline/cable-movie.ts';
import { fetchCableSource } from '../src/pipeline/cable-source.ts';
import type { JobHandler } from './handler-types.ts';
import type { HandlerEntry } from './worker.ts';

/**
 * Makes one ADI 1.1 package in the cable outbox (DESIGN.md "Cable VOD", REFERENCE.md).
 *
 * deliver: fetch the source (src/pipeline/cable-source.ts) -> probe -> encode movie.ts + poster.jpg ->
 * measure and check them against the profile (src/pipeline/cable-movie.ts) -> ADI.XML through our
 * validator (src/pipeline/cable-adi.ts) -> media uploaded first, ADI.XML last.
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
  const p = parseJobPayload(cablePackagePayloadSchema, job.data, 'cable package');
  const log = deps.log.child({ packageId: p.packageId, lessonId: p.lessonId, assetId: p.assetId, verb: p.verb, version: `${p.version.major}.${p.version.minor}` });
  const { storage, config } = deps;
  const bucket = storage.cableBucket;

  const prior = await priorPackage(storage, p);
  if (prior) {
    log.info('package already in the outbox; nothing written');
    return cableResult(p, bucket, prior.files, true, prior.runTimeS, prior.bitRateKbps);
  }

  if (p.verb === 'delete') {
    const xml = buildAdiXml(adiInput(p, null));
    assertValidAdi(xml, undefined, p);
    const key = cablePackageKey(p.packageId, 'ADI.XML');
    await storage.putBuffer(bucket, key, xml, 'application/xml; charset=utf-8');
    log.info('withdrawal written');
    return cableResult(p, bucket, [{ name: adiFileNames.xml, key, ...bufferFacts(Buffer.from(xml)) }], false);
  }

  const profileProblems = cableProfileProblems(p.profile);
  if (profileProblems.length) throw new PermanentJobError('cable_profile_invalid', `cable profile ${p.profile.name} is inconsistent: ${profileProblems.join('; ')}`);
  return withWorkDir(config.WORK_DIR, `cable-${p.packageId}`, async (work) => {
    const o = { config, signal, log };
    await job.updateProgress(1);
    const input = await fetchCableSource(storage, p.sourceKey ?? '', path.join(work, 'src'));
    const source = await probeCableSource(input, o);
    await job.updateProgress(5);
    const files = await encodeCableMedia(p, input, source, work, { ...o, onProgress: (pct) => void job.updateProgress(5 + Math.round(pct * 0.8)).catch(() => undefined) });
    await job.updateProgress(87);
    const { movie, poster, runTimeS, bitRateKbps } = await checkCableMedia(p, files, o);
    await job.updateProgress(92);

    const xml = buildAdiXml(adiInput(p, { runTimeS, bitRateKbps, movie, poster, source }));
    assertValidAdi(xml, new Map([[adiFileNames.movie, movie], [adiFileNames.poster, poster]]), p);

    const movieKey = cablePackageKey(p.packageId, 'movie.ts');
    const posterKey = cablePackageKey(p.packageId, 'poster.jpg');
    const xmlKey = cablePackageKey(p.packageId, 'ADI.XML');
    await storage.putFile(bucket, movieKey, files.moviePath, 'video/mp2t');
    await storage.putFile(bucket, posterKey, files.posterPath, 'image/jpeg');
    for (const [key, want] of [[movieKey, movie.size], [posterKey, poster.size]] as const) {
      const got = await storage.stat(bucket, key);
      if (got?.size !== want) throw new Error(`upload of ${key} stored ${got?.size ?? 'nothing'}, want ${want} bytes`);
    }
    await job.updateProgress(97);
    // last: ingest pollers take a package once its ADI.XML is there
    await storage.putBuffer(bucket, xmlKey, xml, 'application/xml; charset=utf-8');
    await job.updateProgress(100);
    log.info({ runTimeS, bitRateKbps, movieBytes: movie.size, profile: p.profile.name }, 'package delivered');
    return cableResult(p, bucket, [
      { name: adiFileNames.movie, key: movieKey, ...movie },
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
