import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config/config.schema.ts';
import { runFfmpeg, runFfprobe } from '../infra/ffmpeg.runner.ts';
import type { Logger } from '../infra/logger.ts';
import type { CablePackageJob } from '../jobs/cable.job.ts';
import { PermanentJobError } from '../jobs/permanent-error.ts';
import type { FileFacts } from '../media/adi-validator.ts';
import { adiFileNames } from '../media/adi-xml.ts';
import { cableMovieArgs, cablePosterArgs, type CableSource } from '../media/cable-args.ts';
import { cableSourceFromMedia, checkCableMovie } from '../media/cable-probe.ts';
import { parseProbe } from '../media/probe.ts';
import { TsMuxMeter, muxRateProblems, type TsMuxReport } from '../media/ts-mux-meter.ts';

interface CableStepOptions {
  config: Config;
  signal: AbortSignal;
  log: Logger;
}

/** Step "probe" of a cable package: the source as the cable profile sees it; unusable input fails at once. */
export async function probeCableSource(input: string, o: CableStepOptions): Promise<CableSource> {
  const probed = parseProbe(await runFfprobe(o.config.FFPROBE_PATH, input, { signal: o.signal }), o.config.MEDIA_MAX_DURATION_S);
  if (!probed.ok) throw PermanentJobError.fromProbe(probed.failure);
  return cableSourceFromMedia(probed.info);
}

/**
 * Step "encode" of a cable package: movie.ts (CBR MPEG-TS per the payload's profile) and poster.jpg in
 * `work`, encode progress reported on 0-100.
 */
export async function encodeCableMedia(p: CablePackageJob, input: string, source: CableSource, work: string, o: CableStepOptions & { onProgress: (pct: number) => void }): Promise<{ moviePath: string; posterPath: string }> {
  const moviePath = path.join(work, adiFileNames.movie);
  const posterPath = path.join(work, adiFileNames.poster);
  const service = { provider: p.provider.name, name: p.adiIds.movie };
  await runFfmpeg(cableMovieArgs({ input, output: moviePath, profile: p.profile, source, service }), {
    ffmpegPath: o.config.FFMPEG_PATH,
    durationS: source.durationS,
    signal: o.signal,
    log: o.log,
    onProgress: o.onProgress,
  });
  await runFfmpeg(cablePosterArgs({ input, output: posterPath, profile: p.profile, source }), { ffmpegPath: o.config.FFMPEG_PATH, signal: o.signal, log: o.log });
  return { moviePath, posterPath };
}

/**
 * Step "measure and check": sizes, MD5s and the transport rate measured from the files written,
 * Run_Time from ffprobe of movie.ts, the movie checked against its profile (a miss is our bug: the
 * job fails and nothing is published).
 */
export async function checkCableMedia(p: CablePackageJob, files: { moviePath: string; posterPath: string }, o: CableStepOptions): Promise<{ movie: FileFacts; poster: FileFacts; runTimeS: number; bitRateKbps: number }> {
  const [movie, poster] = await Promise.all([measureMovie(files.moviePath), fileFacts(files.posterPath)]);
  const movieInfo = parseProbe(await runFfprobe(o.config.FFPROBE_PATH, files.moviePath, { signal: o.signal }));
  if (!movieInfo.ok) throw new PermanentJobError('cable_movie_off_profile', `the cable movie cannot be read back: ${movieInfo.failure.reason}`);
  const checked = checkCableMovie(movieInfo.info, p.profile);
  const problems = [...checked.problems, ...muxRateProblems(movie.mux, p.profile.mux.rateKbps * 1000)];
  if (problems.length) throw new PermanentJobError('cable_movie_off_profile', `the cable movie does not meet profile ${p.profile.name}: ${problems.join('; ')}`);
  return { movie: movie.facts, poster, runTimeS: checked.facts.durationS, bitRateKbps: Math.round(movie.mux.rateBps / 1000) };
}

export function bufferFacts(b: Buffer): FileFacts {
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
