/**
 * Child process entry of the RTMP ingest: the only importer of node-media-server (4.4.3, pinned).
 * Forked by `IngestSupervisor` (rtmp.ts); waits for an `init` message, listens, reports events over
 * IPC. What is patched and why: see the TSDoc at the top of rtmp.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createLogger, type Logger } from './logger.ts';
import { LocalFailureLimiter } from './rate-limit.ts';
import { settleWithin } from './settle-within.ts';
import { PublishGate, normalizeAddress, type RefusalReason } from '../domain/publish-gate.ts';
import { RTMP_APP, toChildSchema, type ChildSettings, type FromChild } from './rtmp.ts';
import { StreamMeter } from '../media/stream-meter.ts';
import { PublisherTimeline } from '../media/publisher-timeline.ts';

const NMS_VERSION = '4.4.3';
const require = createRequire(import.meta.url);
/** Our per-connection state, hung on NMS's Rtmp parser instance so prototype patches can see it. */
const kConn = Symbol('classcast.conn');

// ---- the parts of node-media-server used here (CommonJS, untyped) ----------------------------

interface NmsPacket {
  codec_type: number;
  size: number;
  data: Buffer;
  /** stream timestamp, ms */
  dts: number;
  /** dts + the video's composition offset, ms */
  pts: number;
  /** NMS's FLV tag class: 3 = video keyframe (Flv.parserTag) */
  flags: number;
}
const NMS_FLAG_KEYFRAME = 3;
/** NMS's FLV tag classes of codec configurations (AAC, AVC sequence headers) */
const NMS_FLAG_AUDIO_CONFIG = 0;
const NMS_FLAG_VIDEO_CONFIG = 2;
/** NMS's class of every data message (AMF0 @setDataFrame/onMetaData and any other) */
const NMS_FLAG_DATA = 5;
/** RTMP user control event StreamEOF (the server has no more data for this stream) */
const STREAM_EOF = 1;

interface NmsRtmp {
  streamQuery: Record<string, unknown>;
  streamId: number;
  inChunkSize: number;
  inPackets: Map<number, unknown>;
  parserPacket: { header: { length: number; type: number }; payload: Buffer };
  onPacketCallback: (p: NmsPacket) => void;
  parserData(buf: Buffer): string | null;
  sendStatusMessage(sid: number, level: string, code: string, description: string): void;
  sendStreamStatus(event: number, sid: number): void;
  respondPublish(): void;
  respondPlay(): void;
  [kConn]?: Conn;
}

interface NmsBroadcast {
  streamPath: string;
  rtmpGopCache: Set<Buffer> | null;
  publisher: NmsSession | null;
  subscribers: Map<string, NmsSession>;
  publishGraceMs: number;
  getPublishStatus(): 'publishing' | 'reconnecting' | 'idle';
  broadcastMessage(p: NmsPacket): void;
  _finishPublish(): void;
}

interface NmsSession {
  id: string;
  ip: string;
  isPublisher: boolean;
  streamApp: string;
  streamName: string;
  streamPath: string;
  streamQuery: Record<string, unknown>;
  inBytes: number;
  /** from the publisher's onMetaData (0 when not sent) */
  videoWidth: number;
  videoHeight: number;
  socket: net.Socket;
  rtmp: NmsRtmp;
  broadcast: NmsBroadcast;
  run(): void;
  onData: (data: Buffer) => void;
  onPacket: (p: NmsPacket) => void;
  onPush: () => void;
  onPlay: () => void;
  onClose: () => void;
}

interface InvokeMessage {
  cmd?: unknown;
  cmdObj?: { tcUrl?: unknown; app?: unknown } | null;
  streamName?: unknown;
}

type RtmpMethod = (this: NmsRtmp, ...args: never[]) => unknown;
interface RtmpProto {
  packetParse(this: NmsRtmp): void;
  packetAlloc(this: NmsRtmp): void;
  packetHandler(this: NmsRtmp): void;
  controlHandler(this: NmsRtmp): void;
  onConnect(this: NmsRtmp, msg: InvokeMessage): void;
  onPublish(this: NmsRtmp, msg: InvokeMessage): void;
  onPlay(this: NmsRtmp, msg: InvokeMessage): void;
  respondPublish(this: NmsRtmp): void;
  respondPlay(this: NmsRtmp): void;
  [name: string]: RtmpMethod;
}

const nmsVersion = (require('node-media-server/package.json') as { version: string }).version;
if (nmsVersion !== NMS_VERSION) {
  throw new Error(`node-media-server ${nmsVersion} installed; the ingest patches are written for ${NMS_VERSION} exactly`);
}
const Context = require('node-media-server/src/core/context.js') as {
  config: Record<string, unknown>;
  sessions: Map<string, unknown>;
  broadcasts: Map<string, NmsBroadcast>;
  eventEmitter: NodeJS.EventEmitter;
};
const RtmpSession = require('node-media-server/src/session/rtmp_session.js') as new (socket: net.Socket) => NmsSession;
const Rtmp = require('node-media-server/src/protocol/rtmp.js') as { prototype: RtmpProto; createMessage(p: NmsPacket): Buffer };
const nmsLogger = require('node-media-server/src/core/logger.js') as { level: string; log: (msg: string, level?: string) => void };
const { decodeAmf0Data } = require('node-media-server/src/protocol/amf.js') as { decodeAmf0Data: (data: Buffer) => unknown };

