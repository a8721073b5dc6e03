/**
 * bench:viewers' load generator, out of the bench's own process: N child processes
 * (viewer-load.child.ts), each running its share of the viewers and students on its own event loop.
 * The bench process keeps only what it times (the live writer, the stop and its probes), so a busy
 * generator delays neither; and each child reports its own event-loop delay, so a stall can be told
 * apart as the generator's (it was late to ask) or the servers' (the answer was late or old).
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Rung { name: string; bw: number; kb: number }

/** One phase for one child: its viewers [from, to) and students [from, to) of the whole run's. */
export interface PhaseSpec {
  bases: string[];
  seconds: number;
  lessonId: string;
  rungs: Rung[];
  targetS: number;
  viewers: [number, number];
  students: [number, number];
  /** The lesson is stopped during this phase: errors after the stop are not counted. */
  withdraw?: boolean;
}

/**
 * How one segment reached a viewer (ms): how long after it was written the viewer first saw it listed
 * (NaN for the first playlist's segments), how late the poll that listed it started (the previous
 * segment fetches ran long, or the generator's event loop was late), the playlist's and the segment's
 * request times, and how late it arrived against its playback deadline (negative: in time).
 */
export interface SegmentTiming { listedAfterMs: number; pollLateMs: number; playlistMs: number; fetchMs: number; lateMs: number }

export interface PhaseStats {
  viewerRequests: number;
  viewerErrors: number;
  stalls: number;
  segments: number;
  hits: number;
  withCacheStatus: number;
  /** Age of the newest segment of each live playlist as served (ms since it was written). */
  ages: number[];
  studentRequests: number;
  studentErrors: number;
  errorSamples: string[];
  /** Every segment's timing (up to 20,000 per child) and the stalled ones'. */
  timings: SegmentTiming[];
  stalled: SegmentTiming[];
  /** The child's event-loop delay over the phase (monitorEventLoopDelay, 10 ms resolution). */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

export type GeneratorMessage =
  | { type: 'written'; segments: [number, number][] }
  | { type: 'stopped'; at: number }
  | { type: 'phase'; spec: PhaseSpec }
  | { type: 'exit' };
type ChildMessage = { type: 'ready' } | { type: 'result'; stats: PhaseStats } | { type: 'failed'; message: string };

const childEntry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'viewer-load.child.ts');

export interface ViewerLoad {
  pids: number[];
  /** Tells every child when segments were written (seq, epoch ms). */
  written(segments: [number, number][]): void;
  /** Tells every child the lesson was stopped at `at`. */
  stopped(at: number): void;
  /** Runs a phase with `viewers` viewers and `students` students split over the children; their counts merged. */
  run(spec: Omit<PhaseSpec, 'viewers' | 'students'>, viewers: number, students: number): Promise<PhaseStats>;
  stop(): Promise<void>;
}

/** Forks `n` generator processes (with this process's loader flags: tsx) and waits until they listen. */
export async function startViewerLoad(n: number): Promise<ViewerLoad> {
  const children: ChildProcess[] = [];
  const next: ((m: ChildMessage) => void)[] = [];
  for (let i = 0; i < n; i++) {
    const child = fork(childEntry, [], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once('message', (m: ChildMessage) => (m.type === 'ready' ? resolve() : reject(new Error(`viewer generator ${i}: ${JSON.stringify(m)}`))));
      child.once('exit', (code) => reject(new Error(`viewer generator ${i} exited (${code})`)));
    });
    child.on('message', (m: ChildMessage) => next[i]?.(m));
  }
  const send = (m: GeneratorMessage) => {
    for (const c of children) c.send(m);
  };
  const share = (total: number, i: number): [number, number] => [Math.floor((total * i) / n), Math.floor((total * (i + 1)) / n)];
  return {
    pids: children.map((c) => c.pid!),
    written: (segments) => send({ type: 'written', segments }),
    stopped: (at) => send({ type: 'stopped', at }),
    async run(spec, viewers, students) {
      const results = await Promise.all(children.map((c, i) => new Promise<PhaseStats>((resolve, reject) => {
        next[i] = (m) => (m.type === 'result' ? resolve(m.stats) : m.type === 'failed' ? reject(new Error(m.message)) : undefined);
        c.send({ type: 'phase', spec: { ...spec, viewers: share(viewers, i), students: share(students, i) } } satisfies GeneratorMessage);
      })));
      return mergeStats(results);
    },
    async stop() {
      await Promise.all(children.map((c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || !c.connected) return resolve();
        c.once('exit', () => resolve());
        c.send({ type: 'exit' } satisfies GeneratorMessage);
        setTimeout(() => { c.kill('SIGKILL'); resolve(); }, 5000).unref();
      })));
    },
  };
}

function mergeStats(all: PhaseStats[]): PhaseStats {
  const sum = (k: 'viewerRequests' | 'viewerErrors' | 'stalls' | 'segments' | 'hits' | 'withCacheStatus' | 'studentRequests' | 'studentErrors') => all.reduce((a, s) => a + s[k], 0);
  return {
    viewerRequests: sum('viewerRequests'), viewerErrors: sum('viewerErrors'), stalls: sum('stalls'), segments: sum('segments'),
    hits: sum('hits'), withCacheStatus: sum('withCacheStatus'), studentRequests: sum('studentRequests'), studentErrors: sum('studentErrors'),
    ages: all.flatMap((s) => s.ages),
    errorSamples: [...new Set(all.flatMap((s) => s.errorSamples))].slice(0, 5),
    timings: all.flatMap((s) => s.timings),
    stalled: all.flatMap((s) => s.stalled),
    loopDelayP99Ms: Math.max(...all.map((s) => s.loopDelayP99Ms)),
    loopDelayMaxMs: Math.max(...all.map((s) => s.loopDelayMaxMs)),
  };
}

export const pct = (xs: number[], p: number): number => {
  const v = xs.filter((x) => Number.isFinite(x));
  return v.length ? [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor((p / 100) * v.length))] : NaN;
};
