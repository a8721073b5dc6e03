import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startFleet, type Fleet, type FleetOptions } from '../../scripts/lib/fleet.ts';
import type { Part } from '../../scripts/lib/fleet-part.ts';
import { storageLoader } from '../../src/infra/hls-source.ts';
import { validateVod } from '../../src/media/hls-validator.ts';
import { loadVodInput } from '../../src/media/hls-vod-input.ts';
import { hlsPrefix, masterKey } from '../../src/media/storage-keys.ts';
import { jobIds } from '../../src/jobs/job-types.ts';
import { lessonBody, startTestSystem, type TestSystem } from './system.ts';
import { runFfmpegCli } from './media.ts';

/**
 * A fleet (scripts/lib/fleet.ts: separate processes, real parts) plus, in the test process, a system
 * with no role on the fleet's configuration for fixtures (schools, users) and for looking at the
 * database, queues and storage; `ts.api` calls the fleet's edge.
 */
export interface FleetRig {
  fleet: Fleet;
  ts: TestSystem;
  mediaDir: string;
  stop(): Promise<void>;
}

export async function startFleetRig(o: FleetOptions = {}): Promise<FleetRig> {
  const fleet = await startFleet({ logLevel: process.env.TEST_LOG_LEVEL ?? 'info', ...o });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cc-fleet-fixtures-'));
  let ts: TestSystem;
  try {
    ts = await startTestSystem({}, { ...fleet.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: dataDir, HTTP_PORT: '0', RTMP_PORT: fleet.env.RTMP_PORT }, { url: fleet.publicUrl });
  } catch (err) {
    await fleet.stop();
    throw err;
  }
  return {
    fleet,
    ts,
    mediaDir: dataDir,
    stop: async () => {
      await ts.sys.stop().catch(() => undefined);
      await fleet.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A lesson-like clip: testsrc2 + tone, H.264/AAC, `seconds` long at 640x360 (one 360p rung + audio). */
export async function makeClip(dir: string, name: string, seconds: number, opts: { size?: string; lossless?: boolean } = {}): Promise<string> {
  const file = path.join(dir, `${name}.mp4`);
  await runFfmpegCli([
    '-f', 'lavfi', '-t', String(seconds), '-i', `testsrc2=size=${opts.size ?? '640x360'}:rate=25`,
    '-f', 'lavfi', '-t', String(seconds), '-i', 'sine=frequency=440:sample_rate=48000',
    // lossless: a big file from a short clip (resumable uploads need parts of 5 MiB)
    '-c:v', 'libx264', '-preset', 'ultrafast', ...(opts.lossless ? ['-qp', '0'] : []), '-pix_fmt', 'yuv420p', '-g', '50', '-c:a', 'aac', '-b:a', '96k', '-shortest', file,
  ]);
  return file;
}

/** A new recorded lesson of teacherA with `file` uploaded through the edge; the transcode is queued. */
export async function uploadedLesson(r: FleetRig, file: string, title = '分数的初步认识'): Promise<{ lessonId: string; assetId: string }> {
  const c = await r.ts.api('POST', '/api/v1/lessons', { token: r.ts.users.teacherA.token, body: lessonBody({ title }) });
  if (c.status !== 201) throw new Error(`create failed: ${c.status} ${JSON.stringify(c.body)}`);
  const up = await r.ts.api('PUT', `/api/v1/lessons/${c.body.id}/media?filename=lesson.mp4`, { token: r.ts.users.teacherA.token, raw: await readFile(file), headers: { 'content-type': 'video/mp4' } });
  if (up.status !== 202) throw new Error(`upload failed: ${up.status} ${JSON.stringify(up.body)}`);
  return { lessonId: c.body.id as string, assetId: up.body.assetId as string };
}

/** Polls fn until it returns something truthy; errors count as "not yet" (parts may be down). */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

/** The transcode job of an asset once a worker runs it with some progress; with the worker holding it. */
export async function transcodeRunning(r: FleetRig, assetId: string, minProgress = 1, timeoutMs = 120_000): Promise<{ worker: Part; progress: number }> {
  const id = jobIds.transcode(assetId);
  const q = r.ts.sys.queues.queue('transcode');
  const progress = await eventually(async () => {
    const job = await q.getJob(id);
    const p = typeof job?.progress === 'number' ? job.progress : 0;
    return (await job?.getState()) === 'active' && p >= minProgress ? p : undefined;
  }, timeoutMs, `transcode ${assetId} running`);
  const worker = r.fleet.workers.find((w) => w.running && w.output().split('\n').some((l) => l.includes(`"jobId":"${id}"`) && l.includes('"job started"')));
  if (!worker) throw new Error(`no running worker logged the start of ${id}`);
  return { worker, progress };
}

/** Waits until the lesson (seen by its teacher through the edge) has `status`; 503s while parts are down are waited out. */
export async function lessonStatus(r: FleetRig, lessonId: string, status: string, timeoutMs: number): Promise<Record<string, any>> {
  return eventually(async () => {
    const res = await r.ts.api('GET', `/api/v1/lessons/${lessonId}`, { token: r.ts.users.teacherA.token });
    return res.status === 200 && res.body.status === status ? (res.body as Record<string, any>) : undefined;
  }, timeoutMs, `lesson ${lessonId} ${status}`);
}

/** Audit rows of an asset's processing outcome: exactly one success means the result was applied once. */
export async function processingOutcomes(r: FleetRig, assetId: string): Promise<string[]> {
  const rows = await r.ts.sys.db.query<{ action: string }>("SELECT action FROM audit_log WHERE entity = 'asset' AND entity_id = $1 AND action LIKE 'processing_%' ORDER BY id", [assetId]);
  return rows.map((x) => x.action);
}

/** The asset's HLS in storage passes the validator (every named object exists, playlists well formed). */
export async function vodProblems(r: FleetRig, assetId: string): Promise<string[]> {
  const st = r.ts.sys.storage;
  if (!(await st.stat(st.mediaBucket, masterKey(assetId)))) return ['no master playlist'];
  return validateVod(await loadVodInput(storageLoader(st, st.mediaBucket, hlsPrefix(assetId)))).map((p) => JSON.stringify(p));
}

/**
 * Watches, until stopped, that whenever the asset's master playlist exists while its job is still
 * running, everything it names is there and valid (no playlist may point at a missing object).
 */
export function watchNoPartialMaster(r: FleetRig, assetId: string): { stop: () => Promise<string[]> } {
  const seen: string[] = [];
  let on = true;
  const st = r.ts.sys.storage;
  const loop = (async () => {
    while (on) {
      try {
        const job = await r.ts.sys.queues.queue('transcode').getJob(jobIds.transcode(assetId));
        if (job && (await job.getState()) === 'active' && (await st.stat(st.mediaBucket, masterKey(assetId)))) {
          const problems = await vodProblems(r, assetId);
          if (problems.length) seen.push(`master present with problems at ${String(job.progress)}%: ${problems.slice(0, 3).join('; ')}`);
        }
      } catch {
        /* a part is down: nothing to see */
      }
      await new Promise((res) => setTimeout(res, 500));
    }
  })();
  return {
    stop: async () => {
      on = false;
      await loop;
      return seen;
    },
  };
}
