import { describe, expect, it } from 'vitest';
import { formatProgramDateTime } from '../../src/media/hls-playlists.ts';
import {
  appendSlot,
  ledgerFrom,
  ledgerHead,
  ledgerHeadSchema,
  ledgerPage,
  ledgerPageSchema,
  ledgerPageSlots,
  newLedger,
  nextSlot,
  sealedPageCount,
  stretches,
  type LiveLedger,
  type LiveSlot,
} from '../../src/media/live-ledger.ts';
import {
  capBandwidth,
  liveSegmentFile,
  livePlaylistReady,
  liveWindowStart,
  readFfmpegLivePlaylist,
  readySlots,
  writeLiveMaster,
  writeLiveMediaPlaylist,
  writeRecordingPlaylist,
  writeSubstitutePlaylist,
  type LadderFreeze,
} from '../../src/media/live-playlists.ts';

const t0 = Date.UTC(2026, 2, 2, 8, 0, 0, 0);

/** A ledger with two renditions (video, audio-only) and the given runs of slot durations. */
function ledgerWith(runs: number[][], start = t0): LiveLedger {
  const l = newLedger({ sessionId: 's1', lessonId: 'l1', segmentSeconds: 2 });
  l.renditions = [
    { name: '360p', kind: 'video', codecs: 'avc1.64001e,mp4a.40.2', capBps: 910_000 },
    { name: 'audio', kind: 'audio', codecs: 'mp4a.40.2', capBps: 80_000 },
  ];
  let runStart = start;
  runs.forEach((durations, r) => {
    l.runs.push({ run: r + 1, epoch: r + 1, startedAtMs: runStart, sizes: { '360p': { width: 640, height: 360 } }, frameRate: 25, plan: null });
    let elapsed = 0;
    durations.forEach((d, seq) => {
      appendSlot(l, nextSlot(l, { run: r + 1, seq, parts: [{ durationS: d, bytes: 200_000 + seq * 1000 }, { durationS: d + 0.005333, bytes: 20_000 }], runStartPdtMs: runStart, runElapsedS: elapsed, gap: false }));
      elapsed += d;
    });
    runStart += Math.round(elapsed * 1000) + 3000;
  });
  return l;
}

describe('live slots and the ledger', () => {
  it('when a run continues, then PROGRAM-DATE-TIME follows the media time and only a new run opens a discontinuity', () => {
    const l = ledgerWith([[2, 2, 2], [2, 1.2]]);
    expect(l.slots.map((s) => [s.msn, s.run, s.seq, s.pdtMs - t0, s.discontinuity])).toEqual([
      [0, 1, 0, 0, false],
      [1, 1, 1, 2000, false],
      [2, 1, 2, 4000, false],
      [3, 2, 0, 9000, true],
      [4, 2, 1, 11000, false],
    ]);
  });

  it('when the new run\'s clock is behind the previous slot\'s end (another worker), then time never runs backwards', () => {
    const l = ledgerWith([[2, 2]]);
    const s = nextSlot(l, { run: 2, seq: 0, parts: [{ durationS: 2, bytes: 1 }, { durationS: 2, bytes: 1 }], runStartPdtMs: t0 + 1000, runElapsedS: 0, gap: false });
    expect(s.pdtMs).toBe(t0 + 4000);
    expect(s.discontinuity).toBe(true);
  });

  it('when segments were lost inside a run, then the next slot carries a discontinuity', () => {
    const l = ledgerWith([[2, 2]]);
    const s = nextSlot(l, { run: 1, seq: 5, parts: [{ durationS: 2, bytes: 1 }, { durationS: 2, bytes: 1 }], runStartPdtMs: t0, runElapsedS: 4, gap: true });
    expect(s).toMatchObject({ msn: 2, discontinuity: true, pdtMs: t0 + 4000 });
  });

  it('when a segment outgrows the target duration, then the target is raised and says so', () => {
    const l = ledgerWith([[2]]);
    expect(appendSlot(l, nextSlot(l, { run: 1, seq: 1, parts: [{ durationS: 2.4, bytes: 1 }, { durationS: 2.4, bytes: 1 }], runStartPdtMs: t0, runElapsedS: 2, gap: false }))).toEqual({ raisedTarget: false });
    expect(appendSlot(l, nextSlot(l, { run: 1, seq: 2, parts: [{ durationS: 2.6, bytes: 1 }, { durationS: 2.6, bytes: 1 }], runStartPdtMs: t0, runElapsedS: 4.4, gap: false }))).toEqual({ raisedTarget: true });
    expect(l.targetDurationS).toBe(3);
  });

  it('when stored, then full pages are sealed apart from a small head and the ledger reads back identical', () => {
    const l = ledgerWith([Array.from({ length: ledgerPageSlots + 10 }, () => 2), [2, 2]]);
    // source times (on a sealed page and in the head) are kept; slots without one stay without
    l.slots[3].srcMs = 6021;
    l.slots[ledgerPageSlots + 11].srcMs = 0;
    expect(sealedPageCount(l)).toBe(1);
    const head = ledgerHeadSchema.parse(JSON.parse(JSON.stringify(ledgerHead(l))));
    expect(head.tail).toHaveLength(12);
    const page = ledgerPageSchema.parse(JSON.parse(JSON.stringify(ledgerPage(l, 0))));
    expect(ledgerFrom(head, [page])).toEqual(l);
    expect(() => ledgerFrom(head, [])).toThrow(/names 1 pages/);
    expect(() => ledgerPage(l, 1)).toThrow(/not full/);
  });

  it('when split at discontinuities, then each stretch is one continuous run', () => {
    expect(stretches(ledgerWith([[2, 2], [2], [2, 2]]).slots).map((s) => s.map((x) => x.msn))).toEqual([[0, 1], [2], [3, 4]]);
  });
});

