import { describe, expect, it } from 'vitest';
import { liveLadder } from '../../config/ladder.ts';
import { buildLiveLadderArgs, liveLadderSpec, planLiveRun, planSoundOnlyRun } from '../../src/media/live-args.ts';
import type { SegmentFacts } from '../../src/media/hls-vod-input.ts';
import { appendSlot, mergeCodecs, newLedger, nextSlot, type LiveLedger } from '../../src/media/live-ledger.ts';
import { liveSegmentFile, writeLiveMaster } from '../../src/media/live-playlists.ts';
import { validateLiveRecording } from '../../src/media/live-recording-check.ts';
import type { MediaInfo } from '../../src/media/media-info.ts';
import { withPassthrough } from '../../src/media/passthrough.ts';
import { soundOnlyFromCapture } from '../../src/pipeline/live-capture-recording.ts';

/**
 * What real encoders send (issue 11 item 5) and how a live run plans for it: a publisher without
 * sound, one that comes back with different tracks, and the master's CODECS across such runs.
 */

/** A probed 640x360 25 fps live source, with or without AAC sound. */
function source(sound: boolean): MediaInfo {
  return {
    formatName: 'flv', formatStartS: 0, formatLongName: null, sizeBytes: 1000, bitRate: null,
    video: {
      index: 0, codec: 'h264', profile: 'High', width: 640, height: 360, sar: { num: 1, den: 1 }, dar: null, rotation: 0, displayMatrix: null,
      displayWidth: 640, displayHeight: 360, pixFmt: 'yuv420p', bitDepth: 8, fieldOrder: 'progressive', interlaced: false,
      rFrameRate: { num: 25, den: 1 }, avgFrameRate: { num: 25, den: 1 }, vfr: false, colorTransfer: null, colorPrimaries: null, colorSpace: null,
      hdr: null, startS: 0, durationS: 0.5, frames: 12, bitRate: null,
    },
    audio: sound ? { index: 1, codec: 'aac', profile: 'LC', channels: 2, channelLayout: 'stereo', sampleRate: 44100, startS: 0, durationS: 0.5, bitRate: null } : null,
    streamCounts: { video: 1, audio: sound ? 1 : 0, other: 0 },
    durationS: 0.5, videoEndS: 0.5, audioEndS: sound ? 0.5 : null,
  };
}

const ladder = liveLadderSpec(['360p'], liveLadder);
const names = (p: ReturnType<typeof planLiveRun>) => p.renditions.map((r) => r.name);

