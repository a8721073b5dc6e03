/**
 * RTMP ingest: node-media-server (NMS) 4.4.3, pinned, in a supervised child process.
 *
 * This file is the parent side (`IngestSupervisor`) and the IPC message shapes; the publish/play rules
 * are `PublishGate` (src/domain/publish-gate.ts); `rtmp.child.ts` is the child entry and the only
 * importer of node-media-server.
 *
 * Why a child process: NMS keeps its state in module singletons, calls `process.exit` when its port is
 * taken, installs signal handlers, and a few crafted bytes crash it. The supervisor forks the child,
 * pushes the key cache to it over IPC, restarts it at once when it exits (backing off, up to 5 s, only
 * when it keeps dying within 10 s of starting), logs and counts restarts (`restarts`, event `restart`),
 * and re-sends the whole key cache and the revoked keys to each new child, on the same port.
 *
 * What the child patches at runtime (read from node_modules/node-media-server/src; nothing edited on
 * disk; the child refuses to start on any other NMS version):
 * - It does not use the `NodeMediaServer` class: it sets NMS's `Context.config` and runs NMS's
 *   `RtmpSession` on its own TCP listener. So NMS never opens its JSON store (no files, no pid lock,
 *   no SIGINT/SIGTERM handlers), never `process.exit`s on a taken port (the child reports `fatal`),
 *   and no HTTP/webadmin/relay/record servers exist. NMS's console logger is silenced: its lines carry
 *   stream names, which may be a mistyped secret; the child logs its own pino lines with ids only.
 * - Per connection (`RtmpSession` handlers are instance fields, wrapped before `run()`): the socket
 *   `data` handler runs the parser inside try/catch and destroys only that socket on any throw or
 *   parser error (zero-length AMF commands, `connect` without `tcUrl`, short media tags crashed the
 *   whole process unpatched). On `Rtmp.prototype`: `packetAlloc` refuses a declared message length
 *   above 64 KiB before a publish is accepted and above `maxMessageBytes` after (NMS allocated up to
 *   16 MiB per chunk stream on a header's word: 200 garbage connections of 100 KB took the process to
 *   6.6 GB and 83 s here; capped: 125 MB, under 1 s); `packetParse` caps distinct chunk streams per
 *   connection at 16; `controlHandler` rejects a chunk size < 1; `packetHandler` closes the connection
 *   on an empty command or a short control message, and on media sent before publish/play;
 *   `onConnect` requires a parsable `tcUrl` and an `app`; `onPublish`/`onPlay` allow one
 *   publish-or-play per connection, after `connect`. `onConnect` also takes a `key` out of the app's
 *   and tcUrl's query (an encoder given `rtmp://host/live?key=…` as its server, the lesson id as its
 *   stream key) and cuts the app's trailing slashes (a server typed `…/live/`): the gate gets that key
 *   when the stream name carries none; NMS never sees it.
 * - A publisher's data message (metadata) that NMS's AMF0 decoder throws on (an AMF3 value, a
 *   reserved type) is not relayed; unpatched, the throw cut the publisher at every reconnect.
 * - Media messages (audio, video, data) are broadcast only from the accepted publisher that currently
 *   owns its path; from anyone else (players, refused connections) they are no-ops, so a play-only
 *   client cannot inject frames and a refused publisher's bytes reach nobody, even when they arrive
 *   in the same TCP segment as its `publish`.
 * - Publish decisions: the `prePublish` listener decides synchronously from the in-memory key cache.
 *   NMS's own sign check is switched on with a random secret that never leaves the child; an accepted
 *   publisher gets a valid `sign` written into its `streamQuery`, a refused one none, so NMS refuses
 *   it before registering anything; the child then sends `NetStream.Publish.BadName` ("publish
 *   refused", the same for every reason) and destroys the socket (a bare `session.close()` is a
 *   half-close that leaked frames). The key is removed from `streamQuery` in every case.
 *   `NetStream.Publish.Start` is sent only after the publish is accepted (NMS sent it first, so
 *   encoders started pushing media into a refusal). A path already publishing is refused in
 *   `prePublish` (NMS let a second publisher push about 10 packets into the live stream first).
 *   Plays use the same sign trick with the worker token (or a loopback address when allowed); Play.Start
 *   is sent on acceptance, before NMS sends the cached headers and GOP.
 * - `postPublish` re-registers the session's broadcast: a takeover from another address during the
 *   grace window unregistered it (the stream kept flowing but new players got nothing).
 * - Idle and half-open connections: a publisher that sends nothing for `idleTimeoutMs` and a
 *   connection that neither publishes nor plays within `handshakeTimeoutMs` are destroyed; TCP
 *   keepalive on every socket; at most `maxPendingPerAddress` not-yet-authenticated connections per
 *   address and `maxConnections` in all. Players (workers) have no idle timeout: they wait for a
 *   publisher that has not come yet.
 * - Failed authentications (unknown lesson, wrong key, bad path, bad worker token) are counted per
 *   address; over `authMaxFailures` in `authFailureWindowMs` every attempt from it is refused
 *   (`rate_limited`), even with a valid key.
 *
 * Reconnects: each broadcast's `publishGraceMs` is set to `publishGraceMs` (from config: the live
 * reconnect window). When a publisher's socket closes the child sends `publisherLost` at once. The
 * same address publishing again within the grace window resumes the stream (NMS shifts timestamps
 * so players see one continuous timeline; `publishStart` carries `resumed: true`, no `publishEnd` for
 * the old session). A different address with a valid key takes over (`publishEnd` of the old session
 * with reason `takeover`, then `publishStart` of the new one, `resumed: false`, timestamps restart).
 * No reconnect within the window: `publishEnd` (reason `ended`). Whether a reconnect continues the
 * same LiveSession is the catalog's decision (LIVE_RECONNECT_WINDOW_S). A publisher whose old
 * connection is still open (not yet noticed dead) is refused as `already_publishing` until the idle
 * timeout drops the old one. `kick` destroys the publisher, revokes its current key hash (a new key
 * from the catalog re-enables the lesson) and ends the publish at once (`publisherLost` then
 * `publishEnd`, reason `kicked`, no grace). When the child itself dies, the parent sends
 * `publisherLost` (reason `ingest_restart`) for every publish on air and, if no `publishStart` for
 * that lesson follows within the grace window, `publishEnd` (reason `ingest_restart`). The adapter
 * never cuts a publisher on its own when its window ends or its key changes: the catalog kicks.
 * Players of a publish that is over (window run out, kicked, taken over) are sent StreamEOF and
 * `NetStream.Play.UnpublishNotify` after everything relayed and their connections ended (NMS keeps
 * them waiting for a next publisher): the capture's and transcoders' ffmpeg read the end of the
 * stream and close their last segment at once instead of sitting blocked until their read timeout,
 * where a stop's SIGTERM cannot reach them. The capture's deep cache is dropped with the publish.
 * A publisher's connection that closes within its window does the same to the path's players (and
 * drops the caches): a reconnect is a new epoch, pulled anew; a player that joined while the path
 * waited is let go when the publisher resumes.
 * A closing ingest does the same for every path at once (`endAll`, before `stop`): nothing new is
 * accepted, publishers are cut (`publisherLost`, reason `ingest_closing`) and every player is let go
 * after everything relayed.
 *
 * Secrets: the stream secret arrives only inside the child, is hashed (sha256) and compared in
 * constant time to the cached `keyHash`; the worker token likewise (the child holds only its hash).
 * Neither appears in logs, events, metrics or file names. Lesson ids of refused attempts are reported
 * only when the lesson is in the cache (a typo could put a secret in the stream name).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { Config } from '../../config/config.schema.ts';
import type { Logger } from './logger.ts';
import { LocalFailureLimiter } from './rate-limit.ts';
import {
  PublishGate, hashStreamKey, keyEntrySchema, keyInputSchema, lessonIdPattern, refusalReasons, revokedSchema, sha256Hex,
  type IngestKeyInput,
} from '../domain/publish-gate.ts';

/** The RTMP application every lesson is published under: `rtmp://host:port/live/{lessonId}`. */
export const RTMP_APP = 'live';

