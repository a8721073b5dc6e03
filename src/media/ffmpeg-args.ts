/**
 * Pure ffmpeg argument builders: plain values in, `string[]` argv out (never a shell string, never
 * config). The runner (src/infra/ffmpeg.runner.ts) executes them.
 *
 * One transcode = one ffmpeg process: one decode -> (deinterlace, fps, orientation, tone map) ->
 * split -> scale per rendition -> x264 + AAC -> HLS muxer per rendition, plus an audio-only rendition.
 */
import type { AudioSettings, LadderSpec, VideoRungSpec } from '../../config/ladder.ts';
import { rationalValue, type HdrTransfer, type MediaInfo, type Rational } from './media-info.ts';

export interface VideoRendition {
  kind: 'video';
  name: string;
  width: number;
  height: number;
  crf: number;
  maxrateKbps: number;
  bufsizeKbps: number;
  audioKbps: number;
}

export interface AudioRendition {
  kind: 'audio';
  name: string;
  audioKbps: number;
}

export type Rendition = VideoRendition | AudioRendition;

export interface VideoSourcePlan {
  /** Absolute stream index to map; null maps the first video stream (live inputs). */
  streamIndex: number | null;
  deinterlace: boolean;
  /** Filters that put the picture upright (from the display matrix), applied once before the split. */
  orient: string[];
  /** HDR transfer to tone-map to SDR BT.709, or null. */
  hdr: HdrTransfer | null;
  /** Seconds to hold the last picture after the video ends, so picture and sound end together. */
  padEndS: number;
}

export interface AudioSourcePlan {
  /** Absolute stream index; null maps the first audio stream (live inputs). */
  streamIndex: number | null;
  mono: boolean;
}

/**
 * Live passthrough (src/media/passthrough.ts): `rendition` is the source's video stream copied; the
 * other video renditions keep the source's frames and timestamps and are keyed at its keyframes.
 */
export interface PassthroughPlan {
  rendition: string;
  /** The source's keyframe period, seconds: the audio-only rendition is cut every period. */
  keyframePeriodS: number;
  /** The source's measured video rate, kb/s (the copied rendition's BANDWIDTH until measured). */
  sourceKbps: number;
  /**
   * The source's picture is BT.709 (so tagged, or untagged HD, which players show as BT.709): the lower
   * rungs keep its matrix, so they look like the copy, and their scaler skips a matrix conversion
   * that costs more than both downscales together (a fifth of a core at 720p30).
   */
  bt709: boolean;
  /**
   * Renditions whose sound is the source's own AAC copied (the source sends AAC-LC in the ladder's
   * sample rate and channels at a rate the rendition takes): no decode, no resample, no encode.
   * Absent or empty: every rendition's sound is encoded.
   */
  soundCopied?: string[];
}

export interface TranscodePlan {
  renditions: Rendition[];
  /** Constant output frame rate. */
  fps: Rational;
  /** Keyframe interval in seconds and its frame-count upper bound at the output rate. */
  gopSeconds: number;
  gopFrames: number;
  segmentSeconds: number;
  /** VOD: the output length (longer of picture and sound). Live: null (runs until the input ends). */
  durationS: number | null;
  video: VideoSourcePlan;
  /** null: the source has no sound; silence is generated so every rendition carries audio. */
  audio: AudioSourcePlan | null;
  /**
   * Live only: a session without sound (issue 11: a video-only publisher) gets a video-only ladder:
   * no audio track in any rendition, no audio-only rendition, no silence generated.
   */
  soundless?: boolean;
  audioSettings: AudioSettings;
  /** Live only: the top rendition copied from the source (absent or null: every rendition encoded). */
  passthrough?: PassthroughPlan | null;
}

/** Standard rates a measured or nominal rate snaps to, as exact rationals. */
const standardRates: Rational[] = [
  { num: 24000, den: 1001 }, { num: 24, den: 1 }, { num: 25, den: 1 }, { num: 30000, den: 1001 }, { num: 30, den: 1 },
  { num: 48, den: 1 }, { num: 50, den: 1 }, { num: 60000, den: 1001 }, { num: 60, den: 1 },
  { num: 10, den: 1 }, { num: 12, den: 1 }, { num: 15, den: 1 }, { num: 20, den: 1 },
  { num: 72, den: 1 }, { num: 90, den: 1 }, { num: 100, den: 1 }, { num: 120, den: 1 },
];

function gcd(a: number, b: number): number {
  return b ? gcd(b, a % b) : Math.abs(a);
}