describe('a live run without sound', () => {
  it('when the session\'s first publisher sends no sound, then the ladder is video-only: no audio-only rendition, no audio track, no silence', () => {
    const plan = planLiveRun(source(false), ladder, []);
    expect(names(plan)).toEqual(['360p', '240p']);
    expect(plan.soundless).toBe(true);
    const args = buildLiveLadderArgs({ input: 'rtmp://h/live/x', rwTimeoutS: 5, outDir: '/w/run-1', plan, preset: 'veryfast', localListSize: 30 });
    const graph = args[args.indexOf('-filter_complex') + 1];
    expect(graph).toBe('[0:v:0]fps=fps=25,split=2[s0][s1];[s0]scale=640:360:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v0];[s1]scale=426:240:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v1]');
    expect(args.filter((a) => a === '-map')).toHaveLength(2);
    expect(args.filter((a) => a.startsWith('[a'))).toEqual([]);
    for (const flag of ['-c:a', '-b:a', '-ar', '-shortest']) expect(args).not.toContain(flag);
    expect(args.filter((a) => a.endsWith('index.m3u8'))).toEqual(['/w/run-1/360p/index.m3u8', '/w/run-1/240p/index.m3u8']);
  });

  it('when the video-only source is passed through, then the copy carries no sound either', () => {
    const plan = withPassthrough(planLiveRun(source(false), ladder, []), { copied: '360p', refused: [], keyframePeriodS: 2, videoKbps: 650 }, { width: 640, height: 360 });
    const args = buildLiveLadderArgs({ input: 'rtmp://h/live/x', rwTimeoutS: 5, outDir: '/w/run-1', plan, preset: 'veryfast', localListSize: 30 });
    expect(args.slice(args.indexOf('-filter_complex') + 2, args.indexOf('-c:v') + 2)).toEqual(['-map', '0:v:0', '-c:v', 'copy']);
    expect(args.filter((a) => a.startsWith('[a'))).toEqual([]);
    expect(args).not.toContain('-c:a');
  });

  it('when the publisher of a video-only session comes back with sound, then the same renditions carry it (no audio-only rendition appears mid-session)', () => {
    const plan = planLiveRun(source(true), ladder, ['360p', '240p']);
    expect(names(plan)).toEqual(['360p', '240p']);
    expect(plan.soundless).toBeUndefined();
    const args = buildLiveLadderArgs({ input: 'rtmp://h/live/x', rwTimeoutS: 5, outDir: '/w/run-2', plan, preset: 'veryfast', localListSize: 30 });
    expect(args[args.indexOf('-filter_complex') + 1]).toContain('[0:a:0]aresample=48000:async=1:first_pts=0,aformat=sample_fmts=fltp:channel_layouts=stereo,asplit=2[a0][a1]');
  });

  it('when the publisher of a session with sound comes back without it, then every rendition stays and gets silence', () => {
    const plan = planLiveRun(source(false), ladder, ['360p', '240p', 'audio']);
    expect(names(plan)).toEqual(['360p', '240p', 'audio']);
    expect(plan.soundless).toBeUndefined();
    const args = buildLiveLadderArgs({ input: 'rtmp://h/live/x', rwTimeoutS: 5, outDir: '/w/run-3', plan, preset: 'veryfast', localListSize: 30 });
    expect(args[args.indexOf('-filter_complex') + 1]).toContain('anullsrc=channel_layout=stereo:sample_rate=48000,asplit=3[a0][a1][a2]');
    expect(args.filter((a) => a === '-shortest')).toHaveLength(3);
  });

  it('when the first publisher sends sound (44.1 kHz), then the usual ladder with the audio-only rendition, resampled to 48 kHz', () => {
    const plan = planLiveRun(source(true), ladder, []);
    expect(names(plan)).toEqual(['360p', '240p', 'audio']);
    const args = buildLiveLadderArgs({ input: 'rtmp://h/live/x', rwTimeoutS: 5, outDir: '/w/run-1', plan, preset: 'veryfast', localListSize: 30 });
    expect(args.filter((a, i) => args[i - 1] === '-ar')).toEqual(['48000', '48000', '48000']);
  });
});

describe('the CODECS of a rendition across runs', () => {
  it('when a later run brings a codec (or profile and level) the rendition did not have, then it is added; the same one is not repeated', () => {
    expect(mergeCodecs(null, ['avc1.64001e', undefined])).toBe('avc1.64001e');
    expect(mergeCodecs('avc1.64001e', ['avc1.64001f', 'mp4a.40.2'])).toBe('avc1.64001e,avc1.64001f,mp4a.40.2');
    expect(mergeCodecs('avc1.64001f,mp4a.40.2', ['avc1.64001f', 'mp4a.40.2'])).toBe('avc1.64001f,mp4a.40.2');
    expect(mergeCodecs('avc1.64001e,mp4a.40.2', [undefined, 'mp4a.40.2'])).toBe('avc1.64001e,mp4a.40.2');
    expect(mergeCodecs(null, [null, undefined])).toBeNull();
  });
});

