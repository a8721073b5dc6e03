import { describe, expect, it } from 'vitest';
import { formatProgramDateTime } from '../../src/media/hls-playlists.ts';
import { readMediaPlaylistText } from '../../src/media/hls-reader.ts';
import { appendSlot, newLedger, nextSlot, type LiveLedger, type LiveSlot } from '../../src/media/live-ledger.ts';
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
    expect(freezeLadder(transcoded, captured, 0)).toEqual({
      generation: 0,
      rungs: ['360p', 'audio'],
      lastMsn: 9,
      discontinuities: 1,
      endPdtMs: t0 + 24_000,
      fromSourceMsn: 12,
      alignedOn: 'clock',
      seamMs: null,
      targetDurationS: 2,
    });
    expect(freezeLadder(newLedger({ sessionId: 's1', lessonId: 'l1', segmentSeconds: 2 }), captured, 0)).toBeNull();
    expect(freezeLadder(transcoded, { ...captured, slots: captured.slots.slice(0, 12) }, 0)).toBeNull();
  });

  it('when a player polls a frozen rung, then it gets the source numbered on from the rung, one discontinuity at the switch, URIs into the source folder', () => {
    const f = freezeLadder(transcoded, captured, 0)!;
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
    const f = freezeLadder(transcoded, captured, 0)!;
    const seen = [15, 20, 25, 30].map((n) => readMediaPlaylistText('', writeSubstitutePlaylist(captured.slots.slice(0, n), f, { sourceFolder: 'source', windowSegments: 6, targetDurationS: 2 })!));
    expect(seen.map((m) => [m.mediaSequence, m.segments.length, m.segments[m.segments.length - 1].msn])).toEqual([[10, 3, 12], [12, 6, 17], [17, 6, 22], [22, 6, 27]]);
    const last = writeSubstitutePlaylist(captured.slots, f, { sourceFolder: 'source', windowSegments: 6, targetDurationS: 2 })!;
    expect(last).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:2');
    expect(last).not.toContain('#EXT-X-DISCONTINUITY\n');
    expect(last).not.toContain('#EXT-X-ENDLIST');
  });

  it('when the capture has nothing after the freeze yet, then there is no substitute', () => {
    const f = { ...freezeLadder(transcoded, captured, 0)!, fromSourceMsn: 40 };
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

/**
 * A ledger whose slots know their source times: per run its epoch, its first slot's source time, its
 * slot durations and its wall-clock start (t0 + wallMs, default the source time) plus skewMs (the host's
 * clock against the capture's).
 */
function timedLedger(names: string[], runs: { epoch: number; srcMs: number; durations: number[]; wallMs?: number }[], skewMs = 0): LiveLedger {
  const l = newLedger({ sessionId: 's1', lessonId: 'l1', segmentSeconds: 2 });
  l.renditions = names.map((name) => ({ name, kind: 'video' as const, codecs: 'avc1.64001e', capBps: 900_000 }));
  runs.forEach((r, i) => {
    l.runs.push({ run: i + 1, epoch: r.epoch, startedAtMs: 0, sizes: {}, frameRate: 25, plan: null });
    let at = r.srcMs;
    r.durations.forEach((d, seq) => {
      l.slots.push({ msn: l.slots.length, run: i + 1, seq, pdtMs: t0 + (r.wallMs ?? r.srcMs) + at - r.srcMs + skewMs, discontinuity: seq === 0 && l.slots.length > 0, parts: names.map(() => ({ durationS: d, bytes: 1000 })), srcMs: at });
      at += Math.round(d * 1000);
    });
  });
  return l;
}
const twos = (n: number): number[] => Array(n).fill(2);
const withoutSource = (l: LiveLedger): LiveLedger => ({ ...l, slots: l.slots.map(({ srcMs, ...s }): LiveSlot => s) });

describe('the freeze aligned on the publisher\'s timeline', () => {
  // the capture: 2 s slots from source time 10 s; the transcoder started 4 s later and its last slot ends at 34 s, which captured slot 12 starts
  const captured = timedLedger(['source'], [{ epoch: 1, srcMs: 10_000, durations: twos(30) }]);
  const rungsTo34s = (skewMs: number) => timedLedger(['360p', 'audio'], [{ epoch: 1, srcMs: 14_000, durations: twos(10) }], skewMs);

  it('when the transcoder\'s clock runs 3 s ahead of the capture\'s, then the captured slot that starts where the rungs end continues them (the clocks skip 2 s)', () => {
    const transcoded = rungsTo34s(3000);
    expect(freezeLadder(transcoded, captured, 0)).toEqual({
      generation: 0, rungs: ['360p', 'audio'], lastMsn: 9, discontinuities: 0, endPdtMs: t0 + 37_000, fromSourceMsn: 12, alignedOn: 'source', seamMs: 0, targetDurationS: 2,
    });
    // what the wall clocks alone choose: slot 13, 2 s after the rungs' end
    expect(freezeLadder(withoutSource(transcoded), captured, 0)).toMatchObject({ fromSourceMsn: 13, alignedOn: 'clock', seamMs: null });
  });

  it('when the transcoder\'s clock runs 1.5 s behind, then the same slot continues them (the clocks replay 2 s)', () => {
    expect(freezeLadder(rungsTo34s(-1500), captured, 0)).toMatchObject({ fromSourceMsn: 12, alignedOn: 'source', seamMs: 0 });
    expect(freezeLadder(rungsTo34s(-1500), withoutSource(captured), 0)).toMatchObject({ fromSourceMsn: 11, alignedOn: 'clock' });
  });

  it('when the captured slot starts a frame before the rungs\' end, then it still continues them; a third of a second before, the next one does', () => {
    // the rungs end at 34.033 s: slot 12 (34 s) overlaps them by a frame
    const aFrameLate = timedLedger(['360p'], [{ epoch: 1, srcMs: 14_033, durations: twos(10) }], 5000);
    expect(freezeLadder(aFrameLate, captured, 0)).toMatchObject({ fromSourceMsn: 12, alignedOn: 'source', seamMs: -33 });
    // the capture cut at the publisher's keyframes (2.1 s slots): slot 11 starts at 33.1 s, 0.3 s before the rungs end at 33.4 s
    const cut = timedLedger(['source'], [{ epoch: 1, srcMs: 10_000, durations: Array(30).fill(2.1) }]);
    const rungs = timedLedger(['360p'], [{ epoch: 1, srcMs: 13_400, durations: twos(10) }], -2000);
    expect(freezeLadder(rungs, cut, 0)).toMatchObject({ fromSourceMsn: 12, alignedOn: 'source', seamMs: 1800 });
  });

  it('when the publisher reconnected (a new timeline from 0), then only the rungs\' epoch is compared, not the earlier one\'s larger numbers', () => {
    const cap = timedLedger(['source'], [{ epoch: 1, srcMs: 10_000, durations: twos(10) }, { epoch: 2, srcMs: 0, durations: twos(15), wallMs: 32_000 }]);
    const transcoded = timedLedger(['360p'], [{ epoch: 1, srcMs: 14_000, durations: twos(8) }, { epoch: 2, srcMs: 2000, durations: twos(3), wallMs: 34_000 }], 900);
    // the rungs end at 8 s of epoch 2: its fifth captured slot (msn 14)
    expect(freezeLadder(transcoded, cap, 0)).toMatchObject({ lastMsn: 10, discontinuities: 1, fromSourceMsn: 14, alignedOn: 'source', seamMs: 0 });
  });

  it('when the capture restarted within the epoch (the ingest resent seconds it had), then the first slot in order that starts at the rungs\' end continues them', () => {
    // run 2 starts 8 s back on the timeline: slots 10-19 cover 22-42 s
    const cap = timedLedger(['source'], [{ epoch: 1, srcMs: 10_000, durations: twos(10) }, { epoch: 1, srcMs: 22_000, durations: twos(10) }]);
    expect(freezeLadder(rungsTo34s(0), cap, 0)).toMatchObject({ fromSourceMsn: 16, alignedOn: 'source', seamMs: 0 });
  });

  it('when the capture\'s epoch ended before the rungs\' end, then the next epoch\'s first slot continues them; before the capture got there, no freeze yet', () => {
    const cap = timedLedger(['source'], [{ epoch: 1, srcMs: 10_000, durations: twos(11) }, { epoch: 2, srcMs: 0, durations: twos(5), wallMs: 34_000 }]);
    expect(freezeLadder(rungsTo34s(0), cap, 0)).toMatchObject({ fromSourceMsn: 11, alignedOn: 'source', seamMs: null });
    expect(freezeLadder(rungsTo34s(0), { ...cap, slots: cap.slots.slice(0, 11) }, 0)).toBeNull();
    expect(freezeLadder(rungsTo34s(0), { ...captured, slots: captured.slots.slice(0, 12) }, 0)).toBeNull();
  });
});
