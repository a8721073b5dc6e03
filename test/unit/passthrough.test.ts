import { describe, expect, it } from 'vitest';
import { liveLadder } from '../../config/ladder.ts';
import type { TranscodePlan, VideoRendition } from '../../src/media/ffmpeg-args.ts';
import { buildLiveLadderArgs } from '../../src/media/live-args.ts';
import { ledgerHead, ledgerHeadSchema, newLedger } from '../../src/media/live-ledger.ts';
import { decidePassthrough, passthroughSource, scanVideoPackets, soundCopies, withPassthrough, type PassthroughLimits, type PassthroughSource } from '../../src/media/passthrough.ts';
import type { MediaInfo } from '../../src/media/media-info.ts';

const r720: VideoRendition = { kind: 'video', name: '720p', width: 1280, height: 720, crf: 23, maxrateKbps: 3000, bufsizeKbps: 6000, audioKbps: 128 };
const r360: VideoRendition = { kind: 'video', name: '360p', width: 640, height: 360, crf: 24, maxrateKbps: 730, bufsizeKbps: 1460, audioKbps: 96 };
const limits: PassthroughLimits = { top: r720, outputFps: { num: 30, den: 1 }, segmentSeconds: 2, enabled: true };

/** What OBS sends by default for a 720p30 lesson: x264 High 3.1, 2500 kb/s, keyframes every 2 s. */
const obs: PassthroughSource = {
  codec: 'h264', profile: 'High', level: 31, pixFmt: 'yuv420p', width: 1280, height: 720, squarePixels: true, rotation: 0, interlaced: false, hdr: false,
  fps: { num: 30, den: 1 }, vfr: false, videoKbps: 2500, keyframesS: [0, 2, 4], windowS: 4.2,
};
const decide = (over: Partial<PassthroughSource>, l: Partial<PassthroughLimits> = {}) => decidePassthrough({ ...obs, ...over }, { ...limits, ...l });