/** A recording of 5 slots of a video-only ladder (360p + 240p), its codecs as given. */
function videoOnlyRecording(codecs: [string, string]): { ledger: LiveLedger; facts: Record<string, SegmentFacts[]> } {
  const ledger = newLedger({ sessionId: 's', lessonId: 'l', segmentSeconds: 2 });
  const sizes = { '360p': { width: 320, height: 240 }, '240p': { width: 214, height: 160 } };
  ledger.renditions = [{ name: '360p', kind: 'video', codecs: codecs[0], capBps: 900_000 }, { name: '240p', kind: 'video', codecs: codecs[1], capBps: 400_000 }];
  ledger.runs.push({ run: 1, epoch: 1, startedAtMs: 0, sizes, frameRate: 25, plan: null });
  for (let seq = 0; seq < 5; seq++) {
    appendSlot(ledger, nextSlot(ledger, { run: 1, seq, parts: [{ durationS: 2, bytes: 90_000 }, { durationS: 2, bytes: 50_000 }], runStartPdtMs: 1e12, runElapsedS: seq * 2, gap: false }));
  }
  const facts = Object.fromEntries(ledger.renditions.map((r) => [`${r.name}/index.m3u8`, ledger.slots.map((s): SegmentFacts => {
    const start = 1.4 + s.seq * 2;
    const size = sizes[r.name as '360p' | '240p'];
    return {
      uri: liveSegmentFile(s.run, s.seq), size: s.parts[r.name === '360p' ? 0 : 1].bytes, container: 'ts', startS: start, durationS: 2, hasVideo: true, hasAudio: r.codecs!.includes('mp4a'),
      startsWithIdr: true, keyframesS: [start], hasPat: true, hasPmt: true, packetsOk: true, videoCodecs: r.codecs!.split(',')[0], audioCodecs: r.codecs!.split(',')[1] ?? null,
      width: size.width, height: size.height, frameDurationS: 0.04, audioFrameS: null,
    };
  })]));
  return { ledger, facts };
}

describe('the recording check of a session without sound', () => {
  it('when no rendition carries sound, then the missing variant under 192 kb/s (it would carry silence) is a warning, everything else is checked', () => {
    const { ledger, facts } = videoOnlyRecording(['avc1.64000d', 'avc1.64000c']);
    const r = validateLiveRecording(ledger, writeLiveMaster(ledger, { phase: 'recording' }), facts);
    expect(r.violations).toEqual([]);
    expect(r.warnings.map((w) => w.rule)).toEqual(['master.cellular']);
    // a segment that does not start with a keyframe still fails it
    facts['240p/index.m3u8'][2].startsWithIdr = false;
    expect(validateLiveRecording(ledger, writeLiveMaster(ledger, { phase: 'recording' }), facts).violations.map((v) => v.rule)).toContain('segment.idr');
  });

  it('when the renditions carry sound but there is no variant under 192 kb/s, then it stays a failure', () => {
    const { ledger, facts } = videoOnlyRecording(['avc1.64000d,mp4a.40.2', 'avc1.64000c,mp4a.40.2']);
    const r = validateLiveRecording(ledger, writeLiveMaster(ledger, { phase: 'recording' }), facts);
    expect(r.violations.map((v) => v.rule)).toEqual(['master.cellular']);
  });
});