function reduce(r: Rational): Rational {
  const g = gcd(r.num, r.den) || 1;
  return { num: r.num / g, den: r.den / g };
}

function nearestStandard(fps: number, maxRelDiff: number): Rational | null {
  let best: Rational | null = null;
  let bestDiff = Infinity;
  for (const s of standardRates) {
    const d = Math.abs(rationalValue(s) - fps) / rationalValue(s);
    if (d < bestDiff) {
      bestDiff = d;
      best = s;
    }
  }
  return best && bestDiff <= maxRelDiff ? best : null;
}

/**
 * The constant output frame rate: the source's nominal rate (snapped to a standard one), the average
 * for variable-rate sources, divided down to at most `maxFps` and multiplied up to at least `minFps`.
 */
export function chooseOutputFps(video: Pick<MediaInfo['video'], 'rFrameRate' | 'avgFrameRate' | 'vfr'>, maxFps: number, minFps: number): Rational {
  const valid = (r: Rational | null): r is Rational => !!r && rationalValue(r) >= 0.1 && rationalValue(r) <= 1000;
  let fps: Rational;
  if (video.vfr) {
    // Phones and screen recorders: r_frame_rate is the capture rate when it is a standard one.
    const nominal = valid(video.rFrameRate) ? nearestStandard(rationalValue(video.rFrameRate), 0.005) : null;
    const avg = valid(video.avgFrameRate) ? rationalValue(video.avgFrameRate) : 30;
    fps = nominal ?? nearestStandard(avg, Infinity) ?? { num: 30, den: 1 };
  } else {
    const src = valid(video.rFrameRate) ? video.rFrameRate : valid(video.avgFrameRate) ? video.avgFrameRate : { num: 30, den: 1 };
    fps = nearestStandard(rationalValue(src), 0.005) ?? reduce({ num: Math.round(rationalValue(src) * 1000), den: 1000 });
  }
  const v = rationalValue(fps);
  if (v > maxFps + 1e-6) fps = reduce({ num: fps.num, den: fps.den * Math.ceil(v / maxFps - 1e-9) });
  else if (v < minFps - 1e-6) fps = reduce({ num: fps.num * Math.ceil(minFps / v - 1e-9), den: fps.den });
  return reduce(fps);
}

/** The nearest even size, at least 2 (4:2:0 chroma needs even sides). */
export const even = (n: number): number => Math.max(2, 2 * Math.round(n / 2));
const evenDown = (n: number): number => Math.max(2, 2 * Math.floor(n / 2));

/** Size of a rendition in a bounding box: aspect kept, never upscaled, even sides, never above the source. */
export function fitInBox(displayW: number, displayH: number, boxLong: number, boxShort: number): { width: number; height: number } {
  const landscape = displayW >= displayH;
  const boxW = landscape ? boxLong : boxShort;
  const boxH = landscape ? boxShort : boxLong;
  const scale = Math.min(1, boxW / displayW, boxH / displayH);
  return {
    width: Math.min(even(displayW * scale), evenDown(displayW)),
    height: Math.min(even(displayH * scale), evenDown(displayH)),
  };
}

function videoRendition(rung: VideoRungSpec, size: { width: number; height: number }): VideoRendition {
  return { kind: 'video', name: rung.name, ...size, crf: rung.crf, maxrateKbps: rung.maxrateKbps, bufsizeKbps: rung.bufsizeKbps, audioKbps: rung.audioKbps };
}

/**
 * Filters that display the picture upright, following ffmpeg's own autorotate rules (including the
 * mirrored matrices some front cameras write), so planned sizes and the real output agree.
 */
export function orientFilters(rotation: 0 | 90 | 180 | 270, matrix: number[] | null): string[] {
  const m = matrix ?? [];
  switch (rotation) {
    case 90:
      return [m[3] !== undefined && m[3] > 0 ? 'transpose=cclock_flip' : 'transpose=clock'];
    case 180:
      if (!matrix) return ['hflip', 'vflip'];
      return [...(m[0] < 0 ? ['hflip'] : []), ...(m[4] < 0 ? ['vflip'] : [])];
    case 270:
      return [m[3] !== undefined && m[3] < 0 ? 'transpose=clock_flip' : 'transpose=cclock'];
    default:
      return matrix && m[4] < 0 ? ['vflip'] : [];
  }
}

