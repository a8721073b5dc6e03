import { liveMediaPlaylistName, liveSegmentFile } from './live-playlists.ts';
import { adiFileNames } from './adi-xml.ts';

/**
 * Every object key of the media bucket (DESIGN.md "Storage layout"), built in one place. Ids are
 * checked so a key can never climb out of its prefix. The cable-outbox bucket's keys are at the end.
 */

const idPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const renditionPattern = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const fileNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function id(kind: string, value: string): string {
  if (!idPattern.test(value)) throw new Error(`invalid ${kind} for a storage key: ${JSON.stringify(value)}`);
  return value;
}

function rendition(value: string): string {
  if (!renditionPattern.test(value)) throw new Error(`invalid rendition name for a storage key: ${JSON.stringify(value)}`);
  return value;
}

function fileName(value: string): string {
  if (!fileNamePattern.test(value) || value.includes('..')) throw new Error(`invalid file name for a storage key: ${JSON.stringify(value)}`);
  return value;
}

/** Lower-case extension of an uploaded file name, without the dot; `bin` when none or odd. */
export function sourceExtension(originalName: string | undefined): string {
  const m = /\.([A-Za-z0-9]{1,8})$/.exec(originalName ?? '');
  return m ? m[1].toLowerCase() : 'bin';
}

/** Uploaded original: `sources/{assetId}/source.{ext}`. */
export function sourceKey(assetId: string, ext: string): string {
  const e = /^[a-z0-9]{1,8}$/.test(ext) ? ext : 'bin';
  return `sources/${id('assetId', assetId)}/source.${e}`;
}

/** Everything made from one asset version: `assets/{assetId}/`. */
export function assetPrefix(assetId: string): string {
  return `assets/${id('assetId', assetId)}/`;
}

/** HLS tree of an asset: `assets/{assetId}/hls/`. */
export function hlsPrefix(assetId: string): string {
  return `${assetPrefix(assetId)}hls/`;
}

/** VOD multivariant playlist, written last. */
export function masterKey(assetId: string): string {
  return `${hlsPrefix(assetId)}master.m3u8`;
}

/** Folder of one rendition (media playlist and its segments side by side). */
export function renditionPrefix(assetId: string, name: string): string {
  return `${hlsPrefix(assetId)}${rendition(name)}/`;
}

/** Media playlist of one rendition. */
export function mediaPlaylistKey(assetId: string, name: string): string {
  return `${renditionPrefix(assetId, name)}index.m3u8`;
}

/** A segment (or fMP4 init file) beside its media playlist. */
export function segmentKey(assetId: string, name: string, file: string): string {
  return `${renditionPrefix(assetId, name)}${fileName(file)}`;
}

const servableHls = /^(?:master\.m3u8|[a-z0-9][a-z0-9_-]{0,31}\/[A-Za-z0-9][A-Za-z0-9_-]{0,127}\.(?:m3u8|ts|m4s|mp4|aac))$/;

/**
 * Whether a path relative to an asset's master playlist names an HLS object players may fetch
 * (`master.m3u8`, `{rendition}/index.m3u8`, `{rendition}/seg-00001.ts`...); nothing else, no `..`.
 */
export function isServableHlsPath(rel: string): boolean {
  return servableHls.test(rel);
}

/** Storage key of an HLS path relative to the asset's master playlist (check isServableHlsPath first). */
export function hlsObjectKey(assetId: string, rel: string): string {
  if (!isServableHlsPath(rel)) throw new Error(`not an HLS path: ${JSON.stringify(rel)}`);
  return `${hlsPrefix(assetId)}${rel}`;
}

/** The pictures beside a version's HLS (an asset's, or a live session's recording). */
const pictures = { poster: 'poster.jpg', storyboardImage: 'storyboard.jpg', storyboardVtt: 'storyboard.vtt' } as const;

export const posterKey = (assetId: string): string => `${assetPrefix(assetId)}${pictures.poster}`;
export const storyboardImageKey = (assetId: string): string => `${assetPrefix(assetId)}${pictures.storyboardImage}`;
export const storyboardVttKey = (assetId: string): string => `${assetPrefix(assetId)}${pictures.storyboardVtt}`;

