import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { promisify } from 'node:util';

/**
 * A minimal RTMP client for tests: simple handshake, AMF0 commands, media messages, and a chunk
 * reader that records every message the server sends. It can also write arbitrary bytes, so the
 * same class drives legitimate publishers/players, silent publishers and malformed traffic.
 */

export const MSG = { setChunkSize: 1, audio: 8, video: 9, data: 18, command: 20 } as const;

export interface RtmpMessage {
  type: number;
  timestamp: number;
  streamId: number;
  payload: Buffer;
}

type AmfValue = number | boolean | string | null | undefined | AmfObject | AmfValue[];
interface AmfObject {
  [k: string]: AmfValue;
}

// ---- AMF0 ------------------------------------------------------------------------------------

export function amfEncode(...values: AmfValue[]): Buffer {
  const parts: Buffer[] = [];
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(2);
    h.writeUInt16BE(b.length);
    return Buffer.concat([h, b]);
  };
  const one = (v: AmfValue): void => {
    if (typeof v === 'number') {
      const b = Buffer.alloc(9);
      b[0] = 0x00;
      b.writeDoubleBE(v, 1);
      parts.push(b);
    } else if (typeof v === 'boolean') {
      parts.push(Buffer.from([0x01, v ? 1 : 0]));
    } else if (typeof v === 'string') {
      parts.push(Buffer.from([0x02]), str(v));
    } else if (v === null) {
      parts.push(Buffer.from([0x05]));
    } else if (v === undefined) {
      parts.push(Buffer.from([0x06]));
    } else if (Array.isArray(v)) {
      const h = Buffer.alloc(5);
      h[0] = 0x0a;
      h.writeUInt32BE(v.length, 1);
      parts.push(h);
      for (const x of v) one(x);
    } else {
      parts.push(Buffer.from([0x03]));
      for (const [k, x] of Object.entries(v)) {
        parts.push(str(k));
        one(x);
      }
      parts.push(Buffer.from([0x00, 0x00, 0x09]));
    }
  };
  for (const v of values) one(v);
  return Buffer.concat(parts);
}

/** Decodes consecutive AMF0 values (numbers, booleans, strings, objects, ECMA/strict arrays, null). */
export function amfDecode(buf: Buffer): AmfValue[] {
  let off = 0;
  const str = (): string => {
    const n = buf.readUInt16BE(off);
    const s = buf.toString('utf8', off + 2, off + 2 + n);
    off += 2 + n;
    return s;
  };
  const props = (): AmfObject => {
    const o: AmfObject = {};
    for (;;) {
      if (buf.readUInt16BE(off) === 0 && buf[off + 2] === 0x09) {
        off += 3;
        return o;
      }
      const k = str();
      o[k] = one();
    }
  };
  const one = (): AmfValue => {
    const marker = buf[off++];
    switch (marker) {
      case 0x00: {
        const v = buf.readDoubleBE(off);
        off += 8;
        return v;
      }
      case 0x01:
        return buf[off++] !== 0;
      case 0x02:
        return str();
      case 0x03:
        return props();
      case 0x05:
        return null;
      case 0x06:
        return undefined;
      case 0x08:
        off += 4;
        return props();
      case 0x0a: {
        const n = buf.readUInt32BE(off);
        off += 4;
        const a: AmfValue[] = [];
        for (let i = 0; i < n; i++) a.push(one());
        return a;
      }
      default:
        throw new Error(`unsupported AMF0 marker ${marker}`);
    }
  };
  const out: AmfValue[] = [];
  while (off < buf.length) out.push(one());
  return out;
}

// ---- chunks ----------------------------------------------------------------------------------