describe('live media playlists', () => {
  it('when a segment is named, then its run is in the name', () => {
    expect(liveSegmentFile(3, 12)).toBe('r0003-00012.ts');
    expect(liveSegmentFile(12345, 123456)).toBe('r12345-123456.ts');
    expect(formatProgramDateTime(t0 + 7)).toBe('2026-03-02T08:00:00.007Z');
  });

  it('when fewer than three target durations exist, then no playlist is published yet', () => {
    expect(livePlaylistReady(ledgerWith([[2, 2]]).slots, 2)).toBe(false);
    expect(livePlaylistReady(ledgerWith([[2, 2, 2]]).slots, 2)).toBe(true);
  });

  it('when the lesson has more segments than the window, then viewers get the last six with media and discontinuity sequences and PDT on every segment', () => {
    const l = ledgerWith([[2, 2, 2], [2, 2, 2, 2, 2]]);
    expect(writeLiveMediaPlaylist(l.slots, 0, { windowSegments: 6, targetDurationS: 2 })).toBe(`#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:2
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:04.000Z
#EXTINF:2.000000,
r0001-00002.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:09.000Z
#EXTINF:2.000000,
r0002-00000.ts
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:11.000Z
#EXTINF:2.000000,
r0002-00001.ts
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:13.000Z
#EXTINF:2.000000,
r0002-00002.ts
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:15.000Z
#EXTINF:2.000000,
r0002-00003.ts
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:17.000Z
#EXTINF:2.000000,
r0002-00004.ts
`);
  });

  it('when the discontinuity has left the window, then the discontinuity sequence counts it; at the window start it keeps its tag', () => {
    const l = ledgerWith([[2, 2, 2], [2, 2, 2, 2, 2, 2, 2]]);
    const atStart = writeLiveMediaPlaylist(l.slots.slice(0, 9), 1, { windowSegments: 6, targetDurationS: 2 });
    expect(atStart).toContain('#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:09.000Z\n#EXTINF:2.005333,\nr0002-00000.ts\n');
    const gone = writeLiveMediaPlaylist(l.slots, 1, { windowSegments: 6, targetDurationS: 2 });
    expect(gone).toContain('#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:11.000Z\n');
    expect(gone).not.toContain('DISCONTINUITY\n');
  });

  it('when the last segments are short (flapping publisher), then the window reaches back to three target durations', () => {
    const l = ledgerWith([[2, 2, 2, 2], [0.5], [0.5], [0.5, 0.5, 0.5, 0.5]]);
    const start = liveWindowStart(l.slots, 6, 2);
    expect(start).toBe(2);
    expect(l.slots.slice(start).reduce((a, s) => a + s.parts[0].durationS, 0)).toBeGreaterThanOrEqual(6);
  });

  it('when the session ends, then the recording lists every segment as VOD with the discontinuities kept', () => {
    const l = ledgerWith([[2, 2], [2, 1.36]]);
    expect(writeRecordingPlaylist(l.slots, 0, { targetDurationS: 2 })).toBe(`#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:00.000Z
#EXTINF:2.000000,
r0001-00000.ts
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:02.000Z
#EXTINF:2.000000,
r0001-00001.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:07.000Z
#EXTINF:2.000000,
r0002-00000.ts
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:09.000Z
#EXTINF:1.360000,
r0002-00001.ts
#EXT-X-ENDLIST
`);
  });
});