/** Live HLS of one session while on air (and the recording afterwards): `live/{sessionId}/`. */
export function livePrefix(sessionId: string): string {
  return `live/${id('sessionId', sessionId)}/`;
}

export function liveMasterKey(sessionId: string): string {
  return `${livePrefix(sessionId)}master.m3u8`;
}

export function liveRenditionPrefix(sessionId: string, name: string): string {
  return `${livePrefix(sessionId)}${rendition(name)}/`;
}

/** A rendition's media playlist: the live one of ladder generation `generation` (0: also the recording's). */
export function liveMediaPlaylistKey(sessionId: string, name: string, generation = 0): string {
  return `${liveRenditionPrefix(sessionId, name)}${liveMediaPlaylistName(generation)}`;
}

export function liveSegmentKey(sessionId: string, name: string, file: string): string {
  return `${liveRenditionPrefix(sessionId, name)}${fileName(file)}`;
}

/** Attachment n (0-based) of a question. */
export function questionImageKey(questionId: string, n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 99) throw new Error(`invalid attachment number: ${n}`);
  return `qa/${id('questionId', questionId)}/${n}.jpg`;
}

const contentTypes: Record<string, string> = {
  m3u8: 'application/vnd.apple.mpegurl',
  ts: 'video/mp2t',
  m4s: 'video/iso.segment',
  mp4: 'video/mp4',
  aac: 'audio/aac',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  vtt: 'text/vtt; charset=utf-8',
  xml: 'application/xml',
};

/** Content type to store (and serve) an object with, from its key's extension. */
export function contentTypeOf(key: string): string {
  const m = /\.([a-z0-9]+)$/i.exec(key);
  return (m && contentTypes[m[1].toLowerCase()]) || 'application/octet-stream';
}

// ---- live sessions beyond HLS: the ledger (private: not an HLS path, the gateway never serves it), the recording's poster and storyboard

/** The transcoder's ledger (`ledger/`) or the capture's (`ledger/capture/`, issue 11: capture before transcode). */
export type LedgerName = 'transcode' | 'capture';

const ledgerDir = (sessionId: string, name: LedgerName): string => `${livePrefix(sessionId)}ledger/${name === 'capture' ? 'capture/' : ''}`;

export function liveLedgerHeadKey(sessionId: string, name: LedgerName = 'transcode'): string {
  return `${ledgerDir(sessionId, name)}head.json`;
}

export function liveLedgerPageKey(sessionId: string, page: number, name: LedgerName = 'transcode'): string {
  if (!Number.isInteger(page) || page < 0) throw new Error(`invalid ledger page: ${page}`);
  return `${ledgerDir(sessionId, name)}page-${String(page).padStart(5, '0')}.json`;
}

/** The rendition the capture writes: the publisher's own stream, remuxed (no decode). */
export const captureRendition = 'source';

/** The whole captured session as one MPEG-TS (continuous timestamps), input of a recording made from the capture. */
export function liveCaptureRecordingKey(sessionId: string): string {
  return `${livePrefix(sessionId)}${captureRendition}/recording.ts`;
}

/** A slot's segment of one rendition. */
export function liveSlotKey(sessionId: string, rendition: string, run: number, seq: number): string {
  return liveSegmentKey(sessionId, rendition, liveSegmentFile(run, seq));
}

export const livePosterKey = (sessionId: string): string => `${livePrefix(sessionId)}${pictures.poster}`;
export const liveStoryboardImageKey = (sessionId: string): string => `${livePrefix(sessionId)}${pictures.storyboardImage}`;
export const liveStoryboardVttKey = (sessionId: string): string => `${livePrefix(sessionId)}${pictures.storyboardVtt}`;

// ---- the cable-outbox bucket

/**
 * Keys in the cable-outbox bucket (DESIGN.md storage layout): one folder per package,
 * `{packageId}/ADI.XML` (written last), `movie.ts`, `poster.jpg`.
 */
export type CablePackageFile = (typeof adiFileNames)[keyof typeof adiFileNames];

const packageIdPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const cablePackagePrefix = (packageId: string): string => {
  if (!packageIdPattern.test(packageId)) throw new RangeError(`not a package id: ${packageId}`);
  return `${packageId}/`;
};

export const cablePackageKey = (packageId: string, file: CablePackageFile): string => `${cablePackagePrefix(packageId)}${file}`;
