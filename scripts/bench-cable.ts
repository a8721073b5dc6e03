/**
 * npm run bench:cable [-- --seconds 60]
 *
 * Realtime factor of packaging a 1080p lesson for cable VOD with the default HD profile (source ->
 * CBR MPEG-TS + poster + checks + ADI.XML in the outbox), next to the bare ffmpeg command that makes
 * the same movie.ts from a local file, both measured in this run. The ratio is the packaging overhead.
 * `--runs N` alternates the two N times and reports the fastest of each (shared machines are noisy).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Job } from 'bullmq';
import { loadConfig } from '../config/load.ts';
import { startS3Server } from '../src/infra/embedded.ts';
import { createLogger } from '../src/infra/logger.ts';
import { ObjectStorage } from '../src/infra/storage.ts';
import { cableLicenseWindow, cableProfileFromConfig, cableProviderFromConfig, type CablePackagePayload } from '../src/jobs/cable.job.ts';
import { formatAssetId } from '../src/media/adi-xml.ts';
import { cableMovieArgs } from '../src/media/cable-args.ts';
import { cableSourceFromMedia } from '../src/media/cable-probe.ts';
import { parseProbe } from '../src/media/probe.ts';
import { runFfmpeg, runFfprobe } from '../src/infra/ffmpeg.runner.ts';
import { cablePackageHandler } from '../workers/cable-package.handler.ts';

const run = promisify(execFile);
const secondsArg = process.argv.indexOf('--seconds');
const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 60;
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Math.max(1, Number(process.argv[runsArg + 1])) : 1;

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-cable-'));
  const s3 = await startS3Server(path.join(dir, 's3'));
  try {
    const config = loadConfig({}, { S3_ENDPOINT: s3.url, LOG_LEVEL: 'silent', WORK_DIR: dir });
    const storage = new ObjectStorage({
      endpoint: config.S3_ENDPOINT, accessKey: config.S3_ACCESS_KEY, secretKey: config.S3_SECRET_KEY, region: config.S3_REGION,
      mediaBucket: config.S3_MEDIA_BUCKET, cableBucket: config.S3_CABLE_BUCKET, partSize: config.S3_PART_SIZE_MB * 1024 * 1024,
    });
    await storage.ensureBuckets();
    const profile = cableProfileFromConfig(config);

    // a 1080p30 camera-like source with sound (not timed)
    const source = path.join(dir, 'source.mp4');
    console.log(`making a ${seconds} s 1920x1080 30 fps source...`);
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=30:duration=${seconds}`,
      '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
      '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '18', '-pix_fmt', 'yuv420p', '-g', '60', '-c:a', 'aac', '-b:a', '128k', source]);
    const sourceKey = 'sources/bench/source.mp4';
    await storage.putFile(storage.mediaBucket, sourceKey, source, 'video/mp4');

    const probed = parseProbe(await runFfprobe(config.FFPROBE_PATH, source));
    if (!probed.ok) throw new Error(probed.failure.message);
    const src = cableSourceFromMedia(probed.info);
    const payload = (packageId: string): CablePackagePayload => ({
      packageId, verb: 'deliver', lessonId: 'bench', assetId: 'bench', version: { major: 1, minor: 0 }, sourceKey,
      adiIds: { package: formatAssetId('BNCH', 1), title: formatAssetId('BNCH', 2), movie: formatAssetId('BNCH', 3), poster: formatAssetId('BNCH', 4) },
      lesson: { title: '基准测试课', description: '', stage: '初中', subject: '数学' },
      createdAt: new Date().toISOString(), license: cableLicenseWindow(new Date(), 365),
      provider: cableProviderFromConfig(config), profile,
    });
    const bareTimes: number[] = [];
    const packTimes: number[] = [];
    let best: { packS: number; marks: [number, number][]; t1: number; files: { name: string; size: number }[] } | null = null;
    for (let i = 0; i < runs; i++) {
      // baseline: the bare ffmpeg command, same argv, local file in and out
      const t0 = performance.now();
      await runFfmpeg(cableMovieArgs({ input: source, output: path.join(dir, 'bare.ts'), profile, source: src }), { ffmpegPath: config.FFMPEG_PATH });
      bareTimes.push((performance.now() - t0) / 1000);
      // the packaging job, as a worker runs it (minus the queue)
      const marks: [number, number][] = [];
      const job = { id: `bench-${i}`, data: payload(`bench-${i}`), updateProgress: async (p: number) => void marks.push([p, performance.now()]) } as unknown as Job<CablePackagePayload>;
      const t1 = performance.now();
      const result = await cablePackageHandler(job, { config, storage, log: createLogger('silent') }, new AbortController().signal);
      const packS = (performance.now() - t1) / 1000;
      packTimes.push(packS);
      if (!best || packS < best.packS) best = { packS, marks, t1, files: (result.data as { files: { name: string; size: number }[] }).files };
      console.log(`run ${i + 1}/${runs}: bare ${bareTimes[i].toFixed(1)} s, packaging ${packS.toFixed(1)} s`);
    }
    const bareS = Math.min(...bareTimes);
    const { packS, marks, t1, files } = best!;
    const at = (p: number) => ((marks.find(([x]) => x >= p)?.[1] ?? t1) - t1) / 1000;

    const row = (label: string, s: number) => console.log(`${label.padEnd(44)} ${s.toFixed(1).padStart(7)} s   ${(seconds / s).toFixed(2).padStart(5)}x realtime`);
    console.log(`\ncable packaging, profile ${profile.name} (x264 ${profile.video.preset}), ${seconds} s 1080p30 source, ${os.cpus().length} cores, fastest of ${runs}, load average ${os.loadavg()[0].toFixed(1)}`);
    row('bare ffmpeg command (baseline)', bareS);
    row('packaging job (download..ADI.XML uploaded)', packS);
    console.log(`  download + probe                             ${at(5).toFixed(1).padStart(7)} s`);
    console.log(`  encode movie.ts + poster                     ${(at(87) - at(5)).toFixed(1).padStart(7)} s`);
    console.log(`  MD5 + TS meter + ffprobe + ADI validation    ${(at(92) - at(87)).toFixed(1).padStart(7)} s`);
    console.log(`  upload media + ADI.XML                       ${(packS - at(92)).toFixed(1).padStart(7)} s`);
    console.log(`ratio packaging / bare: ${(packS / bareS).toFixed(3)}`);
    console.log(`files: ${files.map((f) => `${f.name} ${f.size} B`).join(', ')}`);
  } finally {
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