describe('a frozen rung served from the captured source', () => {
  // the capture: slots at 0, 2, 4 s of its clock, a reconnect, then 9, 11 s; the rungs stopped at their msn 7
  const captured = ledgerWith([[2, 2, 2], [2, 2]]);
  const o = { sourceFolder: 'source', windowSegments: 6, targetDurationS: 2 };
  const freeze = (f: Partial<LadderFreeze>): LadderFreeze => ({ generation: 0, rungs: ['360p'], lastMsn: 7, discontinuities: 1, endPdtMs: t0 + 5000, fromSourceMsn: 1, targetDurationS: 2, ...f });
  const pdts = (text: string) => [...text.matchAll(/#EXT-X-PROGRAM-DATE-TIME:(.+)/g)].map((m) => Date.parse(m[1]) - t0);

  it('when the freeze was aligned on the source, then the capture\'s times are put on the rungs\' clock from their end (the transcoder\'s clock 3 s ahead)', () => {
    expect(writeSubstitutePlaylist(captured.slots, freeze({ alignedOn: 'source', seamMs: 0 }), o)).toBe(`#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:8
#EXT-X-DISCONTINUITY-SEQUENCE:1
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:05.000Z
#EXTINF:2.000000,
../source/r0001-00001.ts
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:07.000Z
#EXTINF:2.000000,
../source/r0001-00002.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:12.000Z
#EXTINF:2.000000,
../source/r0002-00000.ts
#EXT-X-PROGRAM-DATE-TIME:2026-03-02T08:00:14.000Z
#EXTINF:2.000000,
../source/r0002-00001.ts
`);
  });

  it('when the continuing slot starts after the rungs\' end, then its time is that much later; a frame before it, never earlier than their end', () => {
    expect(pdts(writeSubstitutePlaylist(captured.slots, freeze({ alignedOn: 'source', seamMs: 1800 }), o)!)).toEqual([6800, 8800, 13_800, 15_800]);
    expect(pdts(writeSubstitutePlaylist(captured.slots, freeze({ alignedOn: 'source', seamMs: -33 }), o)!)).toEqual([5000, 7000, 12_000, 14_000]);
  });

  it('when the freeze was aligned on the clocks (or recorded before alignment was), then the capture\'s own times are served', () => {
    expect(pdts(writeSubstitutePlaylist(captured.slots, freeze({ alignedOn: 'clock', seamMs: null }), o)!)).toEqual([2000, 4000, 9000, 11_000]);
    expect(pdts(writeSubstitutePlaylist(captured.slots, freeze({}), o)!)).toEqual([2000, 4000, 9000, 11_000]);
  });
});

describe('the live master playlist', () => {
  it('when live, then BANDWIDTH is the ladder cap until the encoder has shown more; for the recording it is measured', () => {
    const l = ledgerWith([[2, 2, 2]]);
    expect(writeLiveMaster(l, { phase: 'live' })).toBe(`#EXTM3U
#EXT-X-VERSION:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=910000,AVERAGE-BANDWIDTH=804000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=25.000
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=80000,AVERAGE-BANDWIDTH=79788,CODECS="mp4a.40.2"
audio/index.m3u8
`);
    expect(writeLiveMaster(l, { phase: 'recording' })).toContain('#EXT-X-STREAM-INF:BANDWIDTH=808000,AVERAGE-BANDWIDTH=804000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=25.000\n');
  });

  it('when a rendition has no codecs yet, then it is left out; caps include the transport overhead', () => {
    const l = ledgerWith([[2, 2, 2]]);
    l.renditions[1].codecs = null;
    expect(writeLiveMaster(l, { phase: 'live' })).not.toContain('audio/index.m3u8');
    expect(capBandwidth({ kind: 'video', maxrateKbps: 730, audioKbps: 96 })).toBe(908_600);
    expect(capBandwidth({ kind: 'audio', audioKbps: 64 })).toBe(80_000);
  });
});

const ffmpegList = (seq: number, durations: number[], end = false) => `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:${seq}
#EXT-X-INDEPENDENT-SEGMENTS
${durations.map((d, i) => `#EXTINF:${d.toFixed(6)},\nseg-${String(seq + i).padStart(5, '0')}.ts`).join('\n')}
${end ? '#EXT-X-ENDLIST\n' : ''}`;

describe('reading what ffmpeg writes', () => {
  it('when ffmpeg lists its segments, then sequence numbers, file names and durations are read', () => {
    expect(readFfmpegLivePlaylist(ffmpegList(1, [2, 1.56], true))).toEqual({
      mediaSequence: 1,
      endlist: true,
      segments: [
        { seq: 1, uri: 'seg-00001.ts', durationS: 2 },
        { seq: 2, uri: 'seg-00002.ts', durationS: 1.56 },
      ],
    });
    expect(readFfmpegLivePlaylist(ffmpegList(3, [2])).endlist).toBe(false);
  });

  it('when renditions finished different numbers of segments, then only positions all of them have are ready', () => {
    const r = readySlots([readFfmpegLivePlaylist(ffmpegList(0, [2, 2, 2])), readFfmpegLivePlaylist(ffmpegList(0, [2.005, 2.005]))], 1);
    expect(r).toEqual({ ready: [{ seq: 1, parts: [expect.objectContaining({ uri: 'seg-00001.ts', durationS: 2 }), expect.objectContaining({ uri: 'seg-00001.ts', durationS: 2.005 })] }], skipped: 0, nextSeq: 2 });
    expect(readySlots([readFfmpegLivePlaylist(ffmpegList(0, [2])), { mediaSequence: 0, endlist: false, segments: [] }], 0)).toEqual({ ready: [], skipped: 0, nextSeq: 0 });
  });

  it('when the uploader fell behind ffmpeg\'s local list, then the lost positions are skipped in every rendition', () => {
    const r = readySlots([readFfmpegLivePlaylist(ffmpegList(5, [2, 2])), readFfmpegLivePlaylist(ffmpegList(4, [2, 2, 2]))], 2);
    expect(r.skipped).toBe(3);
    expect(r.ready.map((x) => x.seq)).toEqual([5, 6]);
    expect(r.nextSeq).toBe(7);
  });

  it('when one rendition\'s list ran past the others\' (silence not paced by the input), then nothing is ready and nothing is read past a list', () => {
    const video = readFfmpegLivePlaylist(ffmpegList(0, [2, 2, 2]));
    const ahead = readFfmpegLivePlaylist(ffmpegList(40, Array(30).fill(2)));
    expect(readySlots([video, ahead], 1)).toEqual({ ready: [], skipped: 0, nextSeq: 1 });
    expect(readySlots([ahead, video], 0)).toEqual({ ready: [], skipped: 0, nextSeq: 0 });
    // the others reach the list again: the positions it no longer lists are skipped everywhere
    const caughtUp = readFfmpegLivePlaylist(ffmpegList(38, [2, 2, 2, 2]));
    expect(readySlots([caughtUp, ahead], 3)).toMatchObject({ skipped: 37, nextSeq: 42, ready: [{ seq: 40 }, { seq: 41 }] });
  });
});

export type { LiveSlot };