// ---- connection state ------------------------------------------------------------------------

type Role = 'pending' | 'publisher' | 'player' | 'refused';

interface Conn {
  session: NmsSession;
  socket: net.Socket;
  address: string;
  role: Role;
  /** NMS registered it (publisher of its path / subscriber) */
  accepted: boolean;
  connected: boolean;
  commandSeen: boolean;
  /** a key the encoder put in its connect's app or tcUrl query instead of the stream name's */
  connectKey?: string;
  lessonId?: string;
  resumed: boolean;
  kicked: boolean;
  dropped: boolean;
  dropReason?: string;
  connectedAt: number;
  lastRx: number;
  /** what an accepted publisher sends (bitrate, frame rate, keyframes) */
  meter?: StreamMeter;
  /** the publisher's timestamps made monotonic (an encoder restarted on the same connection) */
  timeline?: PublisherTimeline;
  /** a player that asked for the deep cache (the capture) is being sent it; NMS's own cache, to put back */
  ownCache?: Set<Buffer> | null;
}

/** A connection broke the protocol or a limit: it alone is closed. */
class ProtocolViolation extends Error {}

/** Distinct chunk streams one connection may use (ffmpeg and OBS use fewer than 8). */
const MAX_CHUNK_STREAMS = 16;
/** Largest message before a publish is accepted: commands only. */
const PRE_AUTH_MAX_MESSAGE_BYTES = 64 * 1024;
const KEEPALIVE_MS = 10_000;
const MSG_AUDIO = 8;
const MSG_VIDEO = 9;
const MSG_AMF3_DATA = 15;
const MSG_AMF3_CMD = 17;
const MSG_DATA = 18;
const MSG_CMD = 20;

let settings: ChildSettings;
let log: Logger;
let gate: PublishGate;
let limiter: LocalFailureLimiter;
let server: net.Server | undefined;
/** NMS's sign check secret: random per child, never leaves this process. */
const signSecret = randomBytes(32).toString('hex');
const conns = new Set<Conn>();
const connOfSession = new WeakMap<NmsSession, Conn>();
const pendingByAddress = new Map<string, number>();
const counters = { protocolErrors: 0, rejectedConnections: 0, upstreamMediaDropped: 0, timestampJumps: 0, metadataDropped: 0 };
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
const startedAt = Date.now();
/** NMS's own Play.Start answer, sent by the prePlay listener on acceptance */
let respondPlay: (this: NmsRtmp) => void = () => undefined;
/** set while NMS registers an accepted publisher: a donePublish then is a takeover */
let takingOver = false;

function send(msg: FromChild): void {
  if (process.connected) process.send?.(msg);
}

function connOf(session: NmsSession): Conn | undefined {
  return connOfSession.get(session);
}

function setRole(conn: Conn, role: Role): void {
  if (conn.role === 'pending' && role !== 'pending') decPending(conn.address);
  conn.role = role;
}

function decPending(address: string): void {
  const n = (pendingByAddress.get(address) ?? 1) - 1;
  if (n <= 0) pendingByAddress.delete(address);
  else pendingByAddress.set(address, n);
}

const protocolReasons = new Set(['protocol_error', 'handshake_timeout']);

/** Closes one connection for good: destroy, not end (a half-closed socket kept feeding NMS). */
function drop(conn: Conn, reason: string, err?: unknown): void {
  if (conn.dropped) return;
  conn.dropped = true;
  conn.dropReason = reason;
  conn.session.rtmp.onPacketCallback = () => undefined;
  conn.socket.destroy();
  if (protocolReasons.has(reason)) {
    counters.protocolErrors += 1;
    log.debug({ ip: conn.address, reason, err }, 'rtmp connection dropped');
  } else if (!reason.startsWith('refused_')) {
    log.info({ ip: conn.address, reason, lessonId: conn.lessonId, sessionId: conn.session.id }, 'rtmp connection dropped');
  }
}

/** `{exp}-md5("/app/name-{exp}-{secret}")`: what NMS's verifyAuth accepts. */
function sign(streamPath: string): string {
  const exp = Math.floor(Date.now() / 1000) + 60;
  return `${exp}-${createHash('md5').update(`${streamPath}-${exp}-${signSecret}`).digest('hex')}`;
}

/** The lesson id when the path is `/live/{name}`; NMS has already checked the name's characters. */
function lessonIdOf(session: NmsSession): string | undefined {
  return session.streamApp === RTMP_APP && session.streamPath === `/${RTMP_APP}/${session.streamName}` ? session.streamName : undefined;
}

/**
 * Encoders set up with the key on the server URL (`rtmp://host/live?key=…`, stream key = the lesson
 * id) send it in the connect's app and tcUrl, as nginx-rtmp accepts it; a server URL typed with a
 * trailing slash (`…/live/`) sends the app `live/`. NMS takes the app as the stream path's first part
 * and refused both as an invalid path. The app is cut to its path without trailing slashes, the key
 * taken out of app and tcUrl (NMS keeps the connect's fields): it never reaches NMS.
 */