describe('passthrough decision', () => {
  it('when the source is H.264 within the top rung with regular 2 s keyframes, then the top rung is copied', () => {
    expect(decide({})).toEqual({ copied: '720p', refused: [], keyframePeriodS: 2, videoKbps: 2500 });
  });

  it('when the profile is one every HLS client decodes, then it is copied; 10-bit, 4:2:2 or 4:4:4 profiles are encoded', () => {
    for (const profile of ['Constrained Baseline', 'Baseline', 'Main', 'High']) expect(decide({ profile }).copied).toBe('720p');
    for (const profile of ['High 10', 'High 4:2:2', 'High 4:4:4 Predictive', 'Extended', null]) expect(decide({ profile }).refused).toEqual(['profile']);
    expect(decide({ profile: 'High 10', pixFmt: 'yuv420p10le' }).refused).toEqual(['profile', 'pixel_format']);
    expect(decide({ pixFmt: 'yuvj420p' }).refused).toEqual(['pixel_format']);
  });

  it('when the level is above 4.2 or unknown, then the top rung is encoded', () => {
    expect(decide({ level: 42 }).copied).toBe('720p');
    expect(decide({ level: 50 }).refused).toEqual(['level']);
    expect(decide({ level: null }).refused).toEqual(['level']);
  });

  it('when the source is HEVC, larger than the rung, or 60 fps, then every reason is given and nothing is copied', () => {
    expect(decide({ codec: 'hevc', profile: 'Main' }).refused).toEqual(['codec']);
    expect(decide({ width: 1920, height: 1080, videoKbps: 2900 }).refused).toEqual(['too_large']);
    expect(decide({ codec: 'hevc', profile: 'Main', level: 123, width: 1920, height: 1080, fps: { num: 60, den: 1 }, videoKbps: 8000, keyframesS: [0, 2, 4] })).toEqual({
      copied: null, refused: ['codec', 'level', 'too_large', 'frame_rate', 'bitrate'], keyframePeriodS: null, videoKbps: 8000,
    });
  });

  it('when the source is smaller than the top rung of the ladder, then the rung the plan tops out at is the one copied', () => {
    expect(decide({ width: 640, height: 360, videoKbps: 700 }, { top: r360 })).toEqual({ copied: '360p', refused: [], keyframePeriodS: 2, videoKbps: 700 });
    expect(decide({ width: 640, height: 360, videoKbps: 1200 }, { top: r360 }).refused).toEqual(['bitrate']);
    // an odd-sized picture is copied as it is (the plan rounded it to even sides)
    expect(decide({ width: 1279, height: 719 }, { top: { ...r720, width: 1278, height: 718 } }).copied).toBe('720p');
  });

  it('when the picture needs our filters (rotated, interlaced, HDR, anamorphic), then the top rung is encoded', () => {
    expect(decide({ rotation: 90 }).refused).toEqual(['rotated']);
    expect(decide({ interlaced: true }).refused).toEqual(['interlaced']);
    expect(decide({ hdr: true }).refused).toEqual(['hdr']);
    expect(decide({ squarePixels: false }).refused).toEqual(['pixels_not_square']);
  });

  it('when the frame rate differs from the planned output rate or varies, then the top rung is encoded', () => {
    expect(decide({ fps: { num: 25, den: 1 }, keyframesS: [0, 2, 4] }, { outputFps: { num: 25, den: 1 } }).copied).toBe('720p');
    expect(decide({ fps: { num: 60, den: 1 } }).refused).toEqual(['frame_rate']);
    expect(decide({ vfr: true }).refused).toEqual(['frame_rate']);
    expect(decide({ fps: null }).refused).toEqual(['frame_rate']);
  });

  it('when the bit rate is above the rung cap (10 % slack for the short capture) or unmeasured, then the top rung is encoded', () => {
    expect(decide({ videoKbps: 3300 }).copied).toBe('720p');
    expect(decide({ videoKbps: 3301 }).refused).toEqual(['bitrate']);
    expect(decide({ videoKbps: 4500 }).refused).toEqual(['bitrate']);
    expect(decide({ videoKbps: null }).refused).toEqual(['bitrate']);
  });

  it('when keyframes come every 6 s ("auto" in OBS), then the capture shows fewer than needed and the top rung is encoded', () => {
    // one keyframe, then 4.2 s without another
    expect(decide({ keyframesS: [0], windowS: 4.2 }).refused).toEqual(['keyframes_sparse']);
    expect(decide({ keyframesS: [], windowS: 4.2 }).refused).toEqual(['keyframes_sparse']);
    // 2 s apart so far but nothing for 2.3 s at the end
    expect(decide({ keyframesS: [0, 2, 4], windowS: 6.3 }).refused).toEqual(['keyframes_sparse']);
    expect(decide({ keyframesS: [0, 2.5], windowS: 4.2 }).refused).toEqual(['keyframes_sparse']);
  });

  it('when keyframes are irregular, too dense or too few to tell, then the top rung is encoded', () => {
    expect(decide({ keyframesS: [0, 1.9, 2.5, 4.1] }).refused).toEqual(['keyframes_irregular']);
    expect(decide({ keyframesS: [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4] }).refused).toEqual(['keyframes_dense']);
    expect(decide({ keyframesS: [0, 2], windowS: 2.2 }).refused).toEqual(['keyframes_unmeasured']);
  });

  it('when keyframes are 1 s apart or follow a 29.97 fps clock, then the period is a whole number of frames', () => {
    expect(decide({ keyframesS: [0, 1, 2, 3, 4] })).toMatchObject({ copied: '720p', keyframePeriodS: 1 });
    // millisecond timestamps of 60 frames at 30000/1001
    const ntsc = { num: 30000, den: 1001 };
    expect(decide({ fps: ntsc, keyframesS: [0, 2.002, 4.004] }, { outputFps: ntsc })).toMatchObject({ copied: '720p', keyframePeriodS: 2.002 });
    // timestamps truncated to the millisecond still give the exact period
    expect(decide({ keyframesS: [0, 1.999, 3.999] })).toMatchObject({ copied: '720p', keyframePeriodS: 2 });
  });

  it('when passthrough is switched off, then the top rung is encoded and says so', () => {
    expect(decide({}, { enabled: false })).toEqual({ copied: null, refused: ['disabled'], keyframePeriodS: null, videoKbps: 2500 });
  });
});

