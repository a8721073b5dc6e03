import { describe, expect, it } from 'vitest';
import { cableProfiles, resolveCableProfile, type CableProfile } from '../../config/cable-profiles.ts';
import { cableMovieArgs, cablePosterArgs, cableVideoFilter, fitToCableFrame, posterTimeS, type CableSource } from '../../src/media/cable-args.ts';

const hd: CableProfile = cableProfiles['hd-h264-1080i50'];
const sd: CableProfile = cableProfiles['sd-mpeg2-576i50'];
const p720: CableProfile = cableProfiles['hd-h264-720p50'];

const wide: CableSource = { videoIndex: 0, audioIndex: 1, width: 1280, height: 720, sar: [1, 1], rotation: 0, fps: 30, interlaced: false, topFieldFirst: true, durationS: 3 };

describe('cable movie argv', () => {
  it('when a 16:9 720p30 source goes to the default HD profile, then the argv is a 1080i25 CBR H.264 + AC-3 single-program TS at 12 Mb/s', () => {
    expect(cableMovieArgs({ input: '/w/src/source.mp4', output: '/w/movie.ts', profile: hd, source: wide, service: { provider: 'classcast', name: 'CLCS0000000000000003' } })).toEqual([
      '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning', '-progress', 'pipe:1', '-nostats', '-i', '/w/src/source.mp4',
      '-filter_complex',
      '[0:0]fps=25,scale=1920:1080:flags=bicubic:in_color_matrix=bt709:out_color_matrix=bt709:out_range=tv,setsar=1/1,setfield=tff,format=yuv420p[v];' +
        '[0:1]aresample=async=1:first_pts=0,aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[a]',
      '-map', '[v]', '-map', '[a]', '-map_metadata', '-1', '-map_chapters', '-1',
      '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-level:v', '4.0',
      '-flags', '+ilme+ildct+cgop', '-field_order', 'tt',
      '-b:v', '8000k', '-minrate', '8000k', '-maxrate', '8000k', '-bufsize', '8000k',
      '-g', '25', '-bf', '2', '-keyint_min', '25', '-sc_threshold', '0',
      '-b-pyramid', 'none', '-weightp', 'none', '-nal-hrd', 'cbr', '-aud', '1',
      '-color_primaries', 'bt709', '-color_trc', 'bt709', '-colorspace', 'bt709', '-color_range', 'tv',
      '-c:a', 'ac3', '-b:a', '192k', '-ar', '48000', '-ac', '2',
      '-f', 'mpegts', '-muxrate', '12000000', '-pcr_period', '20', '-mpegts_service_id', '1', '-mpegts_flags', '+system_b',
      '-metadata', 'service_provider=classcast', '-metadata', 'service_name=CLCS0000000000000003',
      '/w/movie.ts',
    ]);
  });

  it('when a 4:3 source without sound goes to the SD profile, then it is MPEG-2 576i25 in a 3.75 Mb/s mux with a silent stereo track as long as the source', () => {
    const src: CableSource = { ...wide, width: 640, height: 480, fps: 25, audioIndex: null, durationS: 2.5 };
    expect(cableMovieArgs({ input: '/w/src/source.mp4', output: '/w/movie.ts', profile: sd, source: src })).toEqual([
      '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning', '-progress', 'pipe:1', '-nostats', '-i', '/w/src/source.mp4',
      '-f', 'lavfi', '-t', '2.500', '-i', 'anullsrc=channel_layout=stereo:sample_rate=48000',
      '-filter_complex',
      '[0:0]fps=25,scale=720:576:flags=bicubic:in_color_matrix=bt601:out_color_matrix=bt601:out_range=tv,setsar=16/15,setfield=tff,format=yuv420p[v];' +
        '[1:a:0]aresample=async=1:first_pts=0,aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[a]',
      '-map', '[v]', '-map', '[a]', '-map_metadata', '-1', '-map_chapters', '-1',
      '-c:v', 'mpeg2video', '-profile:v', '4', '-level:v', '8',
      '-flags', '+ilme+ildct+cgop', '-alternate_scan', '1', '-field_order', 'tt',
      '-b:v', '3200k', '-minrate', '3200k', '-maxrate', '3200k', '-bufsize', '1835k',
      '-g', '12', '-bf', '2', '-mpv_flags', '+strict_gop', '-sc_threshold', '1000000000',
      '-color_primaries', 'bt470bg', '-color_trc', 'smpte170m', '-colorspace', 'bt470bg', '-color_range', 'tv',
      '-c:a', 'ac3', '-b:a', '192k', '-ar', '48000', '-ac', '2',
      '-f', 'mpegts', '-muxrate', '3750000', '-pcr_period', '20', '-mpegts_service_id', '1', '-mpegts_flags', '+system_b',
      '/w/movie.ts',
    ]);
  });

  it('when the 720p50 profile is used, then the video is progressive at 50 fps with no interlace flags', () => {
    const args = cableMovieArgs({ input: 'in', output: 'out', profile: p720, source: wide });
    expect(args[args.indexOf('-filter_complex') + 1]).toContain('[0:0]fps=50,scale=1280:720:flags=bicubic:in_color_matrix=bt709:out_color_matrix=bt709:out_range=tv,setsar=1/1,setfield=prog,format=yuv420p[v]');
    expect(args[args.indexOf('-flags') + 1]).toBe('+cgop');
    expect(args).not.toContain('-field_order');
    expect(args).not.toContain('-weightp');
    expect(args.slice(args.indexOf('-g'), args.indexOf('-g') + 4)).toEqual(['-g', '50', '-bf', '2']);
    expect(args.slice(args.indexOf('-muxrate'), args.indexOf('-muxrate') + 2)).toEqual(['-muxrate', '8000000']);
  });

  it('when the operator asks for AAC and ATSC signalling, then the audio is AAC and AC-3 private-data signalling is off', () => {
    const aac = resolveCableProfile('hd-h264-1080i50', { audioCodec: 'aac', audioKbps: 160 });
    const args = cableMovieArgs({ input: 'in', output: 'out', profile: { ...aac, mux: { ...aac.mux, signalling: 'atsc' } }, source: wide });
    expect(args.slice(args.indexOf('-c:a'), args.indexOf('-c:a') + 4)).toEqual(['-c:a', 'aac', '-b:a', '160k']);
    expect(args).not.toContain('-mpegts_flags');
  });

  it('when the SDT names carry non-ASCII text, then only printable ASCII is written', () => {
    const args = cableMovieArgs({ input: 'in', output: 'out', profile: hd, source: wide, service: { provider: '吉林 edu', name: 'CLCS1' } });
    expect(args).toContain('service_provider= edu');
  });
});

