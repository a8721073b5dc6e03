/**
 * Object keys of a live session beyond the HLS ones in storage-keys.ts: the ledger (private: not an
 * HLS path, the gateway never serves it), the recording's poster and storyboard.
 */
import { livePrefix, liveSegmentKey } from './storage-keys.ts';
import { liveSegmentFile } from './live-playlists.ts';

export function liveLedgerHeadKey(sessionId: string): string {
  return `${livePrefix(sessionId)}ledger/head.json`;
}

export function liveLedgerPageKey(sessionId: string, page: number): string {
  if (!Number.isInteger(page) || page < 0) throw new Error(`invalid ledger page: ${page}`);
  return `${livePrefix(sessionId)}ledger/page-${String(page).padStart(5, '0')}.json`;
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