/** One RTMP message as chunks (fmt 0 header, then fmt 3 continuations every `chunkSize` bytes). */
export function encodeMessage(m: { cid: number; type: number; streamId?: number; timestamp?: number; payload: Buffer; length?: number }, chunkSize = 128): Buffer {
  const length = m.length ?? m.payload.length;
  const ts = m.timestamp ?? 0;
  const head = Buffer.alloc(12);
  head[0] = m.cid & 0x3f;
  head.writeUIntBE(Math.min(ts, 0xffffff), 1, 3);
  head.writeUIntBE(length, 4, 3);
  head[7] = m.type;
  head.writeUInt32LE(m.streamId ?? 0, 8);
  const parts: Buffer[] = [head];
  for (let off = 0; off < m.payload.length; off += chunkSize) {
    if (off > 0) parts.push(Buffer.from([0xc0 | (m.cid & 0x3f)]));
    parts.push(m.payload.subarray(off, off + chunkSize));
  }
  return Buffer.concat(parts);
}

interface InStream {
  timestamp: number;
  delta: number;
  length: number;
  type: number;
  streamId: number;
  parts: Buffer[];
  received: number;
}

export class RawRtmpClient {
  readonly messages: RtmpMessage[] = [];
  readonly closed: Promise<void>;
  isClosed = false;
  private buf: Buffer = Buffer.alloc(0);
  private handshakeDone = false;
  private inChunkSize = 128;
  private outChunkSize = 128;
  private readonly streams = new Map<number, InStream>();
  private waiters: (() => void)[] = [];
  private nextTransId = 1;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.isClosed = true;
      this.wake();
      resolve();
    }));
  }

  /** Opens a TCP connection (optionally from another loopback address, e.g. 127.0.0.2). */
  static open(port: number, opts: { host?: string; localAddress?: string } = {}): Promise<RawRtmpClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: opts.host ?? '127.0.0.1', localAddress: opts.localAddress });
      s.once('connect', () => resolve(new RawRtmpClient(s)));
      s.once('error', reject);
    });
  }

  write(b: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(b);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Simple (version 3, digest-less) handshake. */
  async handshake(): Promise<void> {
    const c1 = Buffer.concat([Buffer.alloc(8), randomBytes(1528)]);
    this.write(Buffer.concat([Buffer.from([3]), c1]));
    await this.until(() => this.buf.length >= 1 + 1536 * 2, 5000, 'handshake');
    const s1 = this.buf.subarray(1, 1537);
    this.buf = this.buf.subarray(1 + 1536 * 2);
    this.write(Buffer.from(s1));
    this.handshakeDone = true;
    this.parse();
  }

  setChunkSize(n: number): void {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(n);
    this.write(encodeMessage({ cid: 2, type: MSG.setChunkSize, payload: p }));
    this.outChunkSize = n;
  }

  send(m: { cid: number; type: number; streamId?: number; timestamp?: number; payload: Buffer }): void {
    this.write(encodeMessage(m, this.outChunkSize));
  }

  command(name: string, transId: number, ...args: AmfValue[]): void {
    this.send({ cid: 3, type: MSG.command, streamId: args.length > 2 ? 1 : 0, payload: amfEncode(name, transId, ...args) });
  }

  /** connect + createStream; resolves when both are answered. */
  async connect(app = 'live', tcUrl?: string): Promise<void> {
    this.setChunkSize(60_000);
    const port = this.socket.remotePort;
    const t1 = this.nextTransId++;
    this.send({ cid: 3, type: MSG.command, payload: amfEncode('connect', t1, { app, type: 'nonprivate', flashVer: 'FMLE/3.0', tcUrl: tcUrl ?? `rtmp://127.0.0.1:${port}/${app}` }) });
    await this.until(() => this.findCommand('_result', t1) !== undefined, 5000, 'connect result');
    const t2 = this.nextTransId++;
    this.send({ cid: 3, type: MSG.command, payload: amfEncode('createStream', t2, null) });
    await this.until(() => this.findCommand('_result', t2) !== undefined, 5000, 'createStream result');
  }

  /** Sends publish; resolves with the onStatus code, or 'closed' if the server hung up first. */
  async publish(nameWithQuery: string, timeoutMs = 5000): Promise<string> {
    this.send({ cid: 8, type: MSG.command, streamId: 1, payload: amfEncode('publish', 0, null, nameWithQuery, 'live') });
    return this.waitStatus(timeoutMs);
  }

  async play(nameWithQuery: string, timeoutMs = 5000): Promise<string> {
    this.send({ cid: 8, type: MSG.command, streamId: 1, payload: amfEncode('play', 0, null, nameWithQuery, -2000) });
    return this.waitStatus(timeoutMs);
  }

  /** Media messages (audio, video, metadata) received so far; the server's own |RtmpSampleAccess is not media. */
  media(): RtmpMessage[] {
    return this.messages.filter((m) => m.type === MSG.audio || m.type === MSG.video || (m.type === MSG.data && !isSampleAccess(m.payload)));
  }

  async until(pred: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.isClosed) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private async waitStatus(timeoutMs: number): Promise<string> {
    const start = this.messages.length;
    const code = (): string | undefined => {
      for (const m of this.messages.slice(start)) {
        if (m.type !== MSG.command) continue;
        const v = amfDecode(m.payload);
        // Play.Reset precedes Play.Start; the answer that matters comes after it
        if (v[0] === 'onStatus' && v[3] && typeof v[3] === 'object' && !Array.isArray(v[3]) && v[3].code !== 'NetStream.Play.Reset') return String(v[3].code);
      }
      return undefined;
    };
    try {
      await this.until(() => code() !== undefined, timeoutMs, 'onStatus');
    } catch {
      return code() ?? (this.isClosed ? 'closed' : 'timeout');
    }
    return code() ?? 'closed';
  }

  private findCommand(name: string, transId: number): AmfValue[] | undefined {
    for (const m of this.messages) {
      if (m.type !== MSG.command) continue;
      const v = amfDecode(m.payload);
      if (v[0] === name && v[1] === transId) return v;
    }
    return undefined;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    if (this.handshakeDone) this.parse();
    this.wake();
  }

  private parse(): void {
    for (;;) {
      const b = this.buf;
      if (b.length < 1) return;
      const fmt = b[0] >> 6;
      let cid = b[0] & 0x3f;
      let off = 1;
      if (cid === 0) {
        if (b.length < 2) return;
        cid = 64 + b[1];
        off = 2;
      } else if (cid === 1) {
        if (b.length < 3) return;
        cid = 64 + b[1] + b[2] * 256;
        off = 3;
      }
      const mh = [11, 7, 3, 0][fmt];
      if (b.length < off + mh) return;
      const prev = this.streams.get(cid) ?? { timestamp: 0, delta: 0, length: 0, type: 0, streamId: 0, parts: [], received: 0 };
      const st: InStream = { ...prev };
      let tsField = -1;
      if (fmt <= 2) tsField = b.readUIntBE(off, 3);
      if (fmt <= 1) {
        st.length = b.readUIntBE(off + 3, 3);
        st.type = b[off + 6];
      }
      if (fmt === 0) st.streamId = b.readUInt32LE(off + 7);
      off += mh;
      if (tsField === 0xffffff || (fmt === 3 && prev.delta >= 0xffffff)) {
        if (b.length < off + 4) return;
        tsField = b.readUInt32BE(off);
        off += 4;
      }
      if (st.received === 0) {
        if (fmt === 0) {
          st.timestamp = tsField;
          st.delta = tsField;
        } else if (fmt === 1 || fmt === 2) {
          st.delta = tsField;
          st.timestamp = prev.timestamp + tsField;
        } else {
          st.timestamp = prev.timestamp + prev.delta;
        }
        st.parts = [];
      }
      const n = Math.min(this.inChunkSize, st.length - st.received);
      if (b.length < off + n) return;
      st.parts = [...st.parts, b.subarray(off, off + n)];
      st.received += n;
      this.buf = b.subarray(off + n);
      if (st.received >= st.length) {
        const payload = Buffer.concat(st.parts);
        st.parts = [];
        st.received = 0;
        if (st.type === MSG.setChunkSize && payload.length >= 4) this.inChunkSize = payload.readUInt32BE(0);
        this.messages.push({ type: st.type, timestamp: st.timestamp, streamId: st.streamId, payload });
      }
      this.streams.set(cid, st);
    }
  }
}