function takeConnectKey(obj: { tcUrl: string; app: string }): string | undefined {
  const q = obj.app.indexOf('?');
  const appQuery = q >= 0 ? new URLSearchParams(obj.app.slice(q + 1)) : undefined;
  obj.app = (q >= 0 ? obj.app.slice(0, q) : obj.app).replace(/\/+$/, '');
  const tc = new URL(obj.tcUrl);
  const key = appQuery?.get('key') ?? tc.searchParams.get('key') ?? undefined;
  tc.search = '';
  obj.tcUrl = tc.href;
  return key;
}

function takeQueryParam(session: NmsSession, name: string): string | undefined {
  const v = session.streamQuery?.[name];
  // the query holds the stream secret or the worker token: it leaves NMS's hands right here
  session.streamQuery = {};
  session.rtmp.streamQuery = {};
  return typeof v === 'string' ? v : undefined;
}

function refuse(conn: Conn, role: 'publish' | 'play', reason: RefusalReason, lessonId: string | undefined): void {
  setRole(conn, 'refused');
  const known = gate.knows(lessonId) ? lessonId : undefined;
  send({ type: 'refused', role, reason, lessonId: known, ip: conn.address });
  // an address already over the failure limit would otherwise fill the log
  const level = reason === 'rate_limited' ? 'debug' : 'info';
  log[level]({ role, reason, lessonId: known, ip: conn.address, sessionId: conn.session.id }, `rtmp ${role} refused`);
  try {
    const code = role === 'publish' ? 'NetStream.Publish.BadName' : 'NetStream.Play.Failed';
    conn.session.rtmp.sendStatusMessage(conn.session.rtmp.streamId ?? 0, 'error', code, `${role} refused`);
  } catch {
    // best effort: the socket goes away next
  }
  drop(conn, `refused_${reason}`);
}

// ---- NMS runtime patches ---------------------------------------------------------------------

function patchRtmpPrototype(maxMessageBytes: number): void {
  const proto = Rtmp.prototype;
  const orig = {
    packetParse: proto.packetParse,
    packetAlloc: proto.packetAlloc,
    packetHandler: proto.packetHandler,
    controlHandler: proto.controlHandler,
    onConnect: proto.onConnect,
    onPublish: proto.onPublish,
    onPlay: proto.onPlay,
    respondPublish: proto.respondPublish,
  };
  respondPlay = proto.respondPlay;

  proto.packetParse = function packetParse() {
    orig.packetParse.call(this);
    if (this.inPackets.size > MAX_CHUNK_STREAMS) throw new ProtocolViolation('too many chunk streams');
  };

  // runs once per message, before its payload buffer is allocated at the declared length
  proto.packetAlloc = function packetAlloc() {
    const conn = this[kConn];
    const limit = conn?.role === 'publisher' ? maxMessageBytes : PRE_AUTH_MAX_MESSAGE_BYTES;
    if (this.parserPacket.header.length > limit) throw new ProtocolViolation('message too large');
    orig.packetAlloc.call(this);
  };

  proto.packetHandler = function packetHandler() {
    const conn = this[kConn];
    if (conn?.dropped) return;
    const { type, length } = this.parserPacket.header;
    if (type === MSG_AUDIO || type === MSG_VIDEO || type === MSG_DATA || type === MSG_AMF3_DATA) {
      // media before publish/play is a protocol violation
      if (conn?.role === 'pending') throw new ProtocolViolation('media before publish');
      // media only from the path's accepted publisher: players and refused publishers inject nothing
      if (!conn || conn.role !== 'publisher' || type === MSG_AMF3_DATA) {
        counters.upstreamMediaDropped += 1;
        return;
      }
      const first = this.parserPacket.payload[0] ?? 0;
      // NMS's FLV tag parser reads up to 5 (8 for enhanced-RTMP video) bytes without checking
      const min = type === MSG_VIDEO ? ((first & 0x80) !== 0 ? 8 : 5) : 1;
      if (length < min) return;
    } else if (type === MSG_CMD || type === MSG_AMF3_CMD) {
      if (length < 3) throw new ProtocolViolation('empty command');
    } else if (type >= 1 && type <= 6 && type !== 2 && type !== 4 && length < 4) {
      throw new ProtocolViolation('short control message');
    }
    orig.packetHandler.call(this);
  };

  proto.controlHandler = function controlHandler() {
    orig.controlHandler.call(this);
    if (this.parserPacket.header.type === 1 && (this.inChunkSize < 1 || this.inChunkSize > 0x7fffffff)) {
      throw new ProtocolViolation('invalid chunk size');
    }
  };

  proto.onConnect = function onConnect(msg) {
    const conn = this[kConn];
    const obj = msg?.cmdObj;
    if (!obj || typeof obj.tcUrl !== 'string' || typeof obj.app !== 'string' || !URL.canParse(obj.tcUrl)) {
      throw new ProtocolViolation('connect without a valid tcUrl/app');
    }
    if (conn) {
      if (conn.connected) throw new ProtocolViolation('second connect');
      conn.connected = true;
      conn.connectKey = takeConnectKey(obj as { tcUrl: string; app: string });
    }
    orig.onConnect.call(this, msg);
  };

  const oneStreamCommand = (rtmp: NmsRtmp, msg: InvokeMessage): Conn | undefined => {
    const conn = rtmp[kConn];
    if (!conn) return undefined;
    if (!conn.connected || conn.commandSeen || typeof msg?.streamName !== 'string') {
      throw new ProtocolViolation('publish/play out of order');
    }
    conn.commandSeen = true;
    return conn;
  };

  proto.onPublish = function onPublish(msg) {
    const conn = oneStreamCommand(this, msg);
    if (!conn) return orig.onPublish.call(this, msg);
    // NMS answers Publish.Start before deciding: answer only once the publish is accepted
    this.respondPublish = () => undefined;
    try {
      orig.onPublish.call(this, msg);
    } finally {
      delete (this as Partial<NmsRtmp>).respondPublish;
    }
    if (conn.role === 'publisher' && conn.accepted && !conn.dropped) orig.respondPublish.call(this);
  };

  proto.onPlay = function onPlay(msg) {
    const conn = oneStreamCommand(this, msg);
    if (!conn) return orig.onPlay.call(this, msg);
    // NMS answers Play.Start before deciding: the prePlay listener answers once the play is accepted
    // (before NMS sends the cached headers and GOP, so the order on the wire stays right)
    this.respondPlay = () => undefined;
    try {
      orig.onPlay.call(this, msg);
    } finally {
      delete (this as Partial<NmsRtmp>).respondPlay;
    }
  };
}

