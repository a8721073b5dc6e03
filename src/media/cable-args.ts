import type { CableProfile } from '../../config/cable-profiles.ts';

/** What the builders need to know about the source (from ffprobe). */
export interface CableSource {
  /** Absolute index of the video stream to use (`-map 0:{index}`). */
  videoIndex: number;
  /** Absolute index of the audio stream, null when the source has no sound. */
  audioIndex: number | null;
  width: number;
  height: number;
  /** Sample aspect ratio [num, den]; [1, 1] when unknown. */
  sar: [number, number];
  /** Display rotation in degrees (phone uploads); 90/270 swap width and height. */
  rotation: number;
  fps: number;
  interlaced: boolean;
  /** Field order when interlaced. */
  topFieldFirst: boolean;
  /** Colour matrix tagged on the source, if any (`bt709`, `bt601`...). */
  colorMatrix?: string;
  durationS: number;
}

/** Where the picture goes inside the profile's frame: scaled size, then centred bars. */
export interface CableFit {
  scaleWidth: number;
  scaleHeight: number;
  padX: number;
  padY: number;
  /** Sample aspect ratio of the output frame, reduced. */
  sar: [number, number];
}

export interface CableMovieArgsOptions {
  input: string;
  output: string;
  profile: CableProfile;
  source: CableSource;
  /** SDT service provider and name (ASCII); ffmpeg writes "FFmpeg"/"Service01" otherwise. */
  service?: { provider: string; name: string };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const reduce = (n: number, d: number): [number, number] => {
  const g = gcd(n, d);
  return [n / g, d / g];
};
const floorTo = (v: number, m: number): number => Math.floor(v / m) * m;
const roundTo = (v: number, m: number): number => Math.max(m, Math.round(v / m) * m);

/**
 * Fits the source picture into the profile's frame keeping its display aspect: letterbox (bars top and
 * bottom) for a wider source, pillarbox for a narrower one; never crops. Interlaced frames keep heights
 * and vertical offsets on multiples of 4 so both fields keep whole 4:2:0 chroma lines.
 */
export function fitToCableFrame(profile: CableProfile, source: Pick<CableSource, 'width' | 'height' | 'sar' | 'rotation'>): CableFit {
  const { width: W, height: H, displayAspect: [dn, dd], scan } = profile.video;
  const rotated = Math.abs(source.rotation % 180) === 90;
  const sw = rotated ? source.height : source.width;
  const sh = rotated ? source.width : source.height;
  const [sn, sd] = source.sar[0] > 0 && source.sar[1] > 0 ? source.sar : [1, 1];
  const srcAspect = rotated ? (sw * sd) / (sh * sn) : (sw * sn) / (sh * sd);
  const frameAspect = dn / dd;
  const vStep = scan === 'tff' ? 4 : 2;
  let scaleWidth = W;
  let scaleHeight = H;
  // within half a percent of the frame's aspect the bars would be a pixel or two: fill the frame instead
  if (srcAspect > frameAspect * 1.005) scaleHeight = Math.min(H, roundTo((H * frameAspect) / srcAspect, vStep));
  else if (srcAspect < frameAspect / 1.005) scaleWidth = Math.min(W, roundTo((W * srcAspect) / frameAspect, 2));
  return {
    scaleWidth,
    scaleHeight,
    padX: floorTo((W - scaleWidth) / 2, 2),
    padY: floorTo((H - scaleHeight) / 2, vStep),
    sar: reduce(dn * H, dd * W),
  };
}

const colorTags = {
  bt709: { matrix: 'bt709', primaries: 'bt709', trc: 'bt709', colorspace: 'bt709' },
  'bt601-625': { matrix: 'bt601', primaries: 'bt470bg', trc: 'smpte170m', colorspace: 'bt470bg' },
} as const;

/** The source's colour matrix for swscale; untagged sources follow the usual rule (HD 709, SD 601). */
function sourceMatrix(source: CableSource): string {
  const m = source.colorMatrix ?? '';
  if (m === 'bt709') return 'bt709';
  if (['bt470bg', 'smpte170m', 'bt601'].includes(m)) return 'bt601';
  if (m === 'bt2020nc' || m === 'bt2020c') return 'bt2020';
  return Math.min(source.width, source.height) >= 720 ? 'bt709' : 'bt601';
}

/** The video filter chain: deinterlace or keep fields, frame rate, scale + pad, field flags. */
export function cableVideoFilter(profile: CableProfile, source: CableSource): string {
  const v = profile.video;
  const fit = fitToCableFrame(profile, source);
  const interlacedOut = v.scan === 'tff';
  const keepFields = source.interlaced && interlacedOut && Math.abs(source.fps - v.fps) < 0.01;
  const chain: string[] = [];
  if (keepFields) {
    // same field rate in and out: keep both fields (no deinterlace), move bottom-first material to top-first
    if (!source.topFieldFirst) chain.push('fieldorder=tff');
  } else if (source.interlaced) {
    // one frame per field when the output frame rate can carry them (50i -> 50p), else one per frame
    chain.push(`bwdif=mode=${!interlacedOut && v.fps >= source.fps * 2 - 0.01 ? 'send_field' : 'send_frame'}`);
  }
  chain.push(`fps=${v.fps}`);
  const scale = [`scale=${fit.scaleWidth}:${fit.scaleHeight}`, 'flags=bicubic', `in_color_matrix=${sourceMatrix(source)}`, `out_color_matrix=${colorTags[v.color].matrix}`, 'out_range=tv'];
  if (keepFields) scale.push('interl=1');
  chain.push(scale.join(':'));
  if (fit.padX || fit.padY || fit.scaleWidth !== v.width || fit.scaleHeight !== v.height) {
    chain.push(`pad=${v.width}:${v.height}:${fit.padX}:${fit.padY}:black`);
  }
  chain.push(`setsar=${fit.sar[0]}/${fit.sar[1]}`);
  // flags every frame interlaced top-field-first: x264 and mpeg2video take the field order from it
  chain.push(interlacedOut ? 'setfield=tff' : 'setfield=prog');
  chain.push('format=yuv420p');
  return chain.join(',');
}

function videoCodecArgs(profile: CableProfile): string[] {
  const v = profile.video;
  const k = (n: number) => `${n}k`;
  const interlaced = v.scan === 'tff';
  const common = [
    // CBR: minrate = maxrate = bitrate with an HRD buffer (the mux rate is only constant if the video is)
    '-b:v', k(v.bitrateKbps), '-minrate', k(v.bitrateKbps), '-maxrate', k(v.bitrateKbps), '-bufsize', k(v.bufsizeKbits),
    // fixed GOP: no scene-cut I frames, so every GOP has the profile's length
    '-g', String(v.gop), '-bf', String(v.bFrames),
  ];
  const tags = colorTags[v.color];
  const color = ['-color_primaries', tags.primaries, '-color_trc', tags.trc, '-colorspace', tags.colorspace, '-color_range', 'tv'];
  if (v.codec === 'h264') {
    return [
      '-c:v', 'libx264', '-preset', v.preset, '-profile:v', v.profile, '-level:v', v.level,
      // +ildct: interlaced (MBAFF) coding; +cgop: closed GOPs (every I frame an IDR)
      '-flags', interlaced ? '+ilme+ildct+cgop' : '+cgop',
      ...(interlaced ? ['-field_order', 'tt'] : []),
      ...common,
      '-keyint_min', String(v.gop), '-sc_threshold', '0',
      ...(v.bPyramid ? [] : ['-b-pyramid', 'none']),
      // x264 has no weighted P prediction in interlaced coding (it would only warn and drop it)
      ...(interlaced ? ['-weightp', 'none'] : []),
      // nal-hrd=cbr: filler NAL units keep the video stream itself at a constant rate, HRD signalled
      '-nal-hrd', 'cbr',
      // access unit delimiters: required for H.264 in DVB transport streams (ETSI TS 101 154, 5.5.1)
      '-aud', '1',
      ...color,
    ];
  }
  return [
    '-c:v', 'mpeg2video',
    '-profile:v', v.profile === 'high' ? '1' : '4',
    '-level:v', v.level === 'high' ? '4' : '8',
    // +ilme+ildct: field-aware motion estimation and DCT; alternate scan suits interlaced blocks
    '-flags', interlaced ? '+ilme+ildct+cgop' : '+cgop',
    ...(interlaced ? ['-alternate_scan', '1', '-field_order', 'tt'] : []),
    ...common,
    // strict_gop: without it a closed GOP loses its last B run and comes out shorter than -g
    '-mpv_flags', '+strict_gop',
    // mpeg2video only disables scene-change I frames with a huge threshold
    '-sc_threshold', '1000000000',
    ...color,
  ];
}

/**
 * ffmpeg argv for the cable movie: one video and one audio stream in a single-program MPEG-TS at the
 * profile's constant mux rate (null packets fill what the streams leave), closed fixed GOPs, broadcast
 * scan and rate, 48 kHz stereo. A source without sound gets a silent track: set-top boxes expect one.
 */
export function cableMovieArgs(o: CableMovieArgsOptions): string[] {
  const { profile: p, source } = o;
  const a = p.audio;
  const audioIn = source.audioIndex !== null ? `[0:${source.audioIndex}]` : '[1:a:0]';
  const filter = [
    `[0:${source.videoIndex}]${cableVideoFilter(p, source)}[v]`,
    // async: fills gaps and drops overlaps (live recordings, reconnects) so sound stays in sync
    `${audioIn}aresample=async=1:first_pts=0,aformat=sample_fmts=fltp:sample_rates=${a.sampleRate}:channel_layouts=stereo[a]`,
  ].join(';');
  // progress on stdout for the runner; only warnings and errors on stderr, so its tail explains a failure
  const args = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning', '-progress', 'pipe:1', '-nostats', '-i', o.input];
  if (source.audioIndex === null) {
    args.push('-f', 'lavfi', '-t', source.durationS.toFixed(3), '-i', `anullsrc=channel_layout=stereo:sample_rate=${a.sampleRate}`);
  }
  args.push(
    '-filter_complex', filter,
    '-map', '[v]', '-map', '[a]',
    '-map_metadata', '-1', '-map_chapters', '-1',
    ...videoCodecArgs(p),
    '-c:a', a.codec, '-b:a', `${a.bitrateKbps}k`, '-ar', String(a.sampleRate), '-ac', String(a.channels),
    '-f', 'mpegts',
    '-muxrate', String(p.mux.rateKbps * 1000),
    '-pcr_period', String(p.mux.pcrPeriodMs),
    '-mpegts_service_id', '1',
  );
  if (p.mux.signalling === 'dvb') args.push('-mpegts_flags', '+system_b');
  if (o.service) args.push('-metadata', `service_provider=${ascii(o.service.provider)}`, '-metadata', `service_name=${ascii(o.service.name)}`);
  args.push(o.output);
  return args;
}

export interface CablePosterArgsOptions {
  input: string;
  output: string;
  profile: CableProfile;
  source: Pick<CableSource, 'videoIndex' | 'width' | 'height' | 'sar' | 'rotation' | 'durationS'>;
}

/** Where the poster frame is taken: a tenth into the lesson (past the title card), at most 60 s in. */
export function posterTimeS(durationS: number): number {
  if (!(durationS > 0)) return 0;
  return Math.round(Math.min(60, durationS * 0.1) * 1000) / 1000;
}

/** ffmpeg argv for the poster: one JPEG of the profile's poster size, letterboxed like the movie. */
export function cablePosterArgs(o: CablePosterArgsOptions): string[] {
  const { width: W, height: H } = o.profile.poster;
  const fit = fitToCableFrame(
    { ...o.profile, video: { ...o.profile.video, width: W, height: H, displayAspect: reduce(W, H), scan: 'progressive' } },
    o.source,
  );
  // JPEG is full range: scale straight into it so swscale converts once and correctly
  const vf = [`scale=${fit.scaleWidth}:${fit.scaleHeight}:flags=bicubic:out_range=pc`, 'setsar=1'];
  if (fit.scaleWidth !== W || fit.scaleHeight !== H) vf.push(`pad=${W}:${H}:${fit.padX}:${fit.padY}:black`);
  vf.push('format=yuvj420p');
  return [
    '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning',
    '-ss', posterTimeS(o.source.durationS).toFixed(3), '-i', o.input,
    '-map', `0:${o.source.videoIndex}`, '-frames:v', '1', '-an', '-sn', '-map_metadata', '-1',
    '-vf', vf.join(','),
    '-q:v', '2', '-f', 'image2', '-update', '1',
    o.output,
  ];
}

/** SDT strings are written as single-byte text: keep them printable ASCII. */
function ascii(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '').slice(0, 64) || 'classcast';
}