/**
 * The URL a worker pulls a live lesson from: `rtmp://{host}:{port}/live/{lessonId}?token={token}`.
 * Log it only through `scrubUrl` (the token is a secret).
 */
export function rtmpPullUrl(opts: { host: string; port: number; lessonId: string; token: string; deepCache?: boolean }): string {
  if (!lessonIdPattern.test(opts.lessonId)) throw new Error('invalid lesson id for an RTMP path');
  const host = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host;
  return `rtmp://${host}:${opts.port}/${RTMP_APP}/${opts.lessonId}?token=${encodeURIComponent(opts.token)}${opts.deepCache ? '&cache=deep' : ''}`;
}


// ---------------------------------------------------------------------------------------------
// IPC message shapes
// ---------------------------------------------------------------------------------------------

export const childSettingsSchema = z.object({
  host: z.string(),
  port: z.number().int().min(0).max(65535),
  /** sha256 hex of the worker play token; the child never holds the token itself. */
  workerTokenHash: z.string().regex(sha256Hex),
  allowLoopbackPlay: z.boolean(),
  idleTimeoutMs: z.number().int().positive(),
  handshakeTimeoutMs: z.number().int().positive(),
  maxMessageBytes: z.number().int().positive(),
  publishGraceMs: z.number().int().min(0),
  authMaxFailures: z.number().int().positive(),
  authFailureWindowMs: z.number().int().positive(),
  maxPendingPerAddress: z.number().int().positive(),
  maxConnections: z.number().int().positive(),
  logLevel: z.string(),
});
export type ChildSettings = z.infer<typeof childSettingsSchema>;