/** Wraps one NMS session's handlers (instance fields, so per connection, before `run()`). */
function patchSession(session: NmsSession, conn: Conn): void {
  session.onData = (data: Buffer) => {
    if (conn.dropped) return;
    conn.lastRx = Date.now();
    session.inBytes += data.length;
    try {
      const err = session.rtmp.parserData(data);
      if (err != null) drop(conn, 'protocol_error', new Error(err));
    } catch (err) {
      drop(conn, 'protocol_error', err);
    }
  };

  session.onPacket = (packet: NmsPacket) => {
    if (conn.role === 'publisher' && conn.accepted && !conn.dropped && session.broadcast.publisher === session) {
      if (packet.codec_type === MSG_AUDIO || packet.codec_type === MSG_VIDEO) {
        const now = Date.now();
        conn.meter ??= new StreamMeter(now);
        conn.meter.feed({ video: packet.codec_type === MSG_VIDEO, bytes: packet.size, dts: packet.dts, keyframe: packet.flags === NMS_FLAG_KEYFRAME }, now);
        relayedTimestamps(conn, packet, now);
      } else if (packet.flags === NMS_FLAG_DATA && !decodableData(conn, packet)) {
        return;
      }
      session.broadcast.broadcastMessage(packet);
    } else {
      counters.upstreamMediaDropped += 1;
    }
  };

  const nmsOnPush = session.onPush;
  session.onPush = () => {
    // a donePublish while NMS registers this publisher is the previous one being taken over
    takingOver = true;
    try {
      nmsOnPush();
    } finally {
      takingOver = false;
    }
    if (conn.dropped || conn.role !== 'publisher') return;
    if (!session.isPublisher) {
      refuse(conn, 'publish', 'already_publishing', conn.lessonId);
      return;
    }
    conn.accepted = true;
    const lessonId = conn.lessonId ?? '';
    send({ type: 'publishStart', lessonId, sessionId: session.id, ip: conn.address, resumed: conn.resumed });
    log.info({ lessonId, sessionId: session.id, ip: conn.address, resumed: conn.resumed }, 'rtmp publish started');
  };

  const nmsOnPlay = session.onPlay;
  session.onPlay = () => {
    try {
      nmsOnPlay();
    } finally {
      if (conn.ownCache !== undefined) session.broadcast.rtmpGopCache = conn.ownCache;
      conn.ownCache = undefined;
    }
    if (conn.dropped || conn.role !== 'player' || !session.broadcast.subscribers.has(session.id)) return;
    conn.accepted = true;
    const lessonId = conn.lessonId ?? '';
    send({ type: 'playStart', lessonId, sessionId: session.id, ip: conn.address });
    log.info({ lessonId, sessionId: session.id, ip: conn.address }, 'rtmp play started');
  };

  const nmsOnClose = session.onClose;
  session.onClose = () => {
    conns.delete(conn);
    if (conn.role === 'pending') decPending(conn.address);
    try {
      nmsOnClose();
      if (conn.role === 'publisher' && conn.accepted) {
        const lessonId = conn.lessonId ?? '';
        const reason = conn.dropReason ?? 'closed';
        send({ type: 'publisherLost', lessonId, sessionId: session.id, ip: conn.address, reason });
        log.info({ lessonId, sessionId: session.id, ip: conn.address, reason }, 'rtmp publisher lost');
        // a kicked publish ends now, with no grace window for a reconnect
        if (conn.kicked && session.broadcast.publisher === session) session.broadcast._finishPublish();
        else if (session.broadcast.publisher === session) endConnection(session.broadcast);
      }
    } catch (err) {
      log.error({ err, sessionId: session.id }, 'rtmp close handling failed');
    }
  };
}

/**
 * NMS decodes every data message of a publisher (its metadata) before relaying it, and its AMF0
 * decoder throws on a value type it does not know (an AMF3 value, the reserved types): the throw cut
 * the publisher, and its encoder sends the same metadata on each reconnect, so the lesson could never
 * go on air. Metadata is advisory (the workers' ffmpeg reads the codecs from the stream itself): such
 * a message is not relayed, the publish goes on.
 */
