import { describe, expect, it } from 'vitest';
import { liveLadder } from '../../config/ladder.ts';
import type { TranscodePlan } from '../../src/media/ffmpeg-args.ts';
import { validateVod } from '../../src/media/hls-validator.ts';
import type { SegmentFacts } from '../../src/media/hls-vod-input.ts';
import { buildConcatList, buildConcatRemuxArgs, buildLiveLadderArgs, buildLiveProbeArgs, liveLadderSpec, sessionRenditions } from '../../src/media/live-args.ts';
import { appendSlot, newLedger, nextSlot, type LiveLedger } from '../../src/media/live-ledger.ts';
import { liveSegmentFile, writeLiveMaster, writeRecordingPlaylist } from '../../src/media/live-playlists.ts';
import { validateLiveRecording } from '../../src/media/live-recording-check.ts';

describe('the live ladder from config', () => {
  it('when rungs are named, then only those video rungs remain (fallback and audio-only stay)', () => {
    const l = liveLadderSpec(['360p', ' 720p ']);
    expect(l.video.map((r) => r.name)).toEqual(['720p', '360p']);
    expect(l.fallback.name).toBe('240p');
    expect(l.audioOnly?.name).toBe('audio');
    expect(l.segmentSeconds).toBe(2);
    expect(() => liveLadderSpec(['1080p'])).toThrow(/unknown live rung\(s\) 1080p/);
    expect(() => liveLadderSpec([''])).toThrow(/at least one video rung/);
  });

  it('when a reconnect brings a smaller picture, then the session keeps its renditions, re-fitted and never upscaled', () => {
    const ladder = liveLadderSpec(['720p', '480p', '360p']);
    const first = sessionRenditions([
      { kind: 'video', name: '720p', width: 1280, height: 720, crf: 23, maxrateKbps: 3000, bufsizeKbps: 6000, audioKbps: 128 },
      { kind: 'audio', name: 'audio', audioKbps: 64 },
    ], [], ladder, { width: 1280, height: 720 });
    expect(first.map((r) => r.name)).toEqual(['720p', 'audio']);
    const later = sessionRenditions([
      { kind: 'video', name: '360p', width: 640, height: 360, crf: 24, maxrateKbps: 730, bufsizeKbps: 1460, audioKbps: 96 },
      { kind: 'video', name: '240p', width: 426, height: 240, crf: 25, maxrateKbps: 300, bufsizeKbps: 600, audioKbps: 64 },
      { kind: 'audio', name: 'audio', audioKbps: 64 },
    ], ['720p', '240p', 'audio'], ladder, { width: 640, height: 360 });
    expect(later).toEqual([
      { kind: 'video', name: '720p', width: 640, height: 360, crf: 23, maxrateKbps: 3000, bufsizeKbps: 6000, audioKbps: 128 },
      { kind: 'video', name: '240p', width: 426, height: 240, crf: 25, maxrateKbps: 300, bufsizeKbps: 600, audioKbps: 64 },
      { kind: 'audio', name: 'audio', audioKbps: 64 },
    ]);
  });
});

const plan: TranscodePlan = {
  renditions: [
    { kind: 'video', name: '360p', width: 640, height: 360, crf: 24, maxrateKbps: 730, bufsizeKbps: 1460, audioKbps: 96 },
    { kind: 'audio', name: 'audio', audioKbps: 64 },
  ],
  fps: { num: 25, den: 1 },
  gopSeconds: 2,
  gopFrames: 50,
  segmentSeconds: 2,
  durationS: null,
  video: { streamIndex: null, deinterlace: false, orient: [], hdr: null, padEndS: 0 },
  audio: { streamIndex: null, mono: false },
  audioSettings: liveLadder.audio,
};

