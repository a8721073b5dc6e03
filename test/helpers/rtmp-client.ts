import { randomBytes } from 'node:crypto';
import net from 'node:net';

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
