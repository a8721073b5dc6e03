/**
 * The one place ffmpeg and ffprobe run (STYLE.md: the only file importing fluent-ffmpeg). Builders in
 * src/media/ffmpeg-args.ts make the argv; this file executes it: logs the command, keeps the tail of
 * stderr for the error, reports progress 0-100 from `-progress pipe:1`, honours an AbortSignal
 * (SIGTERM, then SIGKILL), and gives each job a temp dir that is always removed.
 *
 * Processes are spawned with child_process, not through fluent-ffmpeg's command builder: that builder
 * rewrites the argv (it prepends `-y`, reads progress from stderr) and cannot tie ffmpeg's life to the
 * worker's. On Linux ffmpeg is started under `setpriv --pdeathsig KILL`, so a worker killed with SIGKILL
 * takes its ffmpeg with it (ffmpeg ignores SIGPIPE and would otherwise run on as an orphan).
 * fluent-ffmpeg serves the capability check at worker start (encoders and filters present).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ffmpeg from 'fluent-ffmpeg';
import { scrubUrl, type Logger } from './logger.ts';

/** ffmpeg failed, was killed or was aborted; `stderrTail` holds its last log lines. */
export class FfmpegError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
    readonly aborted: boolean,
  ) {
    super(message);
    this.name = 'FfmpegError';
  }
}

export interface FfmpegRunOptions {
  ffmpegPath: string;
  /** Length of the output, seconds, for progress (none reported when unknown). */
  durationS?: number | null;
  /** Called with 0-100, increasing, at most about twice a second. */
  onProgress?: (percent: number) => void;
  signal?: AbortSignal;
  log?: Logger;
  /** Wait this long after SIGTERM before SIGKILL (default 3 s). */
  killGraceMs?: number;
  /** Lines of stderr kept for the error (default 40); `[info]` lines are not kept, only handed to onStderrLine. */
  tailLines?: number;
  /** Each line ffmpeg writes to stderr (e.g. its input dump at `-loglevel level+info`). */
  onStderrLine?: (line: string) => void;
  cwd?: string;
}

export interface FfmpegRunResult {
  /** Last stderr lines (warnings), e.g. to spot a truncated input after a "successful" run. */
  stderrTail: string;
  elapsedMs: number;
}

let pdeathsig: boolean | undefined;

/** Whether `setpriv --pdeathsig` is available (Linux util-linux). */
function canUsePdeathsig(): boolean {
  if (pdeathsig === undefined) {
    if (process.platform !== 'linux') pdeathsig = false;
    else {
      const r = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore' });
      pdeathsig = r.status === 0;
    }
  }
  return pdeathsig;
}

