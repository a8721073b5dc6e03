import { describe, expect, it } from 'vitest';
import { formatProgramDateTime } from '../../src/media/hls-playlists.ts';
import { readMediaPlaylistText } from '../../src/media/hls-reader.ts';
import { appendSlot, newLedger, nextSlot, type LiveLedger } from '../../src/media/live-ledger.ts';
import { freezeLadder, liveMediaPlaylistName, writeLiveMaster, writeSubstitutePlaylist } from '../../src/media/live-playlists.ts';

const t0 = Date.UTC(2026, 11, 5, 8, 0, 0, 0);

/** A ledger of one rendition per name whose slots are 2 s long; each run starts `pauseS` after the previous one ended. */
function ledger(names: string[], runs: number[], o: { start?: number; pauseS?: number } = {}): LiveLedger {
  const l = newLedger({ sessionId: 's1', lessonId: 'l1', segmentSeconds: 2 });
  l.renditions = names.map((name) => ({ name, kind: 'video' as const, codecs: 'avc1.64001e,mp4a.40.2', capBps: 900_000 }));
  let at = o.start ?? t0;
  runs.forEach((count, r) => {
    l.runs.push({ run: r + 1, epoch: 1, startedAtMs: at, sizes: Object.fromEntries(names.map((n) => [n, { width: 640, height: 360 }])), frameRate: 25, plan: null });
    for (let seq = 0; seq < count; seq++) appendSlot(l, nextSlot(l, { run: r + 1, seq, parts: names.map(() => ({ durationS: 2, bytes: 100_000 })), runStartPdtMs: at, runElapsedS: seq * 2, gap: false }));
    at += count * 2000 + (o.pauseS ?? 0) * 1000;
  });
  return l;
}

describe('the ladder fallback when a transcoder dies', () => {
  // the transcoder started 4 s after the capture, wrote 10 slots (a reconnect after 6) and died; the capture went on
  const transcoded = ledger(['360p', 'audio'], [6, 4], { start: t0 + 4000 });
  const captured = ledger(['source'], [30]);

  it('when the rungs stop, then the freeze names their last slot, their discontinuities and the captured slot that follows', () => {
    expect(freezeLadder(transcoded, captured.slots, 0)).toEqual({
      generation: 0,
      rungs: ['360p', 'audio'],
      lastMsn: 9,
      discontinuities: 1,
      endPdtMs: t0 + 24_000,
      fromSourceMsn: 12,
      targetDurationS: 2,
    });
    expect(freezeLadder(newLedger({ sessionId: 's1', lessonId: 'l1', segmentSeconds: 2 }), captured.slots, 0)).toBeNull();
    expect(freezeLadder(transcoded, captured.slots.slice(0, 12), 0)).toBeNull();
  });

  it('when a player polls a frozen rung, then it gets the source numbered on from the rung, one discontinuity at the switch, URIs into the source folder', () => {
    const f = freezeLadder(transcoded, captured.slots, 0)!;
    const text = writeSubstitutePlaylist(captured.slots.slice(0, 15), f, { sourceFolder: 'source', windowSegments: 6, targetDurationS: 2 })!;
    expect(text).toBe([
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      '#EXT-X-TARGETDURATION:2',
      '#EXT-X-MEDIA-SEQUENCE:10',
      '#EXT-X-DISCONTINUITY-SEQUENCE:1',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      '#EXT-X-DISCONTINUITY',
      `#EXT-X-PROGRAM-DATE-TIME:${formatProgramDateTime(t0 + 24_000)}`,
      '#EXTINF:2.000000,',
      '../source/r0001-00012.ts',
      `#EXT-X-PROGRAM-DATE-TIME:${formatProgramDateTime(t0 + 26_000)}`,
      '#EXTINF:2.000000,',
      '../source/r0001-00013.ts',
      `#EXT-X-PROGRAM-DATE-TIME:${formatProgramDateTime(t0 + 28_000)}`,
      '#EXTINF:2.000000,',
      '../source/r0001-00014.ts',
      '',
    ].join('\n'));
  });

  it('when the fallback goes on, then the window slides with sequence numbers that only grow and the switch\'s discontinuity counted once it left', () => {
    const f = freezeLadder(transcoded, captured.slots, 0)!;
    const seen = [15, 20, 25, 30].map((n) => readMediaPlaylistText('', writeSubstitutePlaylist(captured.slots.slice(0, n), f, { sourceFolder: 'source', windowSegments: 6, targetDurationS: 2 })!));
    expect(seen.map((m) => [m.mediaSequence, m.segments.length, m.segments[m.segments.length - 1].msn])).toEqual([[10, 3, 12], [12, 6, 17], [17, 6, 22], [22, 6, 27]]);
    const last = writeSubstitutePlaylist(captured.slots, f, { sourceFolder: 'source', windowSegments: 6, targetDurationS: 2 })!;
    expect(last).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:2');
    expect(last).not.toContain('#EXT-X-DISCONTINUITY\n');
    expect(last).not.toContain('#EXT-X-ENDLIST');
  });

  it('when the capture has nothing after the freeze yet, then there is no substitute', () => {
    const f = { ...freezeLadder(transcoded, captured.slots, 0)!, fromSourceMsn: 40 };
    expect(writeSubstitutePlaylist(captured.slots, f, { sourceFolder: 'source', windowSegments: 6, targetDurationS: 2 })).toBeNull();
  });

  it('when a worker takes the session again, then its master names the next generation\'s playlists; the recording keeps index.m3u8', () => {
    expect(liveMediaPlaylistName(0)).toBe('index.m3u8');
    expect(liveMediaPlaylistName(2)).toBe('index-g2.m3u8');
    const uris = (t: string) => t.split('\n').filter((x) => x && !x.startsWith('#'));
    expect(uris(writeLiveMaster(transcoded, { phase: 'live', generation: 1 })).sort()).toEqual(['360p/index-g1.m3u8', 'audio/index-g1.m3u8']);
    expect(uris(writeLiveMaster(transcoded, { phase: 'live' })).sort()).toEqual(['360p/index.m3u8', 'audio/index.m3u8']);
    expect(uris(writeLiveMaster(transcoded, { phase: 'recording', generation: 1 })).sort()).toEqual(['360p/index.m3u8', 'audio/index.m3u8']);
  });
});
