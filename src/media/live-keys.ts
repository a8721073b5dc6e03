/**
 * Object keys of a live session beyond the HLS ones in storage-keys.ts: the ledger (private: not an
 * HLS path, the gateway never serves it), the recording's poster and storyboard.
 */
import { livePrefix, liveSegmentKey } from './storage-keys.ts';
import { liveSegmentFile } from './live-playlists.ts';

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

export function livePosterKey(sessionId: string): string {
  return `${livePrefix(sessionId)}poster.jpg`;
}

export function liveStoryboardImageKey(sessionId: string): string {
  return `${livePrefix(sessionId)}storyboard.jpg`;
}

export function liveStoryboardVttKey(sessionId: string): string {
  return `${livePrefix(sessionId)}storyboard.vtt`;
}