describe('live ffmpeg argv', () => {
  it('when a run probes its source, then the first second is copied with a read timeout', () => {
    expect(buildLiveProbeArgs({ input: 'rtmp://h:1935/live/x?token=t', rwTimeoutS: 5, seconds: 1, output: '/w/probe.flv' })).toEqual([
      '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning', '-rw_timeout', '5000000', '-analyzeduration', '1000000', '-i', 'rtmp://h:1935/live/x?token=t',
      '-map', '0:v?', '-map', '0:a?', '-c', 'copy', '-t', '1', '-f', 'flv', '/w/probe.flv',
    ]);
  });

  it('when a run pulls the ladder, then one ffmpeg writes low-delay, keyframe-aligned 2 s local HLS per rendition', () => {
    const args = buildLiveLadderArgs({ input: 'rtmp://h:1935/live/x?token=t', rwTimeoutS: 5, outDir: '/w/run-3', plan, preset: 'veryfast', localListSize: 30 });
    expect(args.join(' ')).toBe([
      '-hide_banner -nostdin -y -loglevel level+info -progress pipe:1 -nostats -noautorotate -rw_timeout 5000000 -analyzeduration 1000000 -i rtmp://h:1935/live/x?token=t',
      '-filter_complex [0:v:0]fps=fps=25,split=1[s0];[s0]scale=640:360:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v0];[0:a:0]aresample=48000:async=1:first_pts=0,aformat=sample_fmts=fltp:channel_layouts=stereo,asplit=2[a0][a1]',
      '-map [v0] -map [a0] -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -crf 24 -maxrate 730k -bufsize 1460k -g 50 -keyint_min 50 -sc_threshold 0 -force_key_frames expr:gte(t,n_forced*2) -tune zerolatency',
      '-colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv -c:a aac -profile:a aac_low -b:a 96k -ar 48000 -ac 2 -map_metadata -1 -map_chapters -1 -max_muxing_queue_size 4096 -avoid_negative_ts disabled',
      '-f hls -hls_time 2 -hls_segment_type mpegts -hls_segment_options avoid_negative_ts=disabled -start_number 0 -hls_list_size 30 -hls_flags independent_segments+temp_file',
      '-hls_segment_filename /w/run-3/360p/seg-%05d.ts /w/run-3/360p/index.m3u8',
      '-map [a1] -c:a aac -profile:a aac_low -b:a 64k -ar 48000 -ac 2 -map_metadata -1 -map_chapters -1 -max_muxing_queue_size 4096 -avoid_negative_ts disabled',
      '-f hls -hls_time 2 -hls_segment_type mpegts -hls_segment_options avoid_negative_ts=disabled -start_number 0 -hls_list_size 30 -hls_flags independent_segments+temp_file',
      '-hls_segment_filename /w/run-3/audio/seg-%05d.ts /w/run-3/audio/index.m3u8',
    ].join(' '));
  });

  it('when the storyboard input is built, then the chosen segments play on one timeline for their interval each', () => {
    expect(buildConcatList([{ path: '/w/sb-0000.ts', durationS: 8 }, { path: "/w/it's.ts", durationS: 2.5 }])).toBe("ffconcat version 1.0\nfile '/w/sb-0000.ts'\nduration 8.000000\nfile '/w/it'\\''s.ts'\nduration 2.500000\n");
    expect(buildConcatRemuxArgs({ list: '/w/l.ffconcat', output: '/w/sb.ts' })).toEqual([
      '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning', '-f', 'concat', '-safe', '0', '-i', '/w/l.ffconcat', '-map', '0:v:0', '-c', 'copy', '-f', 'mpegts', '/w/sb.ts',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// The validator on a recording with a discontinuity, from synthetic segment facts.

/** Two renditions (video 25 fps + audio-only), runs of 2 s slots; each run's timestamps restart at 1.4 s. */
function recording(runs: number[]): LiveLedger {
  const l = newLedger({ sessionId: 's', lessonId: 'l', segmentSeconds: 2 });
  l.renditions = [
    { name: '360p', kind: 'video', codecs: 'avc1.64001e,mp4a.40.2', capBps: 900_000 },
    { name: '240p', kind: 'video', codecs: 'avc1.640015,mp4a.40.2', capBps: 400_000 },
    { name: 'audio', kind: 'audio', codecs: 'mp4a.40.2', capBps: 80_000 },
  ];
  runs.forEach((n, r) => {
    l.runs.push({ run: r + 1, epoch: r + 1, startedAtMs: 0, sizes: { '360p': { width: 640, height: 360 }, '240p': { width: 426, height: 240 } }, frameRate: 25, plan: null });
    for (let seq = 0; seq < n; seq++) {
      appendSlot(l, nextSlot(l, { run: r + 1, seq, parts: [{ durationS: 2, bytes: 200_000 }, { durationS: 2, bytes: 80_000 }, { durationS: 2, bytes: 18_000 }], runStartPdtMs: 1e12 + r * 60_000, runElapsedS: seq * 2, gap: false }));
    }
  });
  return l;
}

function facts(l: LiveLedger, shift: (msn: number, rendition: number) => number = () => 0): Record<string, SegmentFacts[]> {
  const out: Record<string, SegmentFacts[]> = {};
  l.renditions.forEach((r, ri) => {
    out[`${r.name}/index.m3u8`] = l.slots.map((s) => {
      const start = 1.4 + s.seq * 2 + shift(s.msn, ri);
      const video = r.kind === 'video';
      return {
        uri: liveSegmentFile(s.run, s.seq), size: s.parts[ri].bytes, container: 'ts', startS: start, durationS: 2, hasVideo: video, hasAudio: true,
        startsWithIdr: video ? true : null, keyframesS: video ? [start] : [], hasPat: true, hasPmt: true, packetsOk: true,
        videoCodecs: video ? r.codecs!.split(',')[0] : null, audioCodecs: 'mp4a.40.2', width: video ? (ri === 0 ? 640 : 426) : null, height: video ? (ri === 0 ? 360 : 240) : null,
        frameDurationS: video ? 0.04 : null, audioFrameS: 1024 / 48000,
      } satisfies SegmentFacts;
    });
  });
  return out;
}

describe('the recording check', () => {
  it('when timestamps restart at a discontinuity, then the timing rules are met per stretch and the recording passes', () => {
    const l = recording([4, 3]);
    const master = writeLiveMaster(l, { phase: 'recording' });
    const f = facts(l);
    expect(validateLiveRecording(l, master, f)).toEqual({ violations: [], warnings: [] });
    // the VOD validator alone would measure across the restart
    const media = Object.fromEntries(l.renditions.map((r, i) => [`${r.name}/index.m3u8`, writeRecordingPlaylist(l.slots, i, { targetDurationS: 2 })]));
    expect(validateVod({ master, media, segments: f }).map((v) => v.rule)).toContain('media.duration');
  });

  it('when a rendition drifts inside a stretch, then it is reported with the stretch', () => {
    const l = recording([4, 3]);
    const v = validateLiveRecording(l, writeLiveMaster(l, { phase: 'recording' }), facts(l, (msn, ri) => (ri === 1 && msn === 5 ? 0.3 : 0))).violations;
    expect(v.map((x) => x.rule)).toContain('segment.aligned');
    expect(v.find((x) => x.rule === 'segment.aligned')!.message).toMatch(/\(stretch 2, from segment 4\)$/);
  });

  it('when a still slide is followed by motion, then a peak above twice the average is a warning, not a failure', () => {
    const l = recording([6]);
    l.slots[5].parts[0].bytes = 2_000_000;
    const r = validateLiveRecording(l, writeLiveMaster(l, { phase: 'recording' }), facts(l));
    expect(r.violations).toEqual([]);
    expect(r.warnings.map((w) => w.rule)).toEqual(['bandwidth.peak-average']);
  });
});
