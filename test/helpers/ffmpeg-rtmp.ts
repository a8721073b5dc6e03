import { spawn, type ChildProcess } from 'node:child_process';

/** An ffmpeg process started by a test; `stop()` ends it (SIGTERM, SIGKILL after 2 s). */
export interface FfProc {
  proc: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  stderr(): string;
  stop(): Promise<void>;
}

const running = new Set<FfProc>();

function run(args: string[]): FfProc {
  const proc = spawn('ffmpeg', ['-hide_banner', '-nostdin', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
  const ff: FfProc = {
    proc,
    exited,
    stderr: () => err,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(t);
      }
      running.delete(ff);
    },
  };
  running.add(ff);
  exited.then(() => running.delete(ff));
  return ff;
}

/** Stops every ffmpeg a test file started (afterAll / afterEach). */
export async function stopAllFfmpeg(): Promise<void> {
  await Promise.all([...running].map((f) => f.stop()));
}

/**
 * A live publisher from lavfi sources. `h264` is the legitimate look (testsrc2 + sine, AAC);
 * `flv1` is an intruder whose every video tag carries codec id 2, so a viewer can tell its frames apart.
 */
export function startPublisher(url: string, opts: { codec?: 'h264' | 'flv1'; size?: string; durationS?: number; gop?: number } = {}): FfProc {
  const size = opts.size ?? '320x240';
  const dur = opts.durationS ?? 60;
  if ((opts.codec ?? 'h264') === 'flv1') {
    return run([
      '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `color=c=red:size=${size}:rate=25`,
      '-t', String(dur), '-c:v', 'flv', '-g', '25', '-an', '-f', 'flv', url,
    ]);
  }
  return run([
    '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(dur),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(opts.gop ?? 50), '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', url,
  ]);
}

/** A viewer that decodes the pulled stream and reports its decoded video frame count. */
export function startViewer(url: string): FfProc & { frames(): number } {
  const ff = run([
    '-loglevel', 'error', '-rw_timeout', '15000000', '-i', url,
    '-map', '0:v:0', '-f', 'null', '-', '-progress', 'pipe:1', '-stats_period', '0.25',
  ]);
  let frames = 0;
  let pending = '';
  ff.proc.stdout?.on('data', (d: Buffer) => {
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) {
      const m = /^frame=(\d+)/.exec(l.trim());
      if (m) frames = Number(m[1]);
    }
  });
  return Object.assign(ff, { frames: () => frames });
}

/** Resolves once pred() holds, polling every 50 ms; rejects after timeoutMs. */
export async function waitUntil(pred: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