function decodableData(conn: Conn, packet: NmsPacket): boolean {
  try {
    // the same bytes NMS decodes next (its parser's buffer, past the message's own length too)
    decodeAmf0Data(packet.data);
    return true;
  } catch {
    counters.metadataDropped += 1;
    log.warn({ lessonId: conn.lessonId, sessionId: conn.session.id, bytes: packet.size }, 'publisher data message not decodable: not relayed');
    return false;
  }
}

/**
 * The publisher's timestamps as every puller gets them: one timeline that only moves forward, whatever
 * the encoder does on its connection (a restart starts its timestamps over; src/media/publisher-timeline.ts).
 * The meter has already seen the publisher's own timestamps.
 */
function relayedTimestamps(conn: Conn, packet: NmsPacket, now: number): void {
  const config = packet.flags === NMS_FLAG_AUDIO_CONFIG || packet.flags === NMS_FLAG_VIDEO_CONFIG;
  const m = (conn.timeline ??= new PublisherTimeline()).map(packet.codec_type === MSG_VIDEO ? 'video' : 'audio', packet.dts, packet.pts, now, config);
  if (m.jump) {
    counters.timestampJumps += 1;
    log.warn({ lessonId: conn.lessonId, sessionId: conn.session.id, ...m.jump }, 'publisher timestamps jumped (encoder restarted?): relayed on one timeline');
  }
  packet.dts = m.dts;
  packet.pts = m.pts;
}

/** Wraps an NMS event listener: nothing thrown in it may reach NMS's timers or the process. */
function listener(name: string, fn: (session: NmsSession, conn: Conn) => void): (session: NmsSession) => void {
  return (session) => {
    const conn = connOf(session);
    if (!conn) return;
    try {
      fn(session, conn);
    } catch (err) {
      log.error({ err, event: name, sessionId: session.id }, 'rtmp event handling failed');
      drop(conn, 'protocol_error', err);
    }
  };
}

const kTwoGops = Symbol('classcast.twoGops');

/**
 * NMS caches only the GOP in progress for a new player. The ingest's capture (issue 11: every second
 * of an accepted lesson is recorded) connects a moment after the publish is accepted, later than one
 * GOP on a loaded machine: it would miss the lesson's first seconds. So the cache keeps the previous
 * GOP too (still bounded by NMS's 4096-message cap); players start one GOP further back.
 */
function keepTwoGops(b: NmsBroadcast & { [kTwoGops]?: true }): void {
  if (b[kTwoGops]) return;
  b[kTwoGops] = true;
  const orig = b.broadcastMessage.bind(b);
  let carried = 0;
  b.broadcastMessage = (packet: NmsPacket) => {
    const before = b.rtmpGopCache;
    orig(packet);
    keepDeep(b, packet);
    const after = b.rtmpGopCache;
    if (!before || !after || after === before) return;
    // a keyframe started a new GOP: the previous one's own messages go first
    const own = [...before].slice(before.size >= carried ? carried : 0);
    b.rtmpGopCache = new Set([...own, ...after]);
    carried = own.length;
  };
}

const kDeep = Symbol('classcast.deepCache');
const kDeepPicture = Symbol('classcast.deepCachePicture');
type DeepCached = NmsBroadcast & { [kDeep]?: { dts: number; msgs: Buffer[] }[]; [kDeepPicture]?: boolean };
/** Length of the stretches a stream of sound alone is kept in: any sound frame is a place to start. */
const SOUND_CHUNK_MS = 1000;
/** Seconds of stream the capture's pull starts back from: a loaded ingest host starts its ffmpeg seconds after the publish. */
const DEEP_CACHE_MS = 10_000;
/** NMS's own cap on a cache (messages). */
const CACHE_MAX_MESSAGES = 4096;

/**
 * The capture's cache (issue 11: every second of an accepted lesson is recorded): whole GOPs reaching
 * at least DEEP_CACHE_MS back, for a pull that asks for it (`cache=deep`, the ingest's own capture). A
 * capture ffmpeg that starts 5 s after the publish on a loaded host (measured at load 16) found only
 * the last two GOPs and lost the lesson's first seconds. Transcoder pulls keep the two-GOP cache: they
 * start near the live edge (latency), and what they miss is refilled from the capture. A lesson of
 * sound alone has no keyframe: until a picture comes, its sound is kept in 1 s stretches the same way
 * (a radio-style class captured late lost its first seconds); the first keyframe drops them, so a
 * lesson with pictures starts its capture at a picture as before.
 */
function keepDeep(b: DeepCached, packet: NmsPacket): void {
  // NMS's classes: 1 sound, 3 keyframe, 4 other picture (configurations and metadata are sent apart)
  if (packet.flags !== 1 && packet.flags !== 3 && packet.flags !== 4) return;
  const gops = (b[kDeep] ??= []);
  const startsStretch =
    packet.flags === NMS_FLAG_KEYFRAME || (packet.flags === 1 && !b[kDeepPicture] && (!gops.length || packet.dts - gops[gops.length - 1].dts >= SOUND_CHUNK_MS));
  if (packet.flags === NMS_FLAG_KEYFRAME && !b[kDeepPicture]) {
    b[kDeepPicture] = true;
    gops.length = 0;
  }
  if (startsStretch) {
    gops.push({ dts: packet.dts, msgs: [] });
    while (gops.length > 1 && packet.dts - gops[1].dts >= DEEP_CACHE_MS) gops.shift();
  }
  // pictures before the first keyframe cannot be decoded: never kept
  if (!gops.length || (packet.flags === 4 && !b[kDeepPicture])) return;
  gops[gops.length - 1].msgs.push(Rtmp.createMessage(packet));
  let total = gops.reduce((t, g) => t + g.msgs.length, 0);
  while (gops.length > 1 && total > CACHE_MAX_MESSAGES) total -= gops.shift()!.msgs.length;
}