/** Parent -> child. */
export const toChildSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('init'), settings: childSettingsSchema, keys: z.array(keyEntrySchema), revoked: z.array(revokedSchema) }),
  z.object({ type: z.literal('keys'), entries: z.array(keyEntrySchema) }),
  z.object({ type: z.literal('upsertKey'), entry: keyEntrySchema }),
  z.object({ type: z.literal('removeKey'), lessonId: z.string() }),
  z.object({ type: z.literal('kick'), requestId: z.number(), lessonId: z.string().regex(lessonIdPattern) }),
  z.object({ type: z.literal('stats'), requestId: z.number() }),
  z.object({ type: z.literal('sync'), requestId: z.number() }),
  z.object({ type: z.literal('endAll'), requestId: z.number(), ms: z.number().int().min(0) }),
  z.object({ type: z.literal('shutdown') }),
]);
export type ToChild = z.infer<typeof toChildSchema>;

const ingestStatsSchema = z.object({
  pid: z.number(),
  uptimeMs: z.number(),
  rssBytes: z.number(),
  heapUsedBytes: z.number(),
  externalBytes: z.number(),
  connections: z.number(),
  pending: z.number(),
  publishers: z.number(),
  players: z.number(),
  /** connections closed for malformed traffic since the child started */
  protocolErrors: z.number(),
  /** connections closed at accept (per-address pending cap) */
  rejectedConnections: z.number(),
  /** media messages ignored because their sender was not the path's accepted publisher */
  upstreamMediaDropped: z.number(),
  /** publisher timestamp jumps (encoder restarts on one connection) relayed on one timeline since the child started */
  timestampJumps: z.number().default(0),
  /** publisher data messages (metadata) NMS cannot decode, not relayed, since the child started */
  metadataDropped: z.number().default(0),
  /** longest event-loop stall since the previous stats call */
  eventLoopDelayMaxMs: z.number(),
  /** each accepted publisher's stream as the ingest sees it (the teacher's live panel) */
  streams: z.array(z.object({
    lessonId: z.string(), sessionId: z.string(), since: z.number(), width: z.number(), height: z.number(),
    bitrateKbps: z.number(), videoKbps: z.number(), fps: z.number(), keyframeIntervalS: z.number().nullable(),
    hasVideo: z.boolean(), hasAudio: z.boolean(), idleMs: z.number(),
  })).default([]),
});
export type IngestStats = z.infer<typeof ingestStatsSchema>;