/**
 * The renditions a source gets: every rung it reaches (long or short side at least `reachShare` of the
 * rung's box), sized to fit, never upscaled; at least two video rungs (the lowest rung clamped to the
 * source, then the fallback); the audio-only rendition last.
 */
export function planRenditions(displayW: number, displayH: number, ladder: LadderSpec): Rendition[] {
  const long = Math.max(displayW, displayH);
  const short = Math.min(displayW, displayH);
  const chosen: VideoRendition[] = [];
  for (const rung of ladder.video) {
    if (long >= rung.boxLong * ladder.reachShare || short >= rung.boxShort * ladder.reachShare) {
      chosen.push(videoRendition(rung, fitInBox(displayW, displayH, rung.boxLong, rung.boxShort)));
    }
  }
  if (chosen.length === 0 && ladder.video.length) {
    const lowest = ladder.video[ladder.video.length - 1];
    chosen.push(videoRendition(lowest, fitInBox(displayW, displayH, lowest.boxLong, lowest.boxShort)));
  }
  if (chosen.length < 2) {
    const last = chosen[chosen.length - 1];
    let size = fitInBox(displayW, displayH, ladder.fallback.boxLong, ladder.fallback.boxShort);
    if (last && size.width * size.height >= last.width * last.height) size = { width: even((last.width * 2) / 3), height: even((last.height * 2) / 3) };
    chosen.push(videoRendition(ladder.fallback, size));
  }
  const out: Rendition[] = [...chosen];
  if (ladder.audioOnly) out.push({ kind: 'audio', name: ladder.audioOnly.name, audioKbps: ladder.audioOnly.audioKbps });
  return out;
}

export interface PlanOptions {
  /** Live inputs: no known length, map the first streams, no end padding. */
  live?: boolean;
}

/** Plans a transcode of a probed source with a ladder. */
export function planTranscode(info: MediaInfo, ladder: LadderSpec, opts: PlanOptions = {}): TranscodePlan {
  const v = info.video;
  const fps = chooseOutputFps(v, ladder.maxFps, ladder.minFps);
  const frame = 1 / rationalValue(fps);
  const audioLonger = info.audioEndS !== null ? info.audioEndS - info.videoEndS : 0;
  return {
    renditions: planRenditions(v.displayWidth, v.displayHeight, ladder),
    fps,
    gopSeconds: ladder.gopSeconds,
    gopFrames: Math.ceil(ladder.gopSeconds * rationalValue(fps) - 1e-6),
    segmentSeconds: ladder.segmentSeconds,
    durationS: opts.live ? null : round6(info.durationS),
    video: {
      streamIndex: opts.live ? null : v.index,
      deinterlace: v.interlaced,
      orient: orientFilters(v.rotation, v.displayMatrix),
      hdr: v.hdr,
      // Decision (issue 3): sound that outlasts the picture is kept (a teacher's last words matter more
      // than a frozen frame), holding the last picture; shorter sound is padded with silence.
      padEndS: !opts.live && audioLonger > frame ? round6(audioLonger) : 0,
    },
    audio: info.audio ? { streamIndex: opts.live ? null : info.audio.index, mono: info.audio.channels === 1 } : null,
    audioSettings: ladder.audio,
  };
}

const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;
/** Seconds as ffmpeg reads them (at most 6 decimals). */
export const fmtS = (n: number): string => String(round6(n));
const fpsText = (r: Rational): string => (r.den === 1 ? String(r.num) : `${r.num}/${r.den}`);

export interface LiveOutputOptions {
  /** Viewer window in segments (0 keeps every segment: the recording). */
  listSize: number;
  /** EXT-X-PROGRAM-DATE-TIME on every segment (REFERENCE live rules). */
  programDateTime: boolean;
  /** Remove segments that left the window (only with listSize > 0). */
  deleteSegments: boolean;
  /** `event` while recording the whole session, null for a sliding window only. */
  playlistType: 'event' | null;
}

export interface TranscodeArgsOptions {
  input: string;
  /** Options placed before `-i` (e.g. live: `-rw_timeout`). */
  inputOptions?: string[];
  /** Each rendition writes `{outDir}/{name}/index.m3u8` and its segments. */
  outDir: string;
  plan: TranscodePlan;
  /** x264 preset (speed/size trade-off). */
  preset: string;
  segmentFormat: 'mpegts' | 'fmp4';
  /** Live output: low-delay encoder settings and a rolling playlist. */
  live?: LiveOutputOptions;
  /** Only these renditions (by name), e.g. a re-encode of one rendition with a lower cap. */
  only?: string[];
}