describe('the probe of the pulled stream', () => {
  /** ffprobe -show_entries stream=level:packet=pts_time,dts_time,flags,size of a 30 fps capture. */
  function packets(keys: number[], frames: number, bytes: number, bframes = false) {
    const list = Array.from({ length: frames }, (_, n) => {
      // with B-frames ffprobe lists packets in decode order (pts out of order)
      const shown = bframes && n % 3 === 1 ? n + 1 : bframes && n % 3 === 2 ? n - 1 : n;
      return { pts_time: (10 + shown / 30).toFixed(6), dts_time: (10 + n / 30).toFixed(6), flags: keys.includes(shown) ? 'K__' : '___', size: String(bytes) };
    });
    return { programs: [], streams: [{ level: 31 }], packets: list };
  }

  it('when a capture of 4.2 s is scanned, then keyframe times are relative to its first packet and the rate is measured', () => {
    expect(scanVideoPackets(packets([0, 60, 120], 126, 10_417))).toEqual({ level: 31, keyframesS: [0, 2, 4], windowS: 4.2, videoKbps: 2500 });
  });

  it('when packets come in decode order (B-frames), then they are ordered by presentation time', () => {
    const scan = scanVideoPackets(packets([0, 60, 120], 126, 10_417, true));
    expect(scan.keyframesS).toEqual([0, 2, 4]);
    expect(scan.windowS).toBe(4.2);
  });

  it('when ffprobe printed nothing usable, then nothing is measured', () => {
    expect(scanVideoPackets(null)).toEqual({ level: null, keyframesS: [], windowS: 0, videoKbps: null });
    expect(scanVideoPackets({ streams: [{ level: -99 }], packets: [] })).toEqual({ level: null, keyframesS: [], windowS: 0, videoKbps: null });
  });

  it('when the source has no sound, then the picture alone decides (silence is encoded beside the copy)', () => {
    const info = {
      video: { codec: 'h264', profile: 'Main', width: 1280, height: 720, sar: { num: 1, den: 1 }, rotation: 0, interlaced: false, hdr: null, pixFmt: 'yuv420p', rFrameRate: { num: 30, den: 1 }, vfr: false },
      audio: null,
    } as unknown as MediaInfo;
    const src = passthroughSource(info, scanVideoPackets(packets([0, 60, 120], 126, 10_417)));
    expect(src).toEqual({ ...obs, profile: 'Main' });
    expect(decidePassthrough(src, limits).copied).toBe('720p');
    const anamorphic = passthroughSource({ ...info, video: { ...info.video, sar: { num: 4, den: 3 } } } as MediaInfo, scanVideoPackets(packets([0, 60, 120], 126, 10_417)));
    expect(anamorphic.squarePixels).toBe(false);
  });
});