/** Forgets the deep cache: the next stretch starts at a keyframe of what comes after. */
function dropDeepCache(b: DeepCached): void {
  b[kDeep] = [];
  b[kDeepPicture] = false;
}

/** The deep cache as NMS sends a cache, or null when there is none yet. */
function deepCacheOf(b: DeepCached): Set<Buffer> | null {
  const gops = b[kDeep];
  return gops?.length ? new Set(gops.flatMap((g) => g.msgs)) : null;
}

/**
 * The publish of a path is over (its reconnect window ran out, it was kicked, another address took it
 * over): its players are told so and let go. NMS keeps players waiting for a next publisher; ours are
 * the capture and the transcoders, whose ffmpeg then sat blocked in its read until its own timeout
 * (about 10 s), and one stopped meanwhile was killed with its last segment unwritten (a blocked RTMP
 * read does not give way to SIGTERM). ffmpeg takes `NetStream.Play.UnpublishNotify` as the end of the
 * stream and closes its outputs at once, every relayed second in them (issue 11: every second of an
 * accepted lesson is recorded). A publisher's connection that closes within its reconnect window ends
 * them too (endConnection). The socket is ended, not destroyed: what was written still reaches the
 * player first.
 */
function endPlayers(b: NmsBroadcast): void {
  for (const player of [...b.subscribers.values()]) {
    const conn = connOf(player);
    // no media of a later publish goes to a player told this one is over
    b.subscribers.delete(player.id);
    if (!conn || conn.dropped) continue;
    try {
      player.rtmp.sendStreamStatus(STREAM_EOF, player.rtmp.streamId);
      player.rtmp.sendStatusMessage(player.rtmp.streamId, 'status', 'NetStream.Play.UnpublishNotify', 'the publish is over');
    } catch (err) {
      log.debug({ err, sessionId: player.id }, 'telling a player the publish is over failed');
    }
    conn.socket.end();
  }
}

/**
 * A publisher's connection closed while its path waits for it to come back (the reconnect window):
 * the pulls of the path end now, after everything relayed, as when the publish is over (endPlayers),
 * and nothing of this connection stays cached. A reconnect is a new epoch that the capture and the
 * transcoders pull anew (from the deep cache, which the new connection starts); a pull left waiting
 * across the gap was stopped by a signal when the new epoch came, and ffmpeg blocked in its read
 * ignores SIGTERM, so on a loaded host it was killed with its last partial segment (and whatever it
 * had not read yet) unwritten (issue 11: every second of an accepted lesson is recorded). Ended, it
 * closes its last segment itself as soon as it runs (the run waits for that: live-context.ts
 * runStopper). Measured (e2e live-catalog, the capture's ffmpeg stopped from the drop until 4 s after
 * the reconnect): [2, 2, 0.99] + [2, 0.99] s captured of 5.02 + 3.02 s sent; before, the first
 * connection's last 0.99 s was lost.
 */
function endConnection(b: NmsBroadcast): void {
  dropDeepCache(b);
  // NMS's own cache too: a pull made before the next publisher's first keyframe gets none of it
  b.rtmpGopCache?.clear();
  endPlayers(b);
}