/** File name pattern of segments (and fMP4 init) inside a rendition folder. */
export function segmentPattern(format: 'mpegts' | 'fmp4'): string {
  return format === 'fmp4' ? 'seg-%05d.m4s' : 'seg-%05d.ts';
}

/** The renditions whose sound is the source's copied (passthrough runs whose source sends ladder-ready AAC). */
const soundCopied = (plan: TranscodePlan, r: Rendition): boolean => !!plan.audio && !plan.soundless && !!plan.passthrough?.soundCopied?.includes(r.name);

/** The filter graph: one decode, shared conditioning, split, one scale per video rendition. */
export function buildFilterGraph(plan: TranscodePlan, renditions: Rendition[]): string {
  const copied = plan.passthrough?.rendition;
  const videos = renditions.filter((r): r is VideoRendition => r.kind === 'video' && r.name !== copied);
  // One sound branch per rendition whose sound is encoded, labelled [a0].. in rendition order.
  const audioCount = renditions.filter((r) => !soundCopied(plan, r)).length;
  const parts: string[] = [];
  const fps = fpsText(plan.fps);
  const vIn = plan.video.streamIndex === null ? '[0:v:0]' : `[0:${plan.video.streamIndex}]`;
  const common: string[] = [];
  // Deinterlace first, at full resolution, before any resize mixes the fields.
  if (plan.video.deinterlace) common.push('bwdif=mode=send_frame:parity=auto:deint=all');
  // Constant output rate (VFR phones, 60 -> 30); start_time=0 fills a late first frame so every rendition starts at 0.
  // Passthrough keeps the source's own frames and timestamps, those of the copied rendition.
  if (!plan.passthrough) common.push(plan.durationS === null ? `fps=fps=${fps}` : `fps=fps=${fps}:start_time=0`);
  if (plan.video.padEndS > 0 && plan.durationS !== null) {
    // Sound outlasts the picture: hold the last frame, then cut exactly at the lesson's end.
    common.push(`tpad=stop_mode=clone:stop_duration=${fmtS(plan.video.padEndS + 1)}`, `trim=end=${fmtS(plan.durationS)}`);
  }
  common.push(...plan.video.orient);
  if (plan.video.hdr) {
    // HDR (PQ/HLG phones) to SDR BT.709: linearise, tone map, back to BT.709 limited range.
    common.push('zscale=t=linear:npl=100', 'format=gbrpf32le', 'zscale=p=bt709', 'tonemap=tonemap=hable:desat=0', 'zscale=t=bt709:m=bt709:r=tv', 'format=yuv420p');
  }
  if (videos.length) {
    const outs = videos.map((_, i) => `[s${i}]`).join('');
    parts.push(`${vIn}${[...common, `split=${videos.length}${outs}`].join(',')}`);
    videos.forEach((r, i) => {
      // Exact even size (square pixels after setsar=1); BT.709 matrix so SD sources keep their colours.
      // A BT.709 picture beside its copy needs no conversion, only a resize: zimg's, with swscale's own
      // bicubic (B=0, C=0.6; luma within 0.01 % of it), costs two thirds of swscale's (0.02 core less at 720p30).
      const resize = plan.passthrough?.bt709
        ? `zscale=w=${r.width}:h=${r.height}:filter=bicubic:param_a=0:param_b=0.6`
        : `scale=${r.width}:${r.height}:out_color_matrix=bt709:out_range=tv`;
      parts.push(`[s${i}]${resize},setsar=1,format=yuv420p[v${i}]`);
    });
  }
  if (plan.soundless) {
    if (renditions.some((r) => r.kind === 'audio')) throw new Error('an audio-only rendition needs sound');
    return parts.join(';');
  }
  if (!audioCount) return parts.join(';');
  const aOuts = Array.from({ length: audioCount }, (_, i) => `[a${i}]`).join('');
  const rate = plan.audioSettings.sampleRate;
  // Whole AAC frames (1024 samples) ending at or just before the lesson's end: with the encoder's
  // 1024-sample priming, the audio-only rendition then spans [-1 frame, end] and stays within one
  // frame of the video renditions (REFERENCE: same time range).
  const samples = plan.durationS === null ? 0 : Math.floor((plan.durationS * rate) / 1024) * 1024;
  const tail = plan.durationS === null ? '' : `,apad,atrim=end_sample=${samples}`;
  if (plan.audio) {
    const aIn = plan.audio.streamIndex === null ? '[0:a:0]' : `[0:${plan.audio.streamIndex}]`;
    // async fills gaps and drops overlaps in phone audio timestamps; first_pts=0 aligns sound with picture.
    const chain = [`aresample=${rate}:async=1:first_pts=0`];
    // Mono goes to both ears at full level; everything else downmixes to stereo with the standard matrix.
    chain.push(plan.audio.mono ? 'aformat=channel_layouts=mono,pan=stereo|FL=FC|FR=FC' : 'aformat=sample_fmts=fltp:channel_layouts=stereo');
    parts.push(`${aIn}${chain.join(',')}${tail},asplit=${audioCount}${aOuts}`);
  } else {
    // No audio track: silence, so every rendition (and the audio-only one) still has a sound track.
    // Live, only when a session with sound gets a publisher without it (a session without sound has
    // no audio track at all: `soundless`): nothing paces the audio-only rendition's silence, so once
    // the picture stops its list runs ahead; the uploader waits for positions every rendition has
    // (readySlots) and the run ends with the session. Not paced with arealtime: a refill encodes a
    // captured file with the same argv, and paced silence never lets -shortest end it.
    const end = plan.durationS === null ? '' : `,atrim=end_sample=${samples}`;
    parts.push(`anullsrc=channel_layout=stereo:sample_rate=${rate}${end},asplit=${audioCount}${aOuts}`);
  }
  return parts.join(';');
}

