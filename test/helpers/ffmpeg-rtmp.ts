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

/** What a publisher sends, as the encoders teachers use can be set (issue 11 "real encoders' streams"). */
export interface PublisherOptions {
  codec?: 'h264' | 'flv1';
  /** Picture size (default 320x240). */
  size?: string;
  /** Frame rate (default 25). */
  fps?: number;
  durationS?: number;
  /** Keyframe interval in frames (default 50), or 'auto': x264's own default (250 frames). */
  gop?: number | 'auto';
  /** Send no sound (a camera without a microphone). */
  noAudio?: boolean;
  /** Send no picture (a radio-style lesson). */
  noVideo?: boolean;
  /** B-frames between references (default 0: zerolatency). */
  bframes?: number;
  /** Audio sample rate (default 48000). */
  sampleRate?: number;
  /** Seconds added to every timestamp sent (an encoder whose clock does not start at 0). */
  tsOffsetS?: number;
  /** Constant video rate, kb/s, as OBS sends it (default: x264's own quality-based rate). */
  bitrateKbps?: number;
  /** Sound as OBS sends it by default: stereo at 128 kb/s (default: mono at 64 kb/s). */
  obsSound?: boolean;
}

/** argv of an H.264/AAC publisher from lavfi sources (the legitimate look: testsrc2 + sine). */
export function publisherArgs(url: string, opts: PublisherOptions = {}): string[] {
  const size = opts.size ?? '320x240';
  const fps = opts.fps ?? 25;
  const video = opts.noVideo
    ? []
    : [
        '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
        // zerolatency turns B-frames off; an OBS profile with B-frames keeps the encoder's lookahead
        ...(opts.bframes ? ['-bf', String(opts.bframes)] : ['-tune', 'zerolatency']),
        ...(opts.gop === 'auto' ? [] : ['-g', String(opts.gop ?? 50)]),
        ...(opts.bitrateKbps ? ['-b:v', `${opts.bitrateKbps}k`, '-maxrate', `${opts.bitrateKbps}k`, '-bufsize', `${opts.bitrateKbps}k`] : []),
      ];
  const audio = opts.noAudio ? [] : ['-c:a', 'aac', ...(opts.obsSound ? ['-b:a', '128k', '-ac', '2'] : ['-b:a', '64k'])];
  return [
    '-loglevel', 'error', '-re',
    ...(opts.noVideo ? [] : ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}`]),
    ...(opts.noAudio ? [] : ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${opts.sampleRate ?? 48000}`]),
    '-t', String(opts.durationS ?? 60),
    ...video, ...audio,
    ...(opts.tsOffsetS ? ['-output_ts_offset', String(opts.tsOffsetS)] : []),
    '-f', 'flv', url,
  ];
}

/**
 * A live publisher from lavfi sources. `h264` is the legitimate look (testsrc2 + sine, AAC);
 * `flv1` is an intruder whose every video tag carries codec id 2, so a viewer can tell its frames apart.
 */
export function startPublisher(url: string, opts: PublisherOptions = {}): FfProc {
  if ((opts.codec ?? 'h264') === 'flv1') {
    return run([
      '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `color=c=red:size=${opts.size ?? '320x240'}:rate=25`,
      '-t', String(opts.durationS ?? 60), '-c:v', 'flv', '-g', '25', '-an', '-f', 'flv', url,
    ]);
  }
  return run(publisherArgs(url, opts));
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
