import { describe, expect, it } from 'vitest';
import { liveLadder, vodLadder, type LadderSpec } from '../../config/ladder.ts';
import {
  buildFilterGraph,
  buildTranscodeArgs,
  chooseOutputFps,
  fitInBox,
  frameRateText,
  orientFilters,
  planRenditions,
  planTranscode,
  type VideoRendition,
} from '../../src/media/ffmpeg-args.ts';
import { buildPosterArgs, buildStoryboardArgs, buildStoryboardVtt, planStoryboard } from '../../src/media/image-args.ts';
import type { AudioStreamInfo, MediaInfo, VideoStreamInfo } from '../../src/media/media-info.ts';

function media(v: Partial<VideoStreamInfo> = {}, a: Partial<AudioStreamInfo> | null = {}, over: Partial<MediaInfo> = {}): MediaInfo {
  const video: VideoStreamInfo = {
    index: 0, codec: 'h264', profile: 'High', width: 640, height: 360, sar: { num: 1, den: 1 }, dar: null, rotation: 0, displayMatrix: null,
    displayWidth: 640, displayHeight: 360, pixFmt: 'yuv420p', bitDepth: 8, fieldOrder: 'progressive', interlaced: false,
    rFrameRate: { num: 30, den: 1 }, avgFrameRate: { num: 30, den: 1 }, vfr: false, colorTransfer: null, colorPrimaries: null, colorSpace: null,
    hdr: null, startS: 0, durationS: 10, frames: 300, bitRate: null, ...v,
  };
  const audio: AudioStreamInfo | null = a === null ? null : { index: 1, codec: 'aac', profile: 'LC', channels: 2, channelLayout: 'stereo', sampleRate: 48000, startS: 0, durationS: 10, bitRate: null, ...a };
  return { formatName: 'mov,mp4,m4a,3gp,3g2,mj2', formatStartS: 0, formatLongName: null, sizeBytes: 1000, bitRate: null, video, audio, streamCounts: { video: 1, audio: audio ? 1 : 0, other: 0 }, durationS: 10, videoEndS: 10, audioEndS: audio ? 10 : null, ...over };
}

const sizes = (l: ReturnType<typeof planRenditions>) => l.map((r) => (r.kind === 'video' ? `${r.name}:${r.width}x${r.height}` : r.name));

describe('chooseOutputFps', () => {
  const f = (r: [number, number] | null, avg: [number, number] | null, vfr = false) =>
    chooseOutputFps({ rFrameRate: r && { num: r[0], den: r[1] }, avgFrameRate: avg && { num: avg[0], den: avg[1] }, vfr }, 30, 10);
  it('when the source is a standard constant rate, then it is kept exactly', () => {
    expect(f([30, 1], [30, 1])).toEqual({ num: 30, den: 1 });
    expect(f([25, 1], [25, 1])).toEqual({ num: 25, den: 1 });
    expect(f([30000, 1001], [30000, 1001])).toEqual({ num: 30000, den: 1001 });
    expect(f([2997, 100], [2997, 100])).toEqual({ num: 30000, den: 1001 });
  });
  it('when the source is faster than the ceiling, then it is divided down by a whole number', () => {
    expect(f([60, 1], [60, 1])).toEqual({ num: 30, den: 1 });
    expect(f([50, 1], [50, 1])).toEqual({ num: 25, den: 1 });
    expect(f([60000, 1001], [60000, 1001])).toEqual({ num: 30000, den: 1001 });
    expect(f([120, 1], [120, 1])).toEqual({ num: 30, den: 1 });
  });
  it('when the source is variable, then the nominal standard rate wins, else the average snapped to a standard', () => {
    expect(f([30, 1], [2490, 149], true)).toEqual({ num: 30, den: 1 });
    expect(f([90000, 1], [2950, 100], true)).toEqual({ num: 30000, den: 1001 });
    expect(f([1000, 1], [2400, 100], true)).toEqual({ num: 24, den: 1 });
  });
  it('when the source is a slideshow, then frames are repeated up to the floor', () => {
    expect(f([1, 1], [1, 1])).toEqual({ num: 10, den: 1 });
    expect(f([15, 2], [15, 2])).toEqual({ num: 15, den: 1 });
  });
  it('when the rate is unknown, then 30 is used', () => {
    expect(f(null, null)).toEqual({ num: 30, den: 1 });
  });
  it('when written for FRAME-RATE, then it has 3 decimals', () => {
    expect(frameRateText({ num: 30000, den: 1001 })).toBe('29.970');
    expect(frameRateText({ num: 25, den: 1 })).toBe('25.000');
  });
});