function installListeners(): void {
  const ev = Context.eventEmitter;

  ev.on('prePublish', listener('prePublish', (session, conn) => {
    const key = takeQueryParam(session, 'key') ?? conn.connectKey;
    conn.connectKey = undefined;
    if (conn.role !== 'pending' || conn.dropped) return;
    const lessonId = lessonIdOf(session);
    const status = lessonId ? session.broadcast.getPublishStatus() : 'idle';
    const decision = gate.decidePublish({ lessonId, key, address: conn.address, now: Date.now(), pathBusy: status === 'publishing' });
    if (!decision.ok) {
      refuse(conn, 'publish', decision.reason, lessonId);
      return;
    }
    setRole(conn, 'publisher');
    conn.lessonId = lessonId;
    const prev = session.broadcast.publisher;
    conn.resumed = status === 'reconnecting' && prev !== null && normalizeAddress(prev.ip.replace(/:\d+$/, '')) === conn.address;
    session.streamQuery = { sign: sign(session.streamPath) };
  }));

  ev.on('postPublish', listener('postPublish', (session, conn) => {
    if (conn.role !== 'publisher') return;
    // a takeover in the grace window can unregister the broadcast this session publishes into
    if (Context.broadcasts.get(session.streamPath) !== session.broadcast) Context.broadcasts.set(session.streamPath, session.broadcast);
    session.broadcast.publishGraceMs = settings.publishGraceMs;
    keepTwoGops(session.broadcast);
    // a new connection is a new epoch: its capture starts with its own pictures, not the previous one's
    dropDeepCache(session.broadcast);
    // a pull that joined while the path waited for its publisher to come back was made for the previous
    // epoch: its run would record this one's first seconds that the new epoch's capture records again
    if (conn.resumed) endPlayers(session.broadcast);
  }));

  ev.on('donePublish', listener('donePublish', (session, conn) => {
    if (!conn.accepted) return;
    const lessonId = conn.lessonId ?? '';
    const reason = conn.kicked ? 'kicked' : takingOver ? 'takeover' : 'ended';
    send({ type: 'publishEnd', lessonId, sessionId: session.id, reason });
    log.info({ lessonId, sessionId: session.id, reason }, 'rtmp publish ended');
    // nothing of this publish may reach a later pull (NMS drops its own caches right after this)
    dropDeepCache(session.broadcast);
    endPlayers(session.broadcast);
  }));

  ev.on('prePlay', listener('prePlay', (session, conn) => {
    const deep = session.streamQuery?.cache === 'deep';
    const token = takeQueryParam(session, 'token');
    if (conn.role !== 'pending' || conn.dropped) return;
    const lessonId = lessonIdOf(session);
    const decision = gate.decidePlay({ lessonId, token, address: conn.address, now: Date.now() });
    if (!decision.ok) {
      refuse(conn, 'play', decision.reason, lessonId);
      return;
    }
    setRole(conn, 'player');
    conn.lessonId = lessonId;
    session.streamQuery = { sign: sign(session.streamPath) };
    respondPlay.call(session.rtmp);
    // NMS sends its cache right after this listener: the capture gets the deep one (put back in onPlay)
    const deepCache = deep ? deepCacheOf(session.broadcast) : null;
    if (deepCache) {
      conn.ownCache = session.broadcast.rtmpGopCache;
      session.broadcast.rtmpGopCache = deepCache;
    }
  }));

  ev.on('donePlay', listener('donePlay', (session, conn) => {
    if (conn.role !== 'player' || !conn.accepted) return;
    send({ type: 'playEnd', lessonId: conn.lessonId ?? '', sessionId: session.id, ip: conn.address });
  }));
}

// ---- server ----------------------------------------------------------------------------------

function onConnection(socket: net.Socket): void {
  socket.on('error', () => undefined);
  const address = normalizeAddress(socket.remoteAddress ?? '');
  const pending = pendingByAddress.get(address) ?? 0;
  if (pending >= settings.maxPendingPerAddress) {
    counters.rejectedConnections += 1;
    socket.destroy();
    return;
  }
  pendingByAddress.set(address, pending + 1);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, KEEPALIVE_MS);
  const session = new RtmpSession(socket);
  const now = Date.now();
  const conn: Conn = {
    session, socket, address, role: 'pending', accepted: false, connected: false, commandSeen: false, resumed: false,
    kicked: false, dropped: false, connectedAt: now, lastRx: now,
  };
  session.rtmp[kConn] = conn;
  connOfSession.set(session, conn);
  patchSession(session, conn);
  session.run();
  Context.sessions.set(session.id, session);
  conns.add(conn);
}

function tick(): void {
  const now = Date.now();
  for (const conn of conns) {
    if (conn.dropped) continue;
    if (conn.role === 'pending' && now - conn.connectedAt > settings.handshakeTimeoutMs) drop(conn, 'handshake_timeout');
    else if (conn.role === 'publisher' && now - conn.lastRx > settings.idleTimeoutMs) drop(conn, 'idle_timeout');
  }
}

function kick(lessonId: string): string[] {
  gate.revoke(lessonId);
  const ids: string[] = [];
  for (const conn of conns) {
    if (conn.role === 'publisher' && conn.lessonId === lessonId && !conn.dropped) {
      conn.kicked = true;
      ids.push(conn.session.id);
      drop(conn, 'kicked');
    }
  }
  // its publisher already gone but inside the grace window: end the publish now
  const b = Context.broadcasts.get(`/${RTMP_APP}/${lessonId}`);
  if (ids.length === 0 && b && b.getPublishStatus() === 'reconnecting' && b.publisher) {
    const c = connOf(b.publisher);
    if (c) c.kicked = true;
    b._finishPublish();
  }
  log.info({ lessonId, sessionIds: ids }, 'rtmp publisher kicked');
  return ids;
}

function stats(): Extract<FromChild, { type: 'statsResult' }>['stats'] {
  const mem = process.memoryUsage();
  let pending = 0;
  let publishers = 0;
  let players = 0;
  const streams: Extract<FromChild, { type: 'statsResult' }>['stats']['streams'] = [];
  const now = Date.now();
  for (const c of conns) {
    if (c.role === 'pending') pending += 1;
    else if (c.role === 'publisher' && c.accepted) {
      publishers += 1;
      const s = c.meter?.snapshot(now);
      if (s && c.lessonId) streams.push({ lessonId: c.lessonId, sessionId: c.session.id, since: c.connectedAt, width: c.session.videoWidth || 0, height: c.session.videoHeight || 0, ...s });
    }
    else if (c.role === 'player' && c.accepted) players += 1;
  }
  const maxMs = loopDelay.max / 1e6;
  loopDelay.reset();
  return {
    pid: process.pid, uptimeMs: Date.now() - startedAt, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, externalBytes: mem.external,
    connections: conns.size, pending, publishers, players, ...counters, eventLoopDelayMaxMs: Number.isFinite(maxMs) ? maxMs : 0,
    streams,
  };
}