function spawnGuarded(bin: string, args: string[], cwd?: string): ChildProcess {
  const [cmd, argv] = canUsePdeathsig() ? ['setpriv', ['--pdeathsig', 'KILL', '--', bin, ...args]] : [bin, args];
  return spawn(cmd as string, argv as string[], { cwd, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
}

/** Keeps the last n lines of a stream of text. */
class LineTail {
  private lines: string[] = [];
  private partial = '';
  constructor(private readonly max: number, private readonly keep: (line: string) => boolean = () => true) {}
  push(chunk: string): string[] {
    const text = this.partial + chunk;
    const parts = text.split(/\r?\n|\r/);
    this.partial = parts.pop() ?? '';
    for (const l of parts) if (l.trim() && this.keep(l)) this.lines.push(l);
    if (this.lines.length > this.max) this.lines = this.lines.slice(-this.max);
    return parts;
  }
  /** The kept lines with secrets taken out: ffmpeg repeats its input URL (a pull's `?token=`) in its errors. */
  text(): string {
    return scrubUrl([...this.lines, ...(this.partial.trim() ? [this.partial] : [])].slice(-this.max).join('\n'));
  }
}

/** Progress percentage from one `-progress` key=value line, or null. */
export function progressFromLine(line: string, durationS: number | null | undefined): number | null {
  if (line.startsWith('progress=end')) return 100;
  if (!durationS || durationS <= 0) return null;
  const m = /^out_time_(?:us|ms)=(-?\d+)$/.exec(line.trim());
  if (!m) return null;
  // ffmpeg 5.1 writes microseconds in both out_time_us and (misnamed) out_time_ms.
  const pct = (Number(m[1]) / 1e6 / durationS) * 100;
  return Math.max(0, Math.min(100, pct));
}

/** Runs ffmpeg with an argv from src/media/ffmpeg-args.ts. Rejects with FfmpegError. */
export function runFfmpeg(args: readonly string[], opts: FfmpegRunOptions): Promise<FfmpegRunResult> {
  const started = Date.now();
  const log = opts.log;
  if (opts.signal?.aborted) return Promise.reject(new FfmpegError('ffmpeg aborted before start', null, null, '', true));
  log?.info({ cmd: scrubUrl(['ffmpeg', ...args].map(quoteForLog).join(' ')) }, 'ffmpeg started');
  return new Promise((resolve, reject) => {
    const child = spawnGuarded(opts.ffmpegPath, [...args], opts.cwd);
    // tagged info lines (an input dump asked for) would push the warnings out of the error's tail
    const tail = new LineTail(opts.tailLines ?? 40, (l) => !l.includes('[info]'));
    const progressLines = new LineTail(4);
    let last = -1;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const report = (pct: number) => {
      const p = Math.floor(pct);
      if (p > last) {
        last = p;
        try {
          opts.onProgress?.(p);
        } catch {
          // a failing progress sink never stops the encode
        }
      }
    };
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      for (const line of progressLines.push(chunk)) {
        const pct = progressFromLine(line, opts.durationS);
        if (pct !== null && pct < 100) report(pct);
      }
    });
    child.stderr?.on('data', (chunk: string) => {
      for (const line of tail.push(chunk)) opts.onStderrLine?.(line);
    });
    const onAbort = () => {
      aborted = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), opts.killGraceMs ?? 3000);
      killTimer.unref();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new FfmpegError(`ffmpeg could not start: ${err.message}`, null, null, '', false));
    });
    child.once('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      const stderrTail = tail.text();
      const elapsedMs = Date.now() - started;
      if (code === 0 && !aborted) {
        report(100);
        log?.info({ elapsedMs }, 'ffmpeg finished');
        resolve({ stderrTail, elapsedMs });
        return;
      }
      const why = aborted ? 'ffmpeg aborted' : signal ? `ffmpeg killed by ${signal}` : `ffmpeg exited with code ${code}`;
      log?.warn({ code, signal, elapsedMs, stderrTail }, why);
      reject(new FfmpegError(`${why}: ${lastLines(stderrTail, 5)}`, code, signal, stderrTail, aborted));
    });
  });
}

function lastLines(text: string, n: number): string {
  return text.split('\n').slice(-n).join(' | ') || '(no output)';
}