const publishStartSchema = z.object({ type: z.literal('publishStart'), lessonId: z.string(), sessionId: z.string(), ip: z.string(), resumed: z.boolean() });
const publisherLostSchema = z.object({ type: z.literal('publisherLost'), lessonId: z.string(), sessionId: z.string(), ip: z.string(), reason: z.string() });
const publishEndSchema = z.object({ type: z.literal('publishEnd'), lessonId: z.string(), sessionId: z.string(), reason: z.string() });
const refusedSchema = z.object({ type: z.literal('refused'), role: z.enum(['publish', 'play']), reason: z.enum(refusalReasons), lessonId: z.string().optional(), ip: z.string() });
const playSchema = (t: 'playStart' | 'playEnd') => z.object({ type: z.literal(t), lessonId: z.string(), sessionId: z.string(), ip: z.string() });

/** Child -> parent. Never carries a stream query, key or token. */
export const fromChildSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), port: z.number() }),
  z.object({ type: z.literal('fatal'), code: z.string(), message: z.string() }),
  publishStartSchema,
  publisherLostSchema,
  publishEndSchema,
  refusedSchema,
  playSchema('playStart'),
  playSchema('playEnd'),
  z.object({ type: z.literal('kickResult'), requestId: z.number(), sessionIds: z.array(z.string()) }),
  z.object({ type: z.literal('statsResult'), requestId: z.number(), stats: ingestStatsSchema }),
  z.object({ type: z.literal('syncResult'), requestId: z.number() }),
  z.object({ type: z.literal('endAllResult'), requestId: z.number() }),
]);
export type FromChild = z.infer<typeof fromChildSchema>;

type Omit2<T> = Omit<T, 'type'>;
export type PublishStartEvent = Omit2<z.infer<typeof publishStartSchema>>;
export type PublisherLostEvent = Omit2<z.infer<typeof publisherLostSchema>>;
export type PublishEndEvent = Omit2<z.infer<typeof publishEndSchema>>;
export type RefusedEvent = Omit2<z.infer<typeof refusedSchema>>;
export type PlayEvent = Omit2<z.infer<ReturnType<typeof playSchema>>>;
export interface RestartEvent {
  /** restarts since the supervisor started */
  count: number;
  code: number | null;
  signal: string | null;
  /** wait before the new child is forked (0 unless the child keeps dying right after start) */
  delayMs: number;
}

export interface IngestEvents {
  /** A publisher was accepted and registered (fresh, takeover, or `resumed` within the grace window). */
  publishStart: [PublishStartEvent];
  /** The publisher's connection closed (immediate; a reconnect may follow). */
  publisherLost: [PublisherLostEvent];
  /** The publish is over: no reconnect within the grace window, a takeover, a kick, or the child died. */
  publishEnd: [PublishEndEvent];
  refused: [RefusedEvent];
  playStart: [PlayEvent];
  playEnd: [PlayEvent];
  /** The child exited unexpectedly and is being restarted. */
  restart: [RestartEvent];
  /** A child is listening (after start and after each restart). */
  ready: [{ port: number; pid: number }];
}

// ---------------------------------------------------------------------------------------------
// Supervisor (parent side)
// ---------------------------------------------------------------------------------------------