describe('planRenditions', () => {
  it('when the source is 1080p, then every rung is made, highest first, audio-only last', () => {
    expect(sizes(planRenditions(1920, 1080, vodLadder))).toEqual(['1080p:1920x1080', '720p:1280x720', '480p:854x480', '360p:640x360', 'audio']);
  });
  it('when the source is 720p, then 1080p is not made (never upscaled)', () => {
    expect(sizes(planRenditions(1280, 720, vodLadder))).toEqual(['720p:1280x720', '480p:854x480', '360p:640x360', 'audio']);
  });
  it('when the source has odd dimensions just under a rung, then that rung is made at the source size rounded down to even', () => {
    expect(sizes(planRenditions(853, 479, vodLadder))).toEqual(['480p:852x478', '360p:640x360', 'audio']);
  });
  it('when the source is portrait, then the boxes turn with it', () => {
    expect(sizes(planRenditions(720, 1280, vodLadder))).toEqual(['720p:720x1280', '480p:480x854', '360p:360x640', 'audio']);
  });
  it('when the source is 4:3, then widths follow the aspect ratio', () => {
    expect(sizes(planRenditions(768, 576, vodLadder))).toEqual(['480p:640x480', '360p:480x360', 'audio']);
  });
  it('when only one rung fits, then the fallback rung is added for a second bit rate', () => {
    expect(sizes(planRenditions(640, 360, vodLadder))).toEqual(['360p:640x360', '240p:426x240', 'audio']);
  });
  it('when the source is smaller than every rung, then the lowest rung keeps the source size and the fallback is two thirds of it', () => {
    expect(sizes(planRenditions(320, 240, vodLadder))).toEqual(['360p:320x240', '240p:214x160', 'audio']);
  });
  it('when any source is planned, then no rendition is larger than the source and all sides are even', () => {
    for (const [w, h] of [[1920, 1080], [1919, 1079], [3840, 2160], [1280, 534], [101, 777], [2000, 1000], [720, 1280], [853, 479]] as const) {
      for (const r of planRenditions(w, h, vodLadder)) {
        if (r.kind !== 'video') continue;
        expect(r.width).toBeLessThanOrEqual(w);
        expect(r.height).toBeLessThanOrEqual(h);
        expect(r.width % 2).toBe(0);
        expect(r.height % 2).toBe(0);
      }
    }
  });
  it('when a box is wider than the source aspect, then the height limits', () => {
    expect(fitInBox(1920, 800, 1280, 720)).toEqual({ width: 1280, height: 534 });
  });
});

describe('orientFilters', () => {
  it('when the display matrix turns the picture, then the same transpose as ffmpeg autorotate is used', () => {
    // the matrix `-metadata:s:v rotate=90` writes (ffprobe: rotation 90) is a 270 degree clockwise display turn
    expect(orientFilters(270, [0, -65536, 0, 65536, 0, 0, 0, 0, 1073741824])).toEqual(['transpose=cclock']);
    expect(orientFilters(90, [0, 65536, 0, -65536, 0, 0, 0, 0, 1073741824])).toEqual(['transpose=clock']);
    expect(orientFilters(180, [-65536, 0, 0, 0, -65536, 0, 0, 0, 1073741824])).toEqual(['hflip', 'vflip']);
    expect(orientFilters(180, null)).toEqual(['hflip', 'vflip']);
    expect(orientFilters(0, null)).toEqual([]);
  });
  it('when the matrix also mirrors (front cameras), then the flipping transpose is used', () => {
    expect(orientFilters(90, [0, 65536, 0, 65536, 0, 0, 0, 0, 1073741824])).toEqual(['transpose=cclock_flip']);
    expect(orientFilters(270, [0, -65536, 0, -65536, 0, 0, 0, 0, 1073741824])).toEqual(['transpose=clock_flip']);
    expect(orientFilters(0, [65536, 0, 0, 0, -65536, 0, 0, 0, 1073741824])).toEqual(['vflip']);
  });
});