/** argv of the single-process ladder transcode. */
export function buildTranscodeArgs(o: TranscodeArgsOptions): string[] {
  const plan = o.plan;
  const renditions = o.only ? plan.renditions.filter((r) => o.only!.includes(r.name)) : plan.renditions;
  if (!renditions.length) throw new Error('no rendition to encode');
  const audio = plan.audioSettings;
  const args: string[] = [
    '-hide_banner',
    '-nostdin',
    '-y',
    // Tagged warnings and errors only: the runner keeps the tail for the job's error.
    '-loglevel', 'level+warning',
    // Machine-readable progress (out_time_us) on stdout; a vanished parent also kills ffmpeg via SIGPIPE.
    '-progress', 'pipe:1',
    '-nostats',
    // We orient the picture ourselves from the probed display matrix, so planned sizes are exact.
    '-noautorotate',
    ...(o.inputOptions ?? []),
    // Passthrough decodes at most 720p30 for two small rungs: one decoding thread costs less CPU than
    // frame threads (no hand-offs between threads at every frame) and delays no frame.
    ...(plan.passthrough ? ['-threads', '1'] : []),
    '-i', o.input,
    '-filter_complex', buildFilterGraph(plan, renditions),
  ];
  const gop = String(plan.gopFrames);
  const pass = plan.passthrough ?? null;
  let vi = 0;
  let ai = 0;
  renditions.forEach((r) => {
    const dir = `${o.outDir}/${r.name}`;
    // The rendition's sound: the source's AAC as it came, or its own branch of the graph.
    const aIn = plan.audio?.streamIndex == null ? '0:a:0' : `0:${plan.audio.streamIndex}`;
    const sound = plan.soundless ? [] : soundCopied(plan, r) ? ['-map', aIn] : ['-map', `[a${ai++}]`];
    if (pass && r.name === pass.rendition) {
      // The publisher's own picture, as it came: no decode, no encode (issue 11 item 2).
      args.push('-map', plan.video.streamIndex === null ? '0:v:0' : `0:${plan.video.streamIndex}`, ...sound, '-c:v', 'copy');
    } else if (r.kind === 'video') {
      args.push(
        '-map', `[v${vi++}]`,
        ...sound,
        '-c:v', 'libx264',
        // Passthrough's small rungs: one x264 thread each (a 480p or 360p encode is a tenth of a core),
        // no slice threads to wake and join at every frame; each frame whole (no slices) codes better too.
        ...(pass ? ['-threads', '1'] : []),
        '-preset', o.preset,
        // High profile 8-bit 4:2:0: what every HLS client decodes (DESIGN.md).
        '-profile:v', 'high',
        '-pix_fmt', 'yuv420p',
        // Capped CRF: quality-targeted, held under the rung's cap by the VBV.
        '-crf', String(r.crf),
        '-maxrate', `${r.maxrateKbps}k`,
        '-bufsize', `${r.bufsizeKbps}k`,
        ...(pass ? passthroughKeying(plan) : [
          // Fixed GOP, no scene-cut keyframes: keyframes at the same instants in every rendition.
          '-g', gop,
          '-keyint_min', gop,
          '-sc_threshold', '0',
          // A keyframe at every GOP boundary in time, whatever the frame rate (29.97 -> 59/60-frame GOPs).
          '-force_key_frames', `expr:gte(t,n_forced*${plan.gopSeconds})`,
        ]),
        ...(o.live ? ['-tune', 'zerolatency'] : []),
        '-colorspace', 'bt709',
        '-color_primaries', 'bt709',
        '-color_trc', 'bt709',
        '-color_range', 'tv',
      );
    } else {
      args.push(...sound);
    }
    if (!plan.soundless && soundCopied(plan, r)) {
      args.push('-c:a', 'copy');
    } else if (!plan.soundless) {
      args.push('-c:a', 'aac', '-profile:a', audio.profile, '-b:a', `${r.audioKbps}k`, '-ar', String(audio.sampleRate), '-ac', String(audio.channels));
    }
    args.push(
      '-map_metadata', '-1',
      '-map_chapters', '-1',
      // x264 lookahead holds video back while audio packets queue: let the queue grow instead of failing.
      '-max_muxing_queue_size', '4096',
      // Keep encoder timestamps as they are in every output (the same B-frame/priming offsets), so
      // segment boundaries of all renditions carry the same PTS (REFERENCE: aligned boundaries).
      '-avoid_negative_ts', 'disabled',
      ...(plan.durationS === null && !plan.audio && !plan.soundless ? ['-shortest'] : []),
      '-f', 'hls',
      '-hls_time', hlsTime(plan, r),
      '-hls_segment_type', o.segmentFormat,
      // fMP4: negative composition offsets make the first picture start at time 0 like the audio-only
      // track, without relying on edit lists (which HLS players ignore in fragments).
      '-hls_segment_options', o.segmentFormat === 'fmp4' ? 'avoid_negative_ts=disabled:movflags=+negative_cts_offsets' : 'avoid_negative_ts=disabled',
      '-start_number', '0',
    );
    if (o.segmentFormat === 'fmp4') args.push('-hls_fmp4_init_filename', 'init.mp4');
    if (o.live) {
      const flags = ['independent_segments', 'temp_file'];
      if (o.live.programDateTime) flags.push('program_date_time');
      if (o.live.deleteSegments && o.live.listSize > 0) flags.push('delete_segments');
      args.push('-hls_list_size', String(o.live.listSize), '-hls_flags', flags.join('+'));
      if (o.live.playlistType) args.push('-hls_playlist_type', o.live.playlistType);
    } else {
      args.push('-hls_list_size', '0', '-hls_playlist_type', 'vod', '-hls_flags', 'independent_segments');
    }
    args.push('-hls_segment_filename', `${dir}/${segmentPattern(o.segmentFormat)}`, `${dir}/index.m3u8`);
  });
  return args;
}

