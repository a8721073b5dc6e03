/**
 * One child process of the fleet (scripts/lib/fleet.ts): started with its command, ready when its port
 * answers, its probe passes or a line of its output matches, stopped gracefully or killed, and started
 * again with the same command, port and data, which is what the fault tests do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface PartSpec {
  name: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user (a root launcher starts PostgreSQL as `postgres`). */
  uid?: number;
  gid?: number;
  /** Ready once this loopback port accepts connections... */
  port?: number;
  /** ...and this resolves (polled until it does). */
  probe?: () => Promise<boolean>;
  /** ...and a line of its output matches this (since this start). */
  readyLine?: RegExp;
  /** Signal of a graceful stop (PostgreSQL: SIGINT, fast shutdown). */
  stopSignal?: NodeJS.Signals;
  /** Grace before SIGKILL on stop. */
  graceMs?: number;
  startTimeoutMs?: number;
}

/** A child process the fleet started: start, stop, kill and start it again with the same command. */
export class Part {
  private child?: ChildProcess;
  /** Output since the current start (its front dropped past 2 MB; `dropped` counts what went). */
  private out = '';
  private dropped = 0;
  private log?: WriteStream;
  private exitWaiters: (() => void)[] = [];
  private lineWaiters: (() => void)[] = [];
  /** Called when the process exits without being asked to (crash, kill from outside). */
  onUnexpectedExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
  private stopping = false;

  constructor(readonly spec: PartSpec, readonly logFile: string) {}

  get name(): string {
    return this.spec.name;
  }
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }
  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }
  get port(): number | undefined {
    return this.spec.port;
  }

  /** Starts the process and resolves once it is ready (port, probe, log line). */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    this.log.write(`\n--- ${new Date().toISOString()} start ${this.spec.cmd} ${this.spec.args.join(' ')}\n`);
    this.stopping = false;
    this.out = '';
    this.dropped = 0;
    const child = spawn(this.spec.cmd, this.spec.args, {
      cwd: this.spec.cwd ?? root,
      env: this.spec.env ?? process.env,
      uid: this.spec.uid,
      gid: this.spec.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
      // its own process group: a Ctrl-C in the terminal reaches the launcher only, which then stops
      // the parts in order (classcast processes first, the engines under them last)
      detached: true,
    });
    this.child = child;
    const onData = (d: Buffer) => {
      const s = d.toString();
      this.out += s;
      if (this.out.length > 2 * 1024 * 1024) {
        const cut = this.out.length - 1024 * 1024;
        this.out = this.out.slice(cut);
        this.dropped += cut;
      }
      this.log?.write(s);
      const w = this.lineWaiters;
      this.lineWaiters = [];
      for (const f of w) f();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => onData(Buffer.from(`[fleet] ${this.name} could not start: ${err.message}\n`)));
    child.once('exit', (code, signal) => {
      this.log?.write(`--- ${new Date().toISOString()} exit code=${code} signal=${signal}\n`);
      if (!this.stopping) this.onUnexpectedExit?.(code, signal);
      const w = this.exitWaiters;
      this.exitWaiters = [];
      for (const f of w) f();
      const lw = this.lineWaiters;
      this.lineWaiters = [];
      for (const f of lw) f();
    });
    const deadline = Date.now() + (this.spec.startTimeoutMs ?? 90_000);
    const failIfGone = () => {
      if (!this.running) throw new Error(`${this.name} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready:\n${this.tail(3000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name} was not ready within ${this.spec.startTimeoutMs ?? 90_000} ms:\n${this.tail(3000)}`);
    };
    if (this.spec.port) {
      while (!(await portAnswers(this.spec.port))) {
        failIfGone();
        await sleep(100);
      }
    }
    if (this.spec.readyLine) await this.waitForOutput(this.spec.readyLine, deadline - Date.now(), 0);
    if (this.spec.probe) {
      while (!(await this.spec.probe().catch(() => false))) {
        failIfGone();
        await sleep(200);
      }
    }
    failIfGone();
  }

  /** Graceful stop (the spec's signal), SIGKILL after the grace period. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    const exited = this.exited();
    this.child!.kill(this.spec.stopSignal ?? 'SIGTERM');
    const t = setTimeout(() => this.child?.kill('SIGKILL'), this.spec.graceMs ?? 20_000);
    await exited;
    clearTimeout(t);
  }

  /** Sends a signal (default SIGKILL) and waits for the exit: a crash, as a fault test wants it. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    const exited = this.exited();
    this.child!.kill(signal);
    await exited;
  }

  /** Stops (gracefully) and starts again on the same port and data. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  exited(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  /** The last `n` characters of its output (since the current start). */
  tail(n = 4000): string {
    return this.out.slice(-n);
  }

  /** Output since the current start, or since a mark(). */
  output(from = 0): string {
    return this.out.slice(Math.max(0, from - this.dropped));
  }

  /** Offset to pass to output() / waitForOutput() to see only what comes after now. */
  mark(): number {
    return this.dropped + this.out.length;
  }

  /** Resolves with the first line (after `from`, relative to the current start) matching `re`. */
  async waitForOutput(re: RegExp, timeoutMs: number, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.output(from);
      const line = text.split('\n').find((l) => re.test(l));
      if (line !== undefined) return line;
      if (!this.running) throw new Error(`${this.name} exited while waiting for ${re}:\n${this.tail(3000)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no output matching ${re} within ${timeoutMs} ms:\n${this.tail(3000)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.lineWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Closes the log file (after the last stop). */
  closeLog(): void {
    this.log?.end();
    this.log = undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The fleet.

export function portAnswers(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.setTimeout(2000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