const vodTail = (name: string) => [
  '-map_metadata', '-1', '-map_chapters', '-1', '-max_muxing_queue_size', '4096', '-avoid_negative_ts', 'disabled',
  '-f', 'hls', '-hls_time', '6', '-hls_segment_type', 'mpegts', '-hls_segment_options', 'avoid_negative_ts=disabled', '-start_number', '0',
  '-hls_list_size', '0', '-hls_playlist_type', 'vod', '-hls_flags', 'independent_segments',
  '-hls_segment_filename', `/w/hls/${name}/seg-%05d.ts`, `/w/hls/${name}/index.m3u8`,
];
const x264 = (crf: number, max: number, buf: number, gop = 60, every = 2) => [
  '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-pix_fmt', 'yuv420p', '-crf', String(crf), '-maxrate', `${max}k`, '-bufsize', `${buf}k`,
  '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0', '-force_key_frames', `expr:gte(t,n_forced*${every})`,
  '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv',
];
const aacArgs = (kbps: number) => ['-c:a', 'aac', '-profile:a', 'aac_low', '-b:a', `${kbps}k`, '-ar', '48000', '-ac', '2'];

describe('buildTranscodeArgs', () => {
  it('when a 360p mono source is planned, then one ffmpeg decodes once, splits, scales per rung and writes 6 s HLS per rendition', () => {
    const plan = planTranscode(media({}, { channels: 1, channelLayout: 'mono', sampleRate: 44100 }), vodLadder);
    expect(buildTranscodeArgs({ input: '/w/source.mp4', outDir: '/w/hls', plan, preset: 'veryfast', segmentFormat: 'mpegts' })).toEqual([
      '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning', '-progress', 'pipe:1', '-nostats', '-noautorotate',
      '-i', '/w/source.mp4',
      '-filter_complex',
      '[0:0]fps=fps=30:start_time=0,split=2[s0][s1];' +
        '[s0]scale=640:360:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v0];' +
        '[s1]scale=426:240:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v1];' +
        '[0:1]aresample=48000:async=1:first_pts=0,aformat=channel_layouts=mono,pan=stereo|FL=FC|FR=FC,apad,atrim=end_sample=479232,asplit=3[a0][a1][a2]',
      '-map', '[v0]', '-map', '[a0]', ...x264(24, 730, 1460), ...aacArgs(96), ...vodTail('360p'),
      '-map', '[v1]', '-map', '[a1]', ...x264(25, 300, 600), ...aacArgs(64), ...vodTail('240p'),
      '-map', '[a2]', ...aacArgs(64), ...vodTail('audio'),
    ]);
  });

  it('when the source is 29.97 fps, then the GOP bound is 60 frames and keyframes are forced every 2 s of time', () => {
    const plan = planTranscode(media({ rFrameRate: { num: 30000, den: 1001 }, avgFrameRate: { num: 30000, den: 1001 } }), vodLadder);
    const args = buildTranscodeArgs({ input: 'in', outDir: '/w/hls', plan, preset: 'veryfast', segmentFormat: 'mpegts' });
    expect(args[args.indexOf('-g') + 1]).toBe('60');
    expect(args[args.indexOf('-force_key_frames') + 1]).toBe('expr:gte(t,n_forced*2)');
    expect(args[args.indexOf('-filter_complex') + 1]).toContain('fps=fps=30000/1001:start_time=0');
  });

  it('when the source is interlaced, rotated, HDR and its sound outlasts the picture, then the shared chain deinterlaces, holds the last frame, turns and tone-maps once', () => {
    const info = media(
      { width: 1280, height: 720, displayWidth: 720, displayHeight: 1280, rotation: 90, displayMatrix: [0, 65536, 0, -65536, 0, 0, 0, 0, 1073741824], interlaced: true, fieldOrder: 'tt', hdr: 'hlg', durationS: 8, rFrameRate: { num: 25, den: 1 }, avgFrameRate: { num: 25, den: 1 } },
      { channels: 6, channelLayout: '5.1', durationS: 10 },
      { durationS: 10, videoEndS: 8, audioEndS: 10 },
    );
    const plan = planTranscode(info, vodLadder);
    expect(plan.video.padEndS).toBe(2);
    expect(buildFilterGraph(plan, plan.renditions)).toBe(
      '[0:0]bwdif=mode=send_frame:parity=auto:deint=all,fps=fps=25:start_time=0,tpad=stop_mode=clone:stop_duration=3,trim=end=10,transpose=clock,' +
        'zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p,split=3[s0][s1][s2];' +
        '[s0]scale=720:1280:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v0];' +
        '[s1]scale=480:854:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v1];' +
        '[s2]scale=360:640:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v2];' +
        '[0:1]aresample=48000:async=1:first_pts=0,aformat=sample_fmts=fltp:channel_layouts=stereo,apad,atrim=end_sample=479232,asplit=4[a0][a1][a2][a3]',
    );
  });

  it('when the source has no audio track, then silence of the lesson length feeds every rendition', () => {
    const plan = planTranscode(media({}, null, { audioEndS: null }), vodLadder);
    expect(plan.audio).toBeNull();
    expect(buildFilterGraph(plan, plan.renditions)).toBe(
      '[0:0]fps=fps=30:start_time=0,split=2[s0][s1];' +
        '[s0]scale=640:360:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v0];' +
        '[s1]scale=426:240:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v1];' +
        'anullsrc=channel_layout=stereo:sample_rate=48000,atrim=end_sample=479232,asplit=3[a0][a1][a2]',
    );
  });

  it('when only some renditions are asked for (a re-encode with a lower cap), then only those are split, mapped and written', () => {
    const plan = planTranscode(media({ width: 1280, height: 720, displayWidth: 1280, displayHeight: 720 }), vodLadder);
    const lowered = { ...plan, renditions: plan.renditions.map((r) => (r.name === '480p' ? { ...(r as VideoRendition), maxrateKbps: 750, bufsizeKbps: 750 } : r)) };
    const args = buildTranscodeArgs({ input: 'in', outDir: '/w/hls', plan: lowered, preset: 'veryfast', segmentFormat: 'mpegts', only: ['480p'] });
    expect(args[args.indexOf('-filter_complex') + 1]).toBe(
      '[0:0]fps=fps=30:start_time=0,split=1[s0];[s0]scale=854:480:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v0];' +
        '[0:1]aresample=48000:async=1:first_pts=0,aformat=sample_fmts=fltp:channel_layouts=stereo,apad,atrim=end_sample=479232,asplit=1[a0]',
    );
    expect(args.filter((a) => a === '-f')).toHaveLength(1);
    expect(args.slice(args.indexOf('-maxrate'), args.indexOf('-maxrate') + 4)).toEqual(['-maxrate', '750k', '-bufsize', '750k']);
    expect(args.at(-1)).toBe('/w/hls/480p/index.m3u8');
  });

  it('when planned for live, then segments are 2 s, x264 runs low-delay, the playlist rolls and nothing is padded or trimmed', () => {
    const info = media({ width: 1280, height: 720, displayWidth: 1280, displayHeight: 720 }, null, { audioEndS: null });
    const plan = planTranscode(info, liveLadder, { live: true });
    expect(plan.durationS).toBeNull();
    const args = buildTranscodeArgs({
      input: 'rtmp://127.0.0.1/live/x',
      inputOptions: ['-rw_timeout', '15000000'],
      outDir: '/w/live',
      plan,
      preset: 'veryfast',
      segmentFormat: 'mpegts',
      live: { listSize: 10, programDateTime: true, deleteSegments: true, playlistType: null },
    });
    expect(args.slice(args.indexOf('-rw_timeout'), args.indexOf('-rw_timeout') + 4)).toEqual(['-rw_timeout', '15000000', '-i', 'rtmp://127.0.0.1/live/x']);
    expect(args[args.indexOf('-filter_complex') + 1]).toBe(
      '[0:v:0]fps=fps=30,split=3[s0][s1][s2];' +
        '[s0]scale=1280:720:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v0];' +
        '[s1]scale=854:480:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v1];' +
        '[s2]scale=640:360:out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p[v2];' +
        'anullsrc=channel_layout=stereo:sample_rate=48000,asplit=4[a0][a1][a2][a3]',
    );
    const first = args.slice(args.indexOf('-map'), args.indexOf('/w/live/720p/index.m3u8') + 1);
    expect(first).toEqual([
      '-map', '[v0]', '-map', '[a0]', ...x264(23, 3000, 6000).slice(0, 22), '-tune', 'zerolatency', ...x264(23, 3000, 6000).slice(22),
      ...aacArgs(128),
      '-map_metadata', '-1', '-map_chapters', '-1', '-max_muxing_queue_size', '4096', '-avoid_negative_ts', 'disabled', '-shortest',
      '-f', 'hls', '-hls_time', '2', '-hls_segment_type', 'mpegts', '-hls_segment_options', 'avoid_negative_ts=disabled', '-start_number', '0',
      '-hls_list_size', '10', '-hls_flags', 'independent_segments+temp_file+program_date_time+delete_segments',
      '-hls_segment_filename', '/w/live/720p/seg-%05d.ts', '/w/live/720p/index.m3u8',
    ]);
  });

  it('when fMP4 segments are asked for, then the HLS muxer writes an init file and .m4s segments', () => {
    const plan = planTranscode(media(), vodLadder);
    const args = buildTranscodeArgs({ input: 'in', outDir: '/w/hls', plan, preset: 'veryfast', segmentFormat: 'fmp4' });
    expect(args).toContain('fmp4');
    expect(args[args.indexOf('-hls_fmp4_init_filename') + 1]).toBe('init.mp4');
    expect(args).toContain('/w/hls/360p/seg-%05d.m4s');
  });

  it('when a custom ladder has no audio-only rung, then no audio-only output is written', () => {
    const ladder: LadderSpec = { ...vodLadder, audioOnly: null };
    const plan = planTranscode(media(), ladder);
    expect(plan.renditions.map((r) => r.name)).toEqual(['360p', '240p']);
  });
});