export interface IngestSupervisorOptions {
  /** RTMP port; 0 = a free port chosen by the first child and kept across restarts. */
  port: number;
  host?: string;
  /** Token workers pass as `?token=`; empty/undefined = random per supervisor. */
  workerPlayToken?: string;
  allowLoopbackPlay?: boolean;
  idleTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  maxMessageBytes?: number;
  /** NMS publish grace window (same-address resume); default 60 s. */
  publishGraceMs?: number;
  authMaxFailures?: number;
  authFailureWindowMs?: number;
  maxPendingPerAddress?: number;
  maxConnections?: number;
  /** Host put into `pullUrl` (where workers reach this ingest). */
  pullHost?: string;
  log: Logger;
  /** pino level of the child's log lines; default the parent logger's level. */
  childLogLevel?: string;
  /** Where the child's JSON log lines (stdout and stderr) go; default this process's stdout/stderr. */
  childOutput?: NodeJS.WritableStream;
}

interface OnAir extends PublishStartEvent {
  connected: boolean;
}

interface Pending {
  resolve: (msg: FromChild) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const childEntry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'rtmp.child.ts');
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** A child that dies sooner than this after its start counts as a crash loop and is restarted with backoff. */
const stableAfterMs = 10_000;

/**
 * Runs the RTMP ingest child, keeps its key cache, relays its events and restarts it when it dies.
 * Usage: `new IngestSupervisor(opts)`, `await start()`, `setKeys(...)` from the catalog, listen to the
 * events, `kick(lessonId)` to cut a publisher off, `await stop()`.
 */
export class IngestSupervisor extends EventEmitter<IngestEvents> {
  private readonly log: Logger;
  private readonly token: string;
  private readonly settings: ChildSettings;
  private readonly gate: PublishGate;
  private child: ChildProcess | undefined;
  private childStartedAt = 0;
  private stopping = false;
  private started = false;
  private everReady = false;
  private restartCount = 0;
  private quickFailures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private nextRequestId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly onAirByLesson = new Map<string, OnAir>();
  /** lessonId -> timer that ends a publish lost with a dead child unless it comes back */
  private readonly orphanTimers = new Map<string, NodeJS.Timeout>();
  private boundPort: number;

  constructor(private readonly opts: IngestSupervisorOptions) {
    super();
    this.log = opts.log.child({ component: 'rtmp-ingest' });
    this.token = opts.workerPlayToken || randomBytes(24).toString('base64url');
    this.boundPort = opts.port;
    this.settings = childSettingsSchema.parse({
      host: opts.host ?? '0.0.0.0',
      port: opts.port,
      workerTokenHash: hashStreamKey(this.token),
      allowLoopbackPlay: opts.allowLoopbackPlay ?? false,
      idleTimeoutMs: opts.idleTimeoutMs ?? 15_000,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 10_000,
      maxMessageBytes: opts.maxMessageBytes ?? 8 * 1024 * 1024,
      publishGraceMs: opts.publishGraceMs ?? 60_000,
      authMaxFailures: opts.authMaxFailures ?? 10,
      authFailureWindowMs: opts.authFailureWindowMs ?? 60_000,
      maxPendingPerAddress: opts.maxPendingPerAddress ?? 16,
      maxConnections: opts.maxConnections ?? 1000,
      logLevel: opts.childLogLevel ?? opts.log.level,
    });
    // the parent's copy of the cache, re-sent to every new child; its limiter is unused here
    this.gate = new PublishGate({ workerTokenHash: this.settings.workerTokenHash, allowLoopbackPlay: false, limiter: new LocalFailureLimiter(1, 1000) });
  }