function isSampleAccess(payload: Buffer): boolean {
  return payload.includes(Buffer.from('|RtmpSampleAccess'));
}

/** A fake video tag body: FLV video header byte (frame type, codec id) + filler. */
export function fakeVideo(codecId: number, key: boolean, size = 300): Buffer {
  const b = randomBytes(size);
  b[0] = ((key ? 1 : 2) << 4) | codecId;
  if (codecId === 7) {
    b[1] = 1; // AVC NALU
    b[2] = b[3] = b[4] = 0;
  }
  return b;
}

/** Codec ids of the video messages received (low nibble of the tag's first byte: 7 = H.264, 2 = Sorenson). */
export function videoCodecIds(msgs: RtmpMessage[]): Set<number> {
  return new Set(msgs.filter((m) => m.type === MSG.video && m.payload.length > 0).map((m) => m.payload[0] & 0x0f));
}

/** `videocodecid` of each metadata (@setDataFrame / onMetaData) message received. */
export function metadataCodecIds(msgs: RtmpMessage[]): number[] {
  const out: number[] = [];
  for (const m of msgs) {
    if (m.type !== MSG.data) continue;
    try {
      for (const v of amfDecode(m.payload)) {
        if (v && typeof v === 'object' && !Array.isArray(v) && 'videocodecid' in v) out.push(Number(v.videocodecid));
      }
    } catch {
      out.push(-1);
    }
  }
  return out;
}