describe('poster and storyboard', () => {
  it('when a poster is asked for, then one frame is taken at the instant with an accurate input seek', () => {
    expect(buildPosterArgs({ input: '/w/hls/720p/seg-00001.ts', atS: 0.4, width: 1280, height: 720, output: '/w/poster.jpg' })).toEqual([
      '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning', '-ss', '0.4', '-i', '/w/hls/720p/seg-00001.ts',
      '-map', '0:v:0', '-frames:v', '1', '-vf', 'scale=1280:720,setsar=1', '-q:v', '3', '-update', '1', '/w/poster.jpg',
    ]);
  });
  it('when a 95 s lesson gets a storyboard, then thumbnails fall every 2 s on keyframes, 10 to a row', () => {
    const plan = planStoryboard(95, 640, 360, { gopSeconds: 2 });
    expect(plan).toEqual({ intervalS: 2, count: 48, columns: 10, rows: 5, thumbWidth: 160, thumbHeight: 90 });
    expect(buildStoryboardArgs({ input: '/w/hls/360p/index.m3u8', plan, output: '/w/storyboard.jpg' })).toEqual([
      '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning', '-skip_frame', 'nokey', '-i', '/w/hls/360p/index.m3u8', '-map', '0:v:0', '-an',
      '-vf', "select='isnan(prev_selected_t)+gt(floor((t+0.05)/2),floor((prev_selected_t+0.05)/2))',scale=160:90,setsar=1,tile=10x5",
      '-frames:v', '1', '-q:v', '4', '-update', '1', '/w/storyboard.jpg',
    ]);
  });
  it('when a 4 h lesson gets a storyboard, then the interval grows (a whole number of GOPs) to keep one sprite', () => {
    expect(planStoryboard(4 * 3600, 360, 640, { gopSeconds: 2 })).toEqual({ intervalS: 36, count: 400, columns: 10, rows: 40, thumbWidth: 160, thumbHeight: 284 });
  });
  it('when the WebVTT is written, then each cue points at its sprite cell and the last ends with the lesson', () => {
    const plan = planStoryboard(5, 640, 360, { gopSeconds: 2 });
    expect(buildStoryboardVtt(plan, 'storyboard.jpg', 5)).toBe(
      'WEBVTT\n\n' +
        '00:00:00.000 --> 00:00:02.000\nstoryboard.jpg#xywh=0,0,160,90\n\n' +
        '00:00:02.000 --> 00:00:04.000\nstoryboard.jpg#xywh=160,0,160,90\n\n' +
        '00:00:04.000 --> 00:00:05.000\nstoryboard.jpg#xywh=320,0,160,90\n',
    );
  });
});