  /** Options from the configuration (RTMP_*, LIVE_RECONNECT_WINDOW_S). */
  static fromConfig(cfg: Config, log: Logger, over: Partial<IngestSupervisorOptions> = {}): IngestSupervisor {
    return new IngestSupervisor({
      port: cfg.RTMP_PORT,
      host: cfg.RTMP_HOST,
      workerPlayToken: cfg.RTMP_WORKER_PLAY_TOKEN,
      allowLoopbackPlay: cfg.RTMP_PLAY_ALLOW_LOOPBACK,
      idleTimeoutMs: cfg.RTMP_IDLE_TIMEOUT_S * 1000,
      handshakeTimeoutMs: cfg.RTMP_HANDSHAKE_TIMEOUT_S * 1000,
      maxMessageBytes: cfg.RTMP_MAX_MESSAGE_BYTES,
      publishGraceMs: cfg.LIVE_RECONNECT_WINDOW_S * 1000,
      authMaxFailures: cfg.RTMP_AUTH_MAX_FAILURES,
      authFailureWindowMs: cfg.RTMP_AUTH_WINDOW_S * 1000,
      maxPendingPerAddress: cfg.RTMP_MAX_PENDING_PER_ADDRESS,
      maxConnections: cfg.RTMP_MAX_CONNECTIONS,
      pullHost: cfg.RTMP_PULL_HOST,
      log,
      childLogLevel: cfg.LOG_LEVEL,
      ...over,
    });
  }

  /** The port the ingest listens on (the chosen one when configured as 0, once started). */
  get port(): number {
    return this.boundPort;
  }

  /** Child restarts since start (for the metrics counter). */
  get restarts(): number {
    return this.restartCount;
  }

  /** pid of the current child, if one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The worker play token (a secret: for building pull URLs only). */
  get workerPlayToken(): string {
    return this.token;
  }

  /** Pull URL for a worker (see `rtmpPullUrl`). */
  pullUrl(lessonId: string, host = this.opts.pullHost ?? '127.0.0.1'): string {
    return rtmpPullUrl({ host, port: this.boundPort, lessonId, token: this.token });
  }

  /** Pull URL of the ingest's own capture: it starts up to 10 s back (the child's deep cache), not two GOPs. */
  capturePullUrl(lessonId: string): string {
    return rtmpPullUrl({ host: this.opts.pullHost ?? '127.0.0.1', port: this.boundPort, lessonId, token: this.token, deepCache: true });
  }

  /** Publishes currently known to be on air or reconnecting (as reported by the child). */
  onAir(): (PublishStartEvent & { connected: boolean })[] {
    return [...this.onAirByLesson.values()].map((o) => ({ ...o }));
  }

  /** Forks the child and resolves once it listens; rejects if the first child cannot listen. */
  async start(): Promise<void> {
    if (this.started) throw new Error('IngestSupervisor already started');
    this.started = true;
    try {
      await this.spawnChild();
    } catch (err) {
      this.stopping = true;
      throw err;
    }
  }

  /** Stops the child (no restart) and forgets pending requests. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    for (const t of this.orphanTimers.values()) clearTimeout(t);
    this.orphanTimers.clear();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      if (child.connected) child.send({ type: 'shutdown' } satisfies ToChild);
      else child.kill('SIGTERM');
    });
  }

  /**
   * The first step of closing the ingest: the child accepts nothing more, cuts every publisher
   * (`publisherLost`, reason `ingest_closing`, each reported before this resolves) and tells every
   * player its publish is over after everything relayed, so pulling ffmpegs read the end of their
   * stream and close their last segment themselves. Resolves once every connection closed or after
   * `ms`; at once when no child runs. `stop()` follows.
   */
  async endAll(ms: number): Promise<void> {
    if (!this.child?.connected) return;
    await this.request({ type: 'endAll', requestId: 0, ms }, ms + 2000).catch((err: unknown) => this.log.warn({ err }, 'RTMP ingest child did not end its connections'));
  }

  /** Replaces the whole key cache (the catalog's periodic refresh). */
  setKeys(entries: IngestKeyInput[]): void {
    const parsed = entries.map((e) => keyInputSchema.parse(e));
    this.gate.setKeys(parsed);
    this.send({ type: 'keys', entries: parsed });
  }

