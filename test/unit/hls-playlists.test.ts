import { describe, expect, it } from 'vitest';
import { measureBandwidth, orderVariants, readMediaPlaylist, requiredVersion, targetDurationFor, writeMasterPlaylist, writeVodMediaPlaylist, type VariantEntry } from '../../src/media/hls-playlists.ts';
import { capForPeakRatio, nullPacket, peakToAverage, stuffingPlan } from '../../src/media/rate-guard.ts';

const ffmpegPlaylist = `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:7
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:6.006000,
seg-00000.ts
#EXTINF:6.006000,
seg-00001.ts
#EXTINF:1.401733,
seg-00002.ts
#EXT-X-ENDLIST
`;

describe('media playlists', () => {
  it('when ffmpeg wrote a playlist, then its segments are read by our reader', () => {
    expect(readMediaPlaylist(ffmpegPlaylist)).toEqual({
      version: 3,
      targetDurationS: 7,
      mediaSequence: 0,
      playlistType: 'VOD',
      endlist: true,
      mapUri: null,
      segments: [
        { uri: 'seg-00000.ts', durationS: 6.006 },
        { uri: 'seg-00001.ts', durationS: 6.006 },
        { uri: 'seg-00002.ts', durationS: 1.401733 },
      ],
    });
  });

  it('when rewritten for VOD, then it carries VOD, ENDLIST, exact durations and the smallest valid target', () => {
    const segs = readMediaPlaylist(ffmpegPlaylist).segments;
    expect(writeVodMediaPlaylist(segs)).toBe(`#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXTINF:6.006000,
seg-00000.ts
#EXTINF:6.006000,
seg-00001.ts
#EXTINF:1.401733,
seg-00002.ts
#EXT-X-ENDLIST
`);
  });

  it('when segments are fMP4, then EXT-X-MAP is written and the version is 6', () => {
    expect(writeVodMediaPlaylist([{ uri: 'seg-00000.m4s', durationS: 4 }], { mapUri: 'init.mp4' })).toBe(`#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.000000,
seg-00000.m4s
#EXT-X-ENDLIST
`);
  });

  it('when the target is computed, then every EXTINF rounds to at most it', () => {
    expect(targetDurationFor([6.006, 6.49, 2])).toBe(6);
    expect(targetDurationFor([6.5])).toBe(7);
    expect(targetDurationFor([0.2])).toBe(1);
    expect(requiredVersion({ decimalDurations: false, map: false })).toBe(1);
    expect(requiredVersion({ decimalDurations: true, map: false })).toBe(3);
    expect(requiredVersion({ decimalDurations: true, map: false, byterange: true })).toBe(4);
  });
});

describe('measureBandwidth', () => {
  it('when segments are measured, then the average is bits over seconds and the peak is the heaviest run of 0.5 to 1.5 targets', () => {
    const segs = [
      { durationS: 6, bytes: 750_000 }, // 1.0 Mb/s
      { durationS: 6, bytes: 1_500_000 }, // 2.0 Mb/s
      { durationS: 2, bytes: 750_000 }, // 3.0 Mb/s alone (too short to count), 2.25 Mb/s with the one before
    ];
    const m = measureBandwidth(segs, 6);
    expect(m.averageBps).toBeCloseTo((3_000_000 * 8) / 14, 6);
    expect(m.peakBps).toBeCloseTo(((1_500_000 + 750_000) * 8) / 8, 6);
  });
  it('when the whole presentation is shorter than half a target, then it is one run', () => {
    expect(measureBandwidth([{ durationS: 2, bytes: 100_000 }], 6)).toEqual({ peakBps: 400_000, averageBps: 400_000 });
  });
});