describe('passthrough ladder argv', () => {
  const base: TranscodePlan = {
    renditions: [
      { kind: 'video', name: '360p', width: 640, height: 360, crf: 24, maxrateKbps: 730, bufsizeKbps: 1460, audioKbps: 96 },
      { kind: 'video', name: '240p', width: 426, height: 240, crf: 25, maxrateKbps: 300, bufsizeKbps: 600, audioKbps: 64 },
      { kind: 'audio', name: 'audio', audioKbps: 64 },
    ],
    fps: { num: 30000, den: 1001 },
    gopSeconds: 2,
    gopFrames: 60,
    segmentSeconds: 2,
    durationS: null,
    video: { streamIndex: null, deinterlace: false, orient: [], hdr: null, padEndS: 0 },
    audio: { streamIndex: null, mono: false },
    audioSettings: liveLadder.audio,
  };
  const decision = { copied: '360p', refused: [], keyframePeriodS: 2.002, videoKbps: 650 };

  it('when the plan is made from a copy decision, then the copied rendition takes the source size and the plan names it', () => {
    const plan = withPassthrough(base, decision, { width: 640, height: 358 });
    expect(plan.renditions[0]).toEqual({ ...base.renditions[0], height: 358 });
    expect(plan.renditions.slice(1)).toEqual(base.renditions.slice(1));
    expect(plan.passthrough).toEqual({ rendition: '360p', keyframePeriodS: 2.002, sourceKbps: 650, bt709: false });
    // untagged HD is BT.709 (as players show the copy); tagged BT.709 too; SD and other tags are converted
    expect(withPassthrough(base, decision, { width: 1280, height: 720 }).passthrough!.bt709).toBe(true);
    expect(withPassthrough(base, decision, { width: 1280, height: 720, colorSpace: 'unknown' }).passthrough!.bt709).toBe(true);
    expect(withPassthrough(base, decision, { width: 640, height: 360, colorSpace: 'bt709' }).passthrough!.bt709).toBe(true);
    expect(withPassthrough(base, decision, { width: 1280, height: 720, colorSpace: 'smpte170m' }).passthrough!.bt709).toBe(false);
    expect(withPassthrough(base, { copied: null, refused: ['codec'], keyframePeriodS: null, videoKbps: 650 }, { width: 640, height: 358 })).toEqual({ ...base, passthrough: null });
  });

  it('when the top rendition is copied, then it maps the source picture as is, the others keep its frames and keyframes, and each muxer cuts at them', () => {
    const plan = withPassthrough(base, decision, { width: 640, height: 360 });
    const args = buildLiveLadderArgs({ input: 'rtmp://h:1935/live/x?token=t', rwTimeoutS: 5, outDir: '/w/run-2', plan, preset: 'veryfast', localListSize: 30 });
    const audio = (kbps: number) => `-c:a aac -profile:a aac_low -b:a ${kbps}k -ar 48000 -ac 2 -map_metadata -1 -map_chapters -1 -max_muxing_queue_size 4096 -avoid_negative_ts disabled`;
    const hls = (time: string, name: string) => `-f hls -hls_time ${time} -hls_segment_type mpegts -hls_segment_options avoid_negative_ts=disabled -start_number 0 -hls_list_size 30 -hls_flags independent_segments+temp_file -hls_segment_filename /w/run-2/${name}/seg-%05d.ts /w/run-2/${name}/index.m3u8`;
    expect(args.join(' ')).toBe([
      // one decoding thread, one x264 thread per small rung: no hand-offs between threads at every frame
      '-hide_banner -nostdin -y -loglevel level+info -progress pipe:1 -nostats -noautorotate -rw_timeout 5000000 -analyzeduration 1000000 -threads 1 -i rtmp://h:1935/live/x?token=t',
      // no fps filter: the encoded renditions keep the source's frames (and so its keyframe flags)
      '-filter_complex [0:v:0]split=1[s0];[s0]scale=426:240:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v0];[0:a:0]aresample=48000:async=1:first_pts=0,aformat=sample_fmts=fltp:channel_layouts=stereo,asplit=3[a0][a1][a2]',
      `-map 0:v:0 -map [a0] -c:v copy ${audio(96)} ${hls('1.001', '360p')}`,
      '-map [v0] -map [a1] -c:v libx264 -threads 1 -preset veryfast -profile:v high -pix_fmt yuv420p -crf 25 -maxrate 300k -bufsize 600k',
      '-g 600 -sc_threshold 0 -force_key_frames source -fps_mode:v passthrough -enc_time_base:v 1:1000 -tune zerolatency',
      `-colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv ${audio(64)} ${hls('1.001', '240p')}`,
      `-map [a2] ${audio(64)} ${hls('2.002', 'audio')}`,
    ].join(' '));
  });

  it('when the copied picture is BT.709, then the lower rungs are resized without a matrix conversion (they look like the copy), by zimg with swscale\'s bicubic', () => {
    const plan = withPassthrough(base, decision, { width: 640, height: 360, colorSpace: 'bt709' });
    const args = buildLiveLadderArgs({ input: 'rtmp://h/live/x', rwTimeoutS: 5, outDir: '/w', plan, preset: 'veryfast', localListSize: 30 });
    expect(args[args.indexOf('-filter_complex') + 1]).toContain('[s0]zscale=w=426:h=240:filter=bicubic:param_a=0:param_b=0.6,setsar=1,format=yuv420p[v0]');
  });

  it('when the publisher sends AAC-LC 48 kHz stereo, then the copied rung and every rung configured for at least its rate carry it copied; the others encode theirs', () => {
    const stereo = (kbps: number | null) => ({ codec: 'aac', profile: 'LC', sampleRate: 48000, channels: 2, bitRate: kbps && kbps * 1000 });
    const copies = (sound: Parameters<typeof soundCopies>[0]) => soundCopies(sound, base.renditions, '360p', liveLadder.audio);
    // 360p is configured at 96 kb/s, 240p and the audio-only rendition at 64
    expect(copies(stereo(64))).toEqual(['360p', '240p', 'audio']);
    expect(copies(stereo(70))).toEqual(['360p', '240p', 'audio']);
    expect(copies(stereo(96))).toEqual(['360p']);
    // OBS's default 160 kb/s, which FLV states in units of 1024 b/s
    expect(copies({ ...stereo(null), bitRate: 163_840 })).toEqual(['360p']);
    // not the ladder's format, or a rate REFERENCE does not allow: every rendition encodes its sound
    for (const sound of [{ ...stereo(96), channels: 1 }, { ...stereo(96), sampleRate: 44100 }, { ...stereo(48), profile: 'HE-AAC' }, { ...stereo(96), codec: 'mp3' }, stereo(24), stereo(192), stereo(null), null]) {
      expect(copies(sound), JSON.stringify(sound)).toEqual([]);
    }
    expect(withPassthrough(base, decision, { width: 640, height: 360 }, stereo(96)).passthrough!.soundCopied).toEqual(['360p']);
    // nothing to copy from a source without sound
    expect(withPassthrough({ ...base, audio: null }, decision, { width: 640, height: 360 }, stereo(96)).passthrough).not.toHaveProperty('soundCopied');
  });

  it('when some renditions copy the publisher\'s sound, then they map its stream as is and the graph encodes only the others\'', () => {
    const stereo = (kbps: number) => ({ codec: 'aac', profile: 'LC', sampleRate: 48000, channels: 2, bitRate: kbps * 1000 });
    const argv = (kbps: number) => buildLiveLadderArgs({ input: 'rtmp://h/live/x', rwTimeoutS: 5, outDir: '/w', plan: withPassthrough(base, decision, { width: 640, height: 360 }, stereo(kbps)), preset: 'veryfast', localListSize: 30 }).join(' ');
    const one = argv(96);
    expect(one).toContain(',asplit=2[a0][a1] ');
    expect(one).toContain('-map 0:v:0 -map 0:a:0 -c:v copy -c:a copy -map_metadata -1');
    expect(one).toContain('-map [v0] -map [a0] -c:v libx264');
    expect(one).toContain('-map [a1] -c:a aac -profile:a aac_low -b:a 64k');
    // every rendition copies: no sound branch in the graph at all
    const all = argv(64);
    expect(all).not.toContain('aresample');
    expect(all).not.toMatch(/-c:a aac|\[a\d\]/);
    expect(all.match(/-map 0:a:0 /g)).toHaveLength(3);
    expect(all.match(/-c:a copy /g)).toHaveLength(3);
  });

  it('when the source sends no sound, then the copy gets generated silence like every rendition and ends with the picture', () => {
    const plan = withPassthrough({ ...base, audio: null }, decision, { width: 640, height: 360 });
    const args = buildLiveLadderArgs({ input: 'rtmp://h/live/x', rwTimeoutS: 5, outDir: '/w', plan, preset: 'veryfast', localListSize: 30 });
    expect(args[args.indexOf('-filter_complex') + 1]).toMatch(/;anullsrc=channel_layout=stereo:sample_rate=48000,asplit=3\[a0\]\[a1\]\[a2\]$/);
    expect(args.slice(args.indexOf('-c:v'), args.indexOf('-c:v') + 2)).toEqual(['-c:v', 'copy']);
    expect(args.filter((a) => a === '-shortest')).toHaveLength(3);
  });
});

describe('the decision in the ledger', () => {
  it('when a run records its passthrough decision, then the stored head keeps it (old heads without it still load)', () => {
    const l = newLedger({ sessionId: 's', lessonId: 'l', segmentSeconds: 2 });
    l.runs.push({ run: 1, epoch: 1, startedAtMs: 0, sizes: {}, frameRate: 30, plan: null, passthrough: { copied: '720p', refused: [] } });
    l.runs.push({ run: 2, epoch: 2, startedAtMs: 0, sizes: {}, frameRate: 30, plan: null, passthrough: { copied: null, refused: ['keyframes_sparse'] } });
    const head = ledgerHeadSchema.parse(JSON.parse(JSON.stringify(ledgerHead(l))));
    expect(head.runs.map((r) => r.passthrough)).toEqual([{ copied: '720p', refused: [] }, { copied: null, refused: ['keyframes_sparse'] }]);
    const old = { ...ledgerHead(l), runs: [{ run: 1, epoch: 1, startedAtMs: 0, sizes: {}, frameRate: 30, plan: null }] };
    expect(ledgerHeadSchema.parse(old).runs[0].passthrough).toBeUndefined();
  });
});