/**
 * Video renditions encoded beside a copied one: keyframes exactly where the source has them and
 * nowhere else, on the source's own timestamps, so every rendition's segments start at the same PTS.
 */
function passthroughKeying(plan: TranscodePlan): string[] {
  return [
    // Far beyond any keyframe spacing a copy accepts: only the source's keyframes key this rendition.
    '-g', String(plan.gopFrames * 10),
    '-sc_threshold', '0',
    '-force_key_frames', 'source',
    // The source's frames and timestamps as they are (no rate conversion, no rounding to a 1/fps
    // grid): RTMP/FLV timestamps are milliseconds, the copied rendition keeps them too.
    '-fps_mode:v', 'passthrough',
    '-enc_time_base:v', '1:1000',
  ];
}

/**
 * Segment length asked of the HLS muxer, which cuts at the first keyframe at least that far past
 * the previous cut's target. Passthrough: half the source's keyframe period makes every video
 * rendition cut at every keyframe (the same ones everywhere); the audio-only rendition, which has no
 * keyframes, cuts every whole period, within one AAC frame of the video cuts.
 */
function hlsTime(plan: TranscodePlan, r: Rendition): string {
  const pass = plan.passthrough;
  if (!pass) return String(plan.segmentSeconds);
  return String(r.kind === 'audio' ? pass.keyframePeriodS : round6(pass.keyframePeriodS / 2));
}

/** FRAME-RATE value (3 decimals) of a rational rate. */
export function frameRateText(r: Rational): string {
  return rationalValue(r).toFixed(3);
}