describe('master playlist', () => {
  const variants: VariantEntry[] = [
    { uri: '1080p/index.m3u8', bandwidth: 5_200_000.4, averageBandwidth: 3_100_000, codecs: 'avc1.640028,mp4a.40.2', resolution: { width: 1920, height: 1080 }, frameRate: 30 },
    { uri: '720p/index.m3u8', bandwidth: 2_600_000, averageBandwidth: 1_500_000, codecs: 'avc1.64001f,mp4a.40.2', resolution: { width: 1280, height: 720 }, frameRate: 30 },
    { uri: '480p/index.m3u8', bandwidth: 1_200_000, averageBandwidth: 800_000, codecs: 'avc1.64001f,mp4a.40.2', resolution: { width: 854, height: 480 }, frameRate: 30 },
    { uri: 'audio/index.m3u8', bandwidth: 71_000, averageBandwidth: 70_000, codecs: 'mp4a.40.2' },
    { uri: '360p/index.m3u8', bandwidth: 600_000, averageBandwidth: 450_000, codecs: 'avc1.64001e,mp4a.40.2', resolution: { width: 640, height: 360 }, frameRate: 30000 / 1001 },
  ];

  it('when ordered, then the video variant nearest 2 Mb/s leads, other videos follow from the top down, audio-only last', () => {
    expect(orderVariants(variants).map((v) => v.uri)).toEqual(['720p/index.m3u8', '1080p/index.m3u8', '480p/index.m3u8', '360p/index.m3u8', 'audio/index.m3u8']);
  });

  it('when written, then every variant has measured BANDWIDTH, AVERAGE-BANDWIDTH, CODECS, and video ones RESOLUTION and FRAME-RATE with 3 decimals', () => {
    expect(writeMasterPlaylist(orderVariants(variants), { version: 3, independentSegments: true })).toBe(`#EXTM3U
#EXT-X-VERSION:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=2600000,AVERAGE-BANDWIDTH=1500000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=5200001,AVERAGE-BANDWIDTH=3100000,CODECS="avc1.640028,mp4a.40.2",RESOLUTION=1920x1080,FRAME-RATE=30.000
1080p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1200000,AVERAGE-BANDWIDTH=800000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=854x480,FRAME-RATE=30.000
480p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=600000,AVERAGE-BANDWIDTH=450000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=29.970
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=71000,AVERAGE-BANDWIDTH=70000,CODECS="mp4a.40.2"
audio/index.m3u8
`);
  });
});

describe('rate guard', () => {
  const bursty = [
    ...Array.from({ length: 8 }, () => ({ durationS: 6, bytes: 75_000 })), // slides: 100 kb/s
    { durationS: 6, bytes: 2_250_000 }, // a video clip at 3 Mb/s
    { durationS: 6, bytes: 75_000 },
  ];

  it('when a rendition is steady, then nothing is needed', () => {
    const steady = Array.from({ length: 5 }, () => ({ durationS: 6, bytes: 500_000 }));
    expect(peakToAverage(steady, 6)).toBe(1);
    expect(capForPeakRatio(steady, 6, 1.9)).toBeNull();
    expect(stuffingPlan(steady, 6, 1.9)).toEqual([0, 0, 0, 0, 0]);
  });

  it('when slides are broken by a video clip, then the lower cap found brings the peak within the ratio', () => {
    expect(peakToAverage(bursty, 6)).toBeGreaterThan(2);
    const cap = capForPeakRatio(bursty, 6, 1.9)!;
    const clipped = bursty.map((s) => ({ durationS: s.durationS, bytes: Math.min(s.bytes, (cap * s.durationS) / 8) }));
    expect(peakToAverage(clipped, 6)).toBeLessThanOrEqual(1.9);
    expect(peakToAverage(clipped, 6)).toBeGreaterThan(1.85);
  });

  it('when padding is planned, then whole null packets lift the light segments just enough', () => {
    const plan = stuffingPlan(bursty, 6, 1.9);
    const padded = bursty.map((s, i) => ({ durationS: s.durationS, bytes: s.bytes + plan[i] * 188 }));
    expect(peakToAverage(padded, 6)).toBeLessThanOrEqual(1.9);
    expect(plan[8]).toBe(0);
    expect(plan[0]).toBeGreaterThan(0);
  });

  it('when a null packet is made, then it is 188 bytes on PID 0x1FFF', () => {
    const p = nullPacket();
    expect(p.length).toBe(188);
    expect([p[0], ((p[1] & 0x1f) << 8) | p[2]]).toEqual([0x47, 0x1fff]);
  });
});