/** Number of times a media type's timestamp went backwards (a second publisher mixed in shows up here). */
export function timestampRegressions(msgs: RtmpMessage[], type: number): number {
  let last = -1;
  let n = 0;
  for (const m of msgs) {
    if (m.type !== type) continue;
    if (m.timestamp < last) n += 1;
    last = m.timestamp;
  }
  return n;
}

// ---- FLV files published tag by tag (real H.264/AAC with timestamps of our choosing) --------------

/** One FLV tag: its type (8 audio, 9 video, 18 script data), timestamp (ms) and body. */
export interface FlvTag {
  type: number;
  timestamp: number;
  data: Buffer;
}

/** The tags of an FLV file (what ffmpeg's flv muxer writes), in file order. */
export function readFlvTags(file: Buffer): FlvTag[] {
  if (file.toString('latin1', 0, 3) !== 'FLV') throw new Error('not an FLV file');
  const tags: FlvTag[] = [];
  let off = file.readUInt32BE(5) + 4;
  while (off + 11 <= file.length) {
    const size = file.readUIntBE(off + 1, 3);
    if (off + 11 + size > file.length) break;
    const timestamp = (file.readUIntBE(off + 4, 3) | (file[off + 7] << 24)) >>> 0;
    tags.push({ type: file[off] & 0x1f, timestamp, data: file.subarray(off + 11, off + 11 + size) });
    off += 11 + size + 4;
  }
  return tags;
}

/**
 * An encoder's real output as FLV tags: `seconds` of H.264 (testsrc2, keyframes every 2 s, no
 * B-frames) and AAC (48 kHz stereo), encoded by ffmpeg.
 */