  /** Adds or replaces one lesson's entry (approval, key rotation, stop: effective at once). */
  upsertKey(entry: IngestKeyInput): void {
    const parsed = keyInputSchema.parse(entry);
    this.gate.upsertKey(parsed);
    this.send({ type: 'upsertKey', entry: parsed });
  }

  removeKey(lessonId: string): void {
    this.gate.removeKey(lessonId);
    this.send({ type: 'removeKey', lessonId });
  }

  /**
   * Cuts the lesson's publisher off now (the socket is destroyed, `publisherLost` and `publishEnd`
   * follow without grace) and refuses further publishes with the lesson's current key until the
   * catalog sets a new key hash. Resolves with the NMS session ids cut, within 2 s or rejects.
   */
  async kick(lessonId: string): Promise<{ sessionIds: string[] }> {
    if (!lessonIdPattern.test(lessonId)) throw new Error('invalid lesson id');
    this.gate.revoke(lessonId);
    if (!this.child?.connected) return { sessionIds: [] };
    const res = await this.request({ type: 'kick', requestId: 0, lessonId }, 2000);
    return res.type === 'kickResult' ? { sessionIds: res.sessionIds } : { sessionIds: [] };
  }

  /**
   * Resolves once the child has handled every key change sent before (IPC keeps order): after it, a
   * new publish is decided on them. Resolves at once when no child runs (a new one gets the whole cache).
   */
  async sync(): Promise<void> {
    if (!this.child?.connected) return;
    await this.request({ type: 'sync', requestId: 0 }, 2000);
  }

  /** Memory, connection counts and error counters of the current child. */
  async stats(): Promise<IngestStats> {
    const res = await this.request({ type: 'stats', requestId: 0 }, 5000);
    if (res.type !== 'statsResult') throw new Error('unexpected stats reply');
    return res.stats;
  }

  // -------------------------------------------------------------------------------------------

  private send(msg: ToChild): void {
    const child = this.child;
    if (child?.connected) child.send(msg);
  }