describe('a live lesson of sound alone', () => {
  /** A recording of 5 slots of the audio-only rendition (AAC in TS), as the transcoder makes it. */
  function soundOnlyRecording(): { ledger: LiveLedger; facts: Record<string, SegmentFacts[]> } {
    const ledger = newLedger({ sessionId: 's', lessonId: 'l', segmentSeconds: 2 });
    ledger.renditions = [{ name: 'audio', kind: 'audio', codecs: 'mp4a.40.2', capBps: 80_000 }];
    ledger.runs.push({ run: 1, epoch: 1, startedAtMs: 0, sizes: {}, frameRate: 25, plan: null });
    for (let seq = 0; seq < 5; seq++) {
      appendSlot(ledger, nextSlot(ledger, { run: 1, seq, parts: [{ durationS: seq === 4 ? 1.984 : 2.005333, bytes: 17_000 }], runStartPdtMs: 1e12, runElapsedS: seq * 2.005333, gap: false }));
    }
    let at = 1.4;
    const facts = { 'audio/index.m3u8': ledger.slots.map((s): SegmentFacts => {
      const f: SegmentFacts = {
        uri: liveSegmentFile(s.run, s.seq), size: s.parts[0].bytes, container: 'ts', startS: at, durationS: s.parts[0].durationS, hasVideo: false, hasAudio: true,
        startsWithIdr: null, keyframesS: [], hasPat: true, hasPmt: true, packetsOk: true, videoCodecs: null, audioCodecs: 'mp4a.40.2',
        width: null, height: null, frameDurationS: null, audioFrameS: 1024 / 48000,
      };
      at += s.parts[0].durationS;
      return f;
    }) };
    return { ledger, facts };
  }

  it('when the source has sound and no picture, then the run plans the audio-only rendition alone; not when the session already has pictures', () => {
    const sound = source(true).audio!;
    const plan = planSoundOnlyRun(sound, ladder, [])!;
    expect(names(plan)).toEqual(['audio']);
    const args = buildLiveLadderArgs({ input: 'rtmp://h/live/x', rwTimeoutS: 5, outDir: '/w/run-1', plan, preset: 'veryfast', localListSize: 30 });
    expect(args[args.indexOf('-filter_complex') + 1]).toBe('[0:a:0]aresample=48000:async=1:first_pts=0,aformat=sample_fmts=fltp:channel_layouts=stereo,asplit=1[a0]');
    expect(args).not.toContain('-c:v');
    expect(args.at(-1)).toBe('/w/run-1/audio/index.m3u8');
    expect(planSoundOnlyRun(sound, ladder, ['audio'])).not.toBeNull();
    expect(planSoundOnlyRun(sound, ladder, ['360p', '240p', 'audio'])).toBeNull();
  });

  it('when the recording has sound alone, then the master lists the audio variant (CODECS mp4a) and the picture rules do not apply', () => {
    const { ledger, facts } = soundOnlyRecording();
    const master = writeLiveMaster(ledger, { phase: 'recording' });
    expect(master).toMatch(/#EXT-X-STREAM-INF:BANDWIDTH=\d+,AVERAGE-BANDWIDTH=\d+,CODECS="mp4a\.40\.2"\naudio\/index\.m3u8/);
    const r = validateLiveRecording(ledger, master, facts);
    expect(r.violations).toEqual([]);
    expect(r.warnings.map((w) => w.rule)).toEqual(['master.video-bitrates']);
  });

  it('when the transcoder missed part of a lesson of sound alone, then the capture, as an audio rendition, is the recording', () => {
    const transcoded = soundOnlyRecording().ledger;
    const captured = (n: number, codecs: string): LiveLedger => {
      const l = newLedger({ sessionId: 's', lessonId: 'l', segmentSeconds: 2 });
      l.renditions = [{ name: 'source', kind: 'video', codecs, capBps: 0 }];
      l.runs.push({ run: 1, epoch: 1, startedAtMs: 0, sizes: {}, frameRate: null, plan: null });
      for (let seq = 0; seq < n; seq++) appendSlot(l, nextSlot(l, { run: 1, seq, parts: [{ durationS: 2, bytes: 30_000 }], runStartPdtMs: 1e12, runElapsedS: seq * 2, gap: false }));
      return l;
    };
    const rec = soundOnlyFromCapture(transcoded, captured(6, 'mp4a.40.2'));
    expect(rec?.renditions).toEqual([{ name: 'source', kind: 'audio', codecs: 'mp4a.40.2', capBps: 0 }]);
    expect(rec?.slots).toHaveLength(6);
    // the transcoder has it all: its own; a capture with picture: the usual ways
    expect(soundOnlyFromCapture(transcoded, captured(5, 'mp4a.40.2'))).toBeNull();
    expect(soundOnlyFromCapture(transcoded, captured(7, 'avc1.64001e,mp4a.40.2'))).toBeNull();
    expect(soundOnlyFromCapture(videoOnlyRecording(['avc1.64000d', 'avc1.64000c']).ledger, captured(9, 'mp4a.40.2'))).toBeNull();
  });
});