export async function encodeFlvTags(o: { seconds: number; size?: string; fps?: number }): Promise<FlvTag[]> {
  const fps = o.fps ?? 30;
  const { stdout } = await promisify(execFile)('ffmpeg', [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    '-f', 'lavfi', '-i', `testsrc2=size=${o.size ?? '640x360'}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(o.seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(2 * fps), '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '96k', '-ac', '2',
    '-f', 'flv', 'pipe:1',
  ], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
  // the muxer's closing AVC end-of-sequence tag is left out: a live encoder sends none mid-lesson
  return readFlvTags(stdout).filter((t) => !(t.type === MSG.video && (t.data[0] & 0x0f) === 7 && t.data[1] === 2));
}

/** Whether a tag is a codec configuration (AVC decoder configuration record, AAC AudioSpecificConfig). */
export function isSequenceHeader(t: FlvTag): boolean {
  if (t.type === MSG.video) return (t.data[0] & 0x0f) === 7 && t.data[1] === 0;
  if (t.type === MSG.audio) return t.data[0] >> 4 === 10 && t.data[1] === 0;
  return false;
}

const isVideoKeyframe = (t: FlvTag): boolean => t.type === MSG.video && t.data[0] >> 4 === 1 && !isSequenceHeader(t);

/** A tag to send: `sendAtMs` on the publisher's wall clock (from its first tag), `timestamp` on the wire. */
export interface TimedTag extends FlvTag {
  sendAtMs: number;
}

/** The tags as an encoder sends them in real time: each at its own timestamp, timestamps unchanged. */
export function realTime(tags: readonly FlvTag[]): TimedTag[] {
  return tags.map((t) => ({ ...t, sendAtMs: t.timestamp }));
}

/**
 * An encoder that restarts without reconnecting (OBS changing settings, a hardware encoder's reset):
 * at the first video keyframe sent at or after `atS` seconds into the publish, or the first for which
 * `when` holds, it sends its codec configurations again and its timestamps start over `backS` earlier
 * (0 at the least), the tags after it keeping their spacing. `pauseS` is the restart's own silence on
 * the wire. Every tag from there on is retimed, sound included (the same encoder restarted both);
 * `onRestart` learns when the restart was sent. Lazy: the tags may be an endless feed (loopClip).
 */
export function* restartEncoder(tags: Iterable<TimedTag>, o: { atS?: number; when?: () => boolean; backS: number; pauseS?: number; onRestart?: (sendAtMs: number) => void }): Generator<TimedTag> {
  const configs = new Map<number, TimedTag>();
  const pause = Math.round((o.pauseS ?? 0) * 1000);
  let shift: { from: number; to: number } | null = null;
  for (const t of tags) {
    if (!shift && isVideoKeyframe(t) && (o.atS !== undefined ? t.sendAtMs >= o.atS * 1000 : !!o.when?.())) {
      shift = { from: t.timestamp, to: Math.max(0, t.timestamp - Math.round(o.backS * 1000)) };
      o.onRestart?.(t.sendAtMs + pause);
      for (const c of configs.values()) yield { ...c, timestamp: shift.to, sendAtMs: t.sendAtMs + pause };
    }
    if (!shift) {
      if (isSequenceHeader(t)) configs.set(t.type, t);
      yield t;
    } else {
      yield { ...t, timestamp: Math.max(0, t.timestamp - shift.from + shift.to), sendAtMs: t.sendAtMs + pause };
    }
  }
  if (!shift && o.atS !== undefined) throw new Error(`no keyframe after ${o.atS} s`);
}

/** restartEncoder over a whole clip, as a list. */
export function restartEncoderAt(tags: readonly TimedTag[], o: { atS: number; backS: number; pauseS?: number }): TimedTag[] {
  return [...restartEncoder(tags, o)];
}

/**
 * An encoder on air for as long as a test needs: the clip (from encodeFlvTags, starting with a
 * keyframe) round after round, timestamps and send times continuing, its metadata and codec
 * configurations once at the start; after each round `more(sentMs)` decides whether another follows.
 */
export function* loopClip(clip: readonly FlvTag[], more: (sentMs: number) => boolean): Generator<TimedTag> {
  const frames = clip.filter((t) => t.type !== MSG.data && !isSequenceHeader(t));
  const video = frames.filter((t) => t.type === MSG.video);
  if (!video.length || !isVideoKeyframe(video[0])) throw new Error('the clip must start with a keyframe');
  const step = video.length > 1 ? video[1].timestamp - video[0].timestamp : 40;
  const roundMs = video[video.length - 1].timestamp + step;
  for (const t of clip.filter((x) => !frames.includes(x))) yield { ...t, sendAtMs: 0 };
  for (let round = 0; round === 0 || more(round * roundMs); round++) {
    for (const t of frames) yield { ...t, timestamp: t.timestamp + round * roundMs, sendAtMs: t.timestamp + round * roundMs };
  }
}

/**
 * Sends the `count` tags after the first keyframe sent at or after `atS` seconds into the publish with
 * that keyframe's timestamp (an encoder that repeats timestamps: non-monotonic on the wire by a frame).
 */
export function repeatTimestampsAt(tags: readonly TimedTag[], o: { atS: number; count: number }): TimedTag[] {
  const start = tags.findIndex((t) => isVideoKeyframe(t) && t.sendAtMs >= o.atS * 1000);
  if (start < 1) throw new Error(`no keyframe after ${o.atS} s`);
  return tags.map((t, i) => (i > start && i <= start + o.count ? { ...t, timestamp: tags[start].timestamp } : t));
}

/** An FLV file of the tags with their (rewritten) timestamps, e.g. to see what ffmpeg makes of them. */
export function writeFlv(tags: readonly FlvTag[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0])];
  for (const t of tags) {
    const h = Buffer.alloc(11);
    h[0] = t.type;
    h.writeUIntBE(t.data.length, 1, 3);
    h.writeUIntBE(t.timestamp & 0xffffff, 4, 3);
    h[7] = (t.timestamp >>> 24) & 0xff;
    const size = Buffer.alloc(4);
    size.writeUInt32BE(11 + t.data.length);
    parts.push(h, t.data, size);
  }
  return Buffer.concat(parts);
}

/**
 * Publishes tags to an ingest as an encoder does: handshake, connect, publish `nameWithQuery`, the
 * metadata as @setDataFrame, then each tag at its `sendAtMs` (chunk stream 4 for sound, 6 for
 * picture, full headers: any timestamp can follow any other). Resolves with the publish status and
 * a `done` that settles once everything is sent (or `stop()` was called), the connection then closed;
 * `sent` settles once the last tag is written; `lastSentAtMs` is the send time of the last tag sent so
 * far. `hold`: the encoder stays on air after its last tag (its connection open, sending nothing)
 * until `stop()` or the ingest closes the connection. `cut()`: the connection breaks (destroyed, no
 * orderly close), as when an encoder's process dies, once what it wrote has left Node.
 */
export async function publishFlvTags(port: number, nameWithQuery: string, tags: Iterable<TimedTag>, o: { hold?: boolean } = {}): Promise<{ status: string; done: Promise<void>; sent: Promise<void>; stop: () => void; cut: () => void; lastSentAtMs: () => number }> {
  const c = await RawRtmpClient.open(port);
  await c.handshake();
  await c.connect('live');
  const status = await c.publish(nameWithQuery);
  let stopped = status !== 'NetStream.Publish.Start';
  const send = (t: FlvTag) => {
    const payload = t.type === MSG.data ? Buffer.concat([amfEncode('@setDataFrame'), t.data]) : t.data;
    c.send({ cid: t.type === MSG.audio ? 4 : t.type === MSG.video ? 6 : 5, type: t.type, streamId: 1, timestamp: t.timestamp, payload });
  };
  let last = 0;
  let markSent = () => undefined as void;
  const sent = new Promise<void>((r) => (markSent = r));
  let release = () => undefined as void;
  const released = new Promise<void>((r) => (release = r));
  const done = (async () => {
    const start = Date.now();
    for (const t of tags) {
      if (stopped || c.isClosed) break;
      const wait = start + t.sendAtMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      send(t);
      last = t.sendAtMs;
    }
    markSent();
    if (o.hold && !stopped && !c.isClosed) await Promise.race([released, c.closed]);
    // an encoder that stops ends its connection after its last tag: everything written reaches the
    // ingest first (destroying the socket would drop what Node still buffers)
    if (!c.isClosed) {
      c.socket.end();
      await Promise.race([c.closed, new Promise((r) => setTimeout(r, 10_000))]);
    }
    c.destroy();
  })();
  const cut = () => {
    stopped = true;
    if (c.socket.writableLength > 0) c.socket.once('drain', () => c.destroy());
    else c.destroy();
  };
  return { status, done, sent, stop: () => { stopped = true; release(); }, cut, lastSentAtMs: () => last };
}