/**
 * The ingest is closing (a deploy, an operator's restart) with publishers on air or within their
 * reconnect window: nothing new is accepted, every publisher is cut (each reported `publisherLost`,
 * reason `ingest_closing`: the catalog waits for its reconnect to another or the restarted ingest,
 * and ends the session into a recording if none comes), and every player is told its publish is
 * over after everything relayed, as when a publish ends (endPlayers). The capture's ffmpeg then reads
 * the end of its stream and closes its last segment itself: a signal could not reach it while it was
 * blocked in its read, and a kill would lose that segment. Resolves once every connection has closed
 * (the players' ffmpeg read all there was), or after `ms`.
 */
async function endAll(ms: number): Promise<void> {
  server?.close();
  // a cut publisher sends nothing more: what it sent before is already relayed (broadcast on read)
  for (const conn of conns) if (conn.role !== 'player') drop(conn, 'ingest_closing');
  for (const b of Context.broadcasts.values()) endPlayers(b);
  for (const conn of conns) if (conn.role === 'player' && !conn.socket.writableEnded) conn.socket.end();
  const open = [...conns].map((c) => c.socket).filter((s) => !s.closed);
  await settleWithin(Promise.all(open.map((s) => new Promise((resolve) => s.once('close', resolve)))), ms);
  log.info({ open: [...conns].filter((c) => !c.socket.closed).length }, 'rtmp ingest drained');
}

function shutdown(code: number): void {
  server?.close();
  for (const c of conns) c.socket.destroy();
  setTimeout(() => process.exit(code), 50).unref();
}

function init(s: ChildSettings, keys: Parameters<PublishGate['setKeys']>[0], revoked: { lessonId: string; keyHash: string }[]): void {
  settings = s;
  log = createLogger(s.logLevel, 'classcast-rtmp');
  limiter = new LocalFailureLimiter(s.authMaxFailures, s.authFailureWindowMs);
  gate = new PublishGate({ workerTokenHash: s.workerTokenHash, allowLoopbackPlay: s.allowLoopbackPlay, limiter });
  gate.setKeys(keys);
  for (const r of revoked) gate.addRevoked(r.lessonId, r.keyHash);

  // NMS's logger prints stream names (possibly a mistyped secret) to stdout: silenced
  nmsLogger.level = 'error';
  nmsLogger.log = () => undefined;
  // read by BroadcastServer.verifyAuth: every publish and play must carry our sign
  Context.config = { bind: s.host, rtmp: { port: s.port }, auth: { publish: true, play: true, secret: signSecret } };
  patchRtmpPrototype(s.maxMessageBytes);
  installListeners();
  loopDelay.enable();

  server = net.createServer({ noDelay: true }, onConnection);
  server.maxConnections = s.maxConnections;
  server.once('error', (err: NodeJS.ErrnoException) => {
    send({ type: 'fatal', code: err.code ?? 'ERROR', message: err.message });
    log.fatal({ err }, 'rtmp ingest cannot listen');
    shutdown(3);
  });
  server.listen({ port: s.port, host: s.host }, () => {
    server?.removeAllListeners('error');
    server?.on('error', (err) => log.error({ err }, 'rtmp server error'));
    const port = (server?.address() as net.AddressInfo).port;
    log.info({ port, host: s.host }, 'rtmp ingest listening');
    send({ type: 'ready', port });
  });
  const tickMs = Math.max(100, Math.min(1000, Math.floor(Math.min(s.idleTimeoutMs, s.handshakeTimeoutMs) / 4)));
  setInterval(tick, tickMs).unref();
}

process.on('message', (raw: unknown) => {
  const parsed = toChildSchema.safeParse(raw);
  if (!parsed.success) return;
  const msg = parsed.data;
  switch (msg.type) {
    case 'init':
      if (!settings) init(msg.settings, msg.keys, msg.revoked);
      return;
    case 'keys':
      gate?.setKeys(msg.entries);
      return;
    case 'upsertKey':
      gate?.upsertKey(msg.entry);
      return;
    case 'removeKey':
      gate?.removeKey(msg.lessonId);
      return;
    case 'kick':
      send({ type: 'kickResult', requestId: msg.requestId, sessionIds: settings ? kick(msg.lessonId) : [] });
      return;
    case 'stats':
      send({ type: 'statsResult', requestId: msg.requestId, stats: stats() });
      return;
    case 'sync':
      send({ type: 'syncResult', requestId: msg.requestId });
      return;
    case 'endAll':
      void (settings ? endAll(msg.ms) : Promise.resolve()).then(() => send({ type: 'endAllResult', requestId: msg.requestId }));
      return;
    case 'shutdown':
      shutdown(0);
      return;
  }
});

// the parent owns our lifetime: Ctrl+C reaches the whole process group, the parent decides
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => shutdown(0));
process.on('disconnect', () => shutdown(0));
process.on('uncaughtException', (err) => {
  // state may be corrupt: exit, the supervisor restarts at once
  log?.fatal({ err }, 'rtmp ingest crashed');
  process.exit(1);
});