describe('fitting the picture into the cable frame', () => {
  it('when a 4:3 source goes to 1080i, then it is pillarboxed to 1440x1080 centred', () => {
    expect(fitToCableFrame(hd, { width: 640, height: 480, sar: [1, 1], rotation: 0 })).toEqual({ scaleWidth: 1440, scaleHeight: 1080, padX: 240, padY: 0, sar: [1, 1] });
  });

  it('when a 16:9 source goes to 4:3 SD, then it is letterboxed with bars on multiples of 4 lines and 16:15 pixels', () => {
    expect(fitToCableFrame(sd, wide)).toEqual({ scaleWidth: 720, scaleHeight: 432, padX: 0, padY: 72, sar: [16, 15] });
  });

  it('when a scope 2.39:1 source goes to 1080i, then both fields keep whole chroma lines (height and offset multiples of 4)', () => {
    expect(fitToCableFrame(hd, { width: 1920, height: 804, sar: [1, 1], rotation: 0 })).toEqual({ scaleWidth: 1920, scaleHeight: 804, padX: 0, padY: 136, sar: [1, 1] });
  });

  it('when a phone video is rotated 90 degrees, then the portrait picture is pillarboxed', () => {
    expect(fitToCableFrame(hd, { width: 1280, height: 720, sar: [1, 1], rotation: 90 })).toEqual({ scaleWidth: 608, scaleHeight: 1080, padX: 656, padY: 0, sar: [1, 1] });
  });

  it('when an anamorphic 16:9 SD source (720x576, 64:45 pixels) goes to 1080i, then it fills the frame', () => {
    expect(fitToCableFrame(hd, { width: 720, height: 576, sar: [64, 45], rotation: 0 })).toEqual({ scaleWidth: 1920, scaleHeight: 1080, padX: 0, padY: 0, sar: [1, 1] });
  });

  it('when the source is within half a percent of the frame aspect, then no one-pixel bars are added', () => {
    expect(fitToCableFrame(hd, { width: 1366, height: 768, sar: [1, 1], rotation: 0 })).toMatchObject({ scaleWidth: 1920, scaleHeight: 1080, padX: 0, padY: 0 });
  });
});