function quoteForLog(a: string): string {
  return /^[A-Za-z0-9_./:=+,@%-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`;
}

export interface ProbeOutput {
  /** Parsed JSON of `-print_format json`, or null when ffprobe printed none. */
  json: unknown;
  stderr: string;
  exitCode: number | null;
  fileSize: number;
  /** First 64 bytes of the file. */
  head: Uint8Array;
}

/**
 * Runs ffprobe on a local file (format, streams, error as JSON). Never throws for an unreadable file:
 * the caller turns exit code and stderr into a reason (src/media/probe.ts). Throws FfmpegError when
 * ffprobe cannot run at all or times out.
 */
export async function runFfprobe(ffprobePath: string, file: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ProbeOutput> {
  const fileSize = (await stat(file)).size;
  const head = await readHead(file, 64);
  const args = [
    '-v', 'error',
    '-hide_banner',
    // Look further than the 5 MB / 5 s default so late-starting tracks (camera TS, MKV) are seen.
    '-probesize', '50M',
    '-analyzeduration', '20M',
    '-print_format', 'json',
    '-show_format',
    '-show_streams',
    '-show_error',
    file,
  ];
  return new Promise((resolve, reject) => {
    const child = spawnGuarded(ffprobePath, args);
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (c: string) => (out += c));
    child.stderr?.on('data', (c: string) => (err = (err + c).slice(-20_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    const onAbort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new FfmpegError(`ffprobe could not start: ${e.message}`, null, null, '', false));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (signal) {
        reject(new FfmpegError(`ffprobe killed by ${signal}`, code, signal, err, opts.signal?.aborted ?? false));
        return;
      }
      let json: unknown = null;
      try {
        json = out.trim() ? JSON.parse(out) : null;
      } catch {
        json = null;
      }
      resolve({ json, stderr: err, exitCode: code, fileSize, head });
    });
  });
}

async function readHead(file: string, n: number): Promise<Uint8Array> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(n);
    const { bytesRead } = await fh.read(b, 0, n, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * Where each stream really ends (absolute seconds, by stream index): the highest pts + duration among
 * the packets of the last `tailS` seconds. Only the tail is read (a seek), so it is cheap on any size.
 */
export async function probeStreamEnds(ffprobePath: string, file: string, approxEndS: number, opts: { tailS?: number; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Record<number, number>> {
  const from = Math.max(0, approxEndS - (opts.tailS ?? 20));
  const json = await ffprobeJson(ffprobePath, ['-read_intervals', `${from.toFixed(3)}%`, '-show_entries', 'packet=stream_index,pts_time,dts_time,duration_time', file], opts);
  const ends: Record<number, number> = {};
  const packets = ((json as { packets?: { stream_index?: number; pts_time?: string; dts_time?: string; duration_time?: string }[] } | null)?.packets) ?? [];
  for (const p of packets) {
    const t = Number(p.pts_time ?? p.dts_time);
    if (p.stream_index === undefined || !Number.isFinite(t)) continue;
    const d = Number(p.duration_time);
    const end = t + (Number.isFinite(d) && d > 0 ? d : 0);
    if (!(p.stream_index in ends) || end > ends[p.stream_index]) ends[p.stream_index] = end;
  }
  return ends;
}

/**
 * The first video stream's level and its packets (times, keyframe flags, sizes) of a short local
 * capture, as ffprobe's JSON (src/media/passthrough.ts reads it); null when ffprobe printed none.
 */
export function probeVideoPackets(ffprobePath: string, file: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<unknown> {
  return ffprobeJson(ffprobePath, ['-select_streams', 'v:0', '-show_entries', 'stream=level:packet=pts_time,dts_time,flags,size', file], opts);
}

/** Runs ffprobe with `args` and JSON output; resolves with the parsed JSON (null when none). */
function ffprobeJson(ffprobePath: string, args: string[], opts: { signal?: AbortSignal; timeoutMs?: number }): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawnGuarded(ffprobePath, ['-v', 'error', '-hide_banner', '-print_format', 'json', ...args]);
    let text = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (c: string) => (text += c));
    child.stderr?.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    const onAbort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => reject(new FfmpegError(`ffprobe could not start: ${e.message}`, null, null, '', false)));
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (signal) {
        reject(new FfmpegError(`ffprobe killed by ${signal}`, code, signal, '', opts.signal?.aborted ?? false));
        return;
      }
      try {
        resolve(text.trim() ? JSON.parse(text) : null);
      } catch {
        resolve(null);
      }
    });
  });
}

/** Encoders and filters the transcode needs; missing ones are listed (empty: ffmpeg is fit for work). */
export async function checkFfmpegCapabilities(ffmpegPath: string): Promise<string[]> {
  const cmd = ffmpeg();
  cmd.setFfmpegPath(ffmpegPath);
  const encoders = await new Promise<Record<string, unknown>>((resolve, reject) => cmd.availableEncoders((e, r) => (e ? reject(e) : resolve(r as Record<string, unknown>))));
  const filters = await new Promise<Record<string, unknown>>((resolve, reject) => cmd.availableFilters((e, r) => (e ? reject(e) : resolve(r as Record<string, unknown>))));
  const missing: string[] = [];
  for (const e of ['libx264', 'aac', 'mjpeg']) if (!(e in encoders)) missing.push(`encoder ${e}`);
  for (const f of ['split', 'asplit', 'scale', 'fps', 'bwdif', 'tpad', 'apad', 'atrim', 'anullsrc', 'pan', 'aresample', 'tile', 'select', 'transpose', 'zscale', 'tonemap']) {
    if (!(f in filters)) missing.push(`filter ${f}`);
  }
  return missing;
}

const workDirPrefix = 'classcast-';
const ownerFile = '.owner.json';

interface Owner {
  pid: number;
  host: string;
  startedAt: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes job dirs under `root` left by dead processes of this host (a worker killed with SIGKILL
 * cannot clean up after itself), and ownerless ones older than a day. Returns the removed paths.
 */
export async function sweepStaleWorkDirs(root: string): Promise<string[]> {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = (await readdir(root)).filter((n) => n.startsWith(workDirPrefix));
  } catch {
    return removed;
  }
  for (const name of entries) {
    const dir = path.join(root, name);
    try {
      const owner = JSON.parse(await readFile(path.join(dir, ownerFile), 'utf8')) as Owner;
      if (owner.host !== os.hostname() || alive(owner.pid)) continue;
    } catch {
      const s = await stat(dir).catch(() => null);
      if (!s?.isDirectory() || Date.now() - s.mtimeMs < 86_400_000) continue;
    }
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch(() => undefined);
    removed.push(dir);
  }
  return removed;
}

/**
 * Runs `fn` in a fresh temp dir under `root` (the OS temp dir when empty) that is removed afterwards
 * whatever happens; dirs of dead workers are swept first.
 */
export async function withWorkDir<T>(root: string, label: string, fn: (dir: string) => Promise<T>, log?: Logger): Promise<T> {
  const base = root || os.tmpdir();
  await mkdir(base, { recursive: true });
  const swept = await sweepStaleWorkDirs(base);
  if (swept.length) log?.info({ swept }, 'removed work dirs of dead workers');
  const safe = label.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60);
  const dir = await mkdtemp(path.join(base, `${workDirPrefix}${safe}-`));
  const owner: Owner = { pid: process.pid, host: os.hostname(), startedAt: Date.now() };
  await writeFile(path.join(dir, ownerFile), JSON.stringify(owner));
  try {
    return await fn(dir);
  } catch (err) {
    throw await explainFullDisk(base, err);
  } finally {
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch((err: unknown) => log?.warn({ dir, err }, 'could not remove work dir'));
  }
}

/** Free bytes below which a failed job is blamed on a full work directory. */
const fullBelowBytes = 1024 * 1024;

/**
 * A job that failed while its work directory's file system was full gets that as its reason: ffmpeg
 * does not always exit non-zero when a write fails (the HLS muxer carries on), so the symptom would
 * otherwise be a puzzle such as "no segment written". The job is still retried (space may come back,
 * another worker has its own disk).
 */
async function explainFullDisk(base: string, err: unknown): Promise<unknown> {
  const code = (err as NodeJS.ErrnoException)?.code;
  const fs = await statfs(base).catch(() => null);
  const free = fs ? fs.bavail * fs.bsize : Number.POSITIVE_INFINITY;
  if (code !== 'ENOSPC' && free >= fullBelowBytes) return err;
  const message = `the work directory is full (no space left on device; ${Math.floor(free / 1024)} KiB free in ${base}): ${(err as Error)?.message ?? String(err)}`;
  return Object.assign(new Error(message, { cause: err }), { code: 'ENOSPC' });
}