  private request(msg: Extract<ToChild, { requestId: number }>, timeoutMs: number): Promise<FromChild> {
    const child = this.child;
    if (!child?.connected) return Promise.reject(new Error('RTMP ingest child is not running'));
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error(`RTMP ingest child did not answer ${msg.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
      child.send({ ...msg, requestId });
    });
  }

  private spawnChild(): Promise<void> {
    const out = this.opts.childOutput;
    const child = fork(childEntry, [], {
      execArgv: ['--import', tsxLoader],
      stdio: ['ignore', out ? 'pipe' : 'inherit', out ? 'pipe' : 'inherit', 'ipc'],
      serialization: 'json',
    });
    if (out) {
      child.stdout?.pipe(out, { end: false });
      child.stderr?.pipe(out, { end: false });
    }
    this.child = child;
    this.childStartedAt = Date.now();
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      let fatal: string | undefined;
      child.on('message', (raw: unknown) => {
        const parsed = fromChildSchema.safeParse(raw);
        if (!parsed.success) {
          this.log.warn({ issues: parsed.error.issues.length }, 'invalid message from the RTMP ingest child ignored');
          return;
        }
        const msg = parsed.data;
        if (msg.type === 'ready') {
          ready = true;
          this.everReady = true;
          this.boundPort = msg.port;
          // later restarts must come back on the same port: RTMP URLs are in OBS and in workers
          this.settings.port = msg.port;
          this.log.info({ port: msg.port, pid: child.pid }, 'RTMP ingest listening');
          this.emit('ready', { port: msg.port, pid: child.pid ?? 0 });
          resolve();
          return;
        }
        if (msg.type === 'fatal') {
          fatal = `${msg.code}: ${msg.message}`;
          return;
        }
        this.onChildMessage(msg);
      });
      child.on('error', (err) => this.log.error({ err }, 'RTMP ingest child process error'));
      child.on('exit', (code, signal) => {
        if (this.child === child) this.child = undefined;
        for (const [id, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new Error('RTMP ingest child exited'));
          this.pending.delete(id);
        }
        if (!ready) reject(new Error(`RTMP ingest child exited before listening (${fatal ?? `code ${code}, signal ${signal}`})`));
        this.onChildExit(code, signal);
      });
      child.send({ type: 'init', settings: this.settings, keys: this.gate.entries(), revoked: this.gate.revoked() } satisfies ToChild);
    });
  }

  private onChildMessage(msg: FromChild): void {
    switch (msg.type) {
      case 'kickResult':
      case 'syncResult':
      case 'endAllResult':
      case 'statsResult': {
        const p = this.pending.get(msg.requestId);
        if (p) {
          clearTimeout(p.timer);
          this.pending.delete(msg.requestId);
          p.resolve(msg);
        }
        return;
      }
      case 'publishStart': {
        const { type: _t, ...ev } = msg;
        const orphan = this.orphanTimers.get(ev.lessonId);
        if (orphan) {
          clearTimeout(orphan);
          this.orphanTimers.delete(ev.lessonId);
        }
        this.onAirByLesson.set(ev.lessonId, { ...ev, connected: true });
        this.emit('publishStart', ev);
        return;
      }
      case 'publisherLost': {
        const { type: _t, ...ev } = msg;
        const o = this.onAirByLesson.get(ev.lessonId);
        if (o && o.sessionId === ev.sessionId) o.connected = false;
        this.emit('publisherLost', ev);
        return;
      }
      case 'publishEnd': {
        const { type: _t, ...ev } = msg;
        const o = this.onAirByLesson.get(ev.lessonId);
        if (o && o.sessionId === ev.sessionId) this.onAirByLesson.delete(ev.lessonId);
        this.emit('publishEnd', ev);
        return;
      }
      case 'refused': {
        const { type: _t, ...ev } = msg;
        this.emit('refused', ev);
        return;
      }
      case 'playStart':
      case 'playEnd': {
        const { type, ...ev } = msg;
        this.emit(type, ev);
        return;
      }
      default:
        return;
    }
  }

  private onChildExit(code: number | null, signal: NodeJS.Signals | null): void {
    // a first child that never listened fails start() instead (a taken port would loop forever)
    if (this.stopping || !this.everReady) return;
    this.restartCount += 1;
    const lived = Date.now() - this.childStartedAt;
    this.quickFailures = lived < stableAfterMs ? this.quickFailures + 1 : 0;
    // restart at once; only a child that keeps dying right after start waits (up to 5 s)
    const delayMs = this.quickFailures <= 1 ? 0 : Math.min(5000, 250 * 2 ** (this.quickFailures - 2));
    this.log.error({ code, signal, restarts: this.restartCount, livedMs: lived, delayMs }, 'RTMP ingest child exited; restarting');
    // publishers were disconnected with the child: report them lost, end them if they do not return
    for (const o of this.onAirByLesson.values()) {
      if (o.connected) {
        o.connected = false;
        this.emit('publisherLost', { lessonId: o.lessonId, sessionId: o.sessionId, ip: o.ip, reason: 'ingest_restart' });
      }
      if (!this.orphanTimers.has(o.lessonId)) {
        const t = setTimeout(() => {
          this.orphanTimers.delete(o.lessonId);
          const cur = this.onAirByLesson.get(o.lessonId);
          if (cur && cur.sessionId === o.sessionId) {
            this.onAirByLesson.delete(o.lessonId);
            this.emit('publishEnd', { lessonId: o.lessonId, sessionId: o.sessionId, reason: 'ingest_restart' });
          }
        }, this.settings.publishGraceMs);
        t.unref();
        this.orphanTimers.set(o.lessonId, t);
      }
    }
    this.emit('restart', { count: this.restartCount, code, signal, delayMs });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.spawnChild().catch((err: unknown) => this.log.error({ err }, 'RTMP ingest child failed to start'));
    }, delayMs);
  }
}