describe('video filter for interlaced sources', () => {
  const i50: CableSource = { ...wide, width: 1920, height: 1080, fps: 25, interlaced: true, topFieldFirst: false };

  it('when a bottom-field-first 1080i25 source goes to 1080i25, then the fields are kept and moved to top first, no deinterlace', () => {
    expect(cableVideoFilter(hd, i50)).toBe('fieldorder=tff,fps=25,scale=1920:1080:flags=bicubic:in_color_matrix=bt709:out_color_matrix=bt709:out_range=tv:interl=1,setsar=1/1,setfield=tff,format=yuv420p');
  });

  it('when an interlaced 25 fps source goes to 720p50, then every field becomes a frame', () => {
    expect(cableVideoFilter(p720, i50)).toBe('bwdif=mode=send_field,fps=50,scale=1280:720:flags=bicubic:in_color_matrix=bt709:out_color_matrix=bt709:out_range=tv,setsar=1/1,setfield=prog,format=yuv420p');
  });

  it('when an untagged SD source goes to HD, then it is converted from BT.601 to BT.709', () => {
    expect(cableVideoFilter(hd, { ...wide, width: 640, height: 360 })).toContain('in_color_matrix=bt601:out_color_matrix=bt709');
  });
});

describe('poster argv', () => {
  it('when a 4:3 source is postered for the HD profile, then one full-range JPEG of 640x360 is taken a tenth in, pillarboxed', () => {
    expect(cablePosterArgs({ input: '/w/src/source.mp4', output: '/w/poster.jpg', profile: hd, source: { videoIndex: 2, width: 640, height: 480, sar: [1, 1], rotation: 0, durationS: 3 } })).toEqual([
      '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning', '-ss', '0.300', '-i', '/w/src/source.mp4',
      '-map', '0:2', '-frames:v', '1', '-an', '-sn', '-map_metadata', '-1',
      '-vf', 'scale=480:360:flags=bicubic:out_range=pc,setsar=1,pad=640:360:80:0:black,format=yuvj420p',
      '-q:v', '2', '-f', 'image2', '-update', '1', '/w/poster.jpg',
    ]);
  });

  it('when the lesson is long, then the poster frame is at most a minute in', () => {
    expect([posterTimeS(0), posterTimeS(45), posterTimeS(2700)]).toEqual([0, 4.5, 60]);
  });
});

describe('cable profiles', () => {
  it('when a profile is resolved with operator rates that do not fit the mux, then it is refused', () => {
    expect(() => resolveCableProfile('sd-mpeg2-576i50', { videoKbps: 3600 })).toThrow(/need a mux rate of at least/);
  });

  it('when an unknown profile is named, then the known ones are listed', () => {
    expect(() => resolveCableProfile('4k')).toThrow(/hd-h264-1080i50, hd-h264-720p50, sd-mpeg2-576i50/);
  });

  it('when overrides fit, then they replace the profile values and the H.264 buffer follows the rate', () => {
    const p = resolveCableProfile('hd-h264-1080i50', { videoKbps: 9000, muxKbps: 11000, gop: 12 });
    expect([p.video.bitrateKbps, p.video.bufsizeKbits, p.mux.rateKbps, p.video.gop]).toEqual([9000, 9000, 11000, 12]);
    expect(cableProfiles['hd-h264-1080i50'].video.bitrateKbps).toBe(8000);
  });
});
