/**
 * Pure ffmpeg argv builders for live lessons, on top of the VOD builders in ffmpeg-args.ts: the short
 * capture a run probes the pulled stream with, the live ladder (one pull, one decode, every rendition,
 * low-delay x264, 2 s segments), and the inputs of the recording's poster and storyboard.
 */
import { liveLadder, type LadderSpec, type VideoRungSpec } from '../../config/ladder.ts';
import { buildTranscodeArgs, fitInBox, planTranscode, type Rendition, type TranscodePlan, type VideoRendition } from './ffmpeg-args.ts';
import type { AudioStreamInfo, MediaInfo } from './media-info.ts';

/** The live ladder limited to the named video rungs (config LIVE_LADDER); fallback and audio-only stay. */
export function liveLadderSpec(names: readonly string[], base: LadderSpec = liveLadder): LadderSpec {
  const wanted = names.map((n) => n.trim()).filter(Boolean);
  const known = base.video.map((r) => r.name);
  const unknown = wanted.filter((n) => !known.includes(n));
  if (unknown.length) throw new Error(`unknown live rung(s) ${unknown.join(', ')}; the live ladder has ${known.join(', ')}`);
  const video = base.video.filter((r) => wanted.includes(r.name));
  if (!video.length) throw new Error('the live ladder needs at least one video rung');
  return { ...base, video };
}

/**
 * The session's renditions for a run's source. The first run decides the set (the master lists the
 * same variants for the whole session); a later run (a reconnect may bring another picture size) keeps
 * that set, each rung re-fitted to the new source and never upscaled.
 */
export function sessionRenditions(planned: readonly Rendition[], fixed: readonly string[], ladder: LadderSpec, display: { width: number; height: number }): Rendition[] {
  if (!fixed.length) return [...planned];
  const rungs: VideoRungSpec[] = [...ladder.video, ladder.fallback];
  return fixed.map((name): Rendition => {
    const p = planned.find((r) => r.name === name);
    if (p) return p;
    if (ladder.audioOnly?.name === name) return { kind: 'audio', name, audioKbps: ladder.audioOnly.audioKbps };
    const rung = rungs.find((r) => r.name === name);
    if (!rung) throw new Error(`rendition ${name} is not in the live ladder`);
    const size = fitInBox(display.width, display.height, rung.boxLong, rung.boxShort);
    const v: VideoRendition = { kind: 'video', name, ...size, crf: rung.crf, maxrateKbps: rung.maxrateKbps, bufsizeKbps: rung.bufsizeKbps, audioKbps: rung.audioKbps };
    return v;
  });
}

/**
 * A run's transcode plan from its probed source (issue 11 "real encoders' streams"). The session's
 * first run decides its renditions: a source without sound makes a video-only ladder (no audio-only
 * rendition, no silence: nothing to pace, nothing a student could want). A later run keeps that set:
 * sound that arrives later goes into the video renditions; a session with sound whose publisher comes
 * back without it gets (real-time paced) silence in each of them.
 */
export function planLiveRun(info: MediaInfo, ladder: LadderSpec, fixed: readonly string[]): TranscodePlan {
  const planned = planTranscode(info, ladder, { live: true });
  const wanted = info.audio ? planned.renditions : planned.renditions.filter((r) => r.kind === 'video');
  const renditions = sessionRenditions(wanted, fixed, ladder, { width: info.video.displayWidth, height: info.video.displayHeight });
  const soundless = !info.audio && renditions.every((r) => r.kind === 'video');
  return { ...planned, renditions, ...(soundless ? { soundless } : {}) };
}

/**
 * A run's plan for a source without picture (a radio-style lesson, issue 11): the audio-only
 * rendition alone, the master an audio-only one (CODECS mp4a). Null when the session already has
 * picture renditions (a publisher that comes back without its camera): the transcoder cannot fill
 * them, the capture keeps recording.
 */
export function planSoundOnlyRun(audio: AudioStreamInfo, ladder: LadderSpec, fixed: readonly string[]): TranscodePlan | null {
  const only = ladder.audioOnly;
  if (!only || fixed.some((n) => n !== only.name)) return null;
  return {
    renditions: [{ kind: 'audio', name: only.name, audioKbps: only.audioKbps }],
    // Not used without picture (no video filter, no keyframes), but the plan is one shape.
    fps: { num: 25, den: 1 },
    gopSeconds: ladder.gopSeconds,
    gopFrames: Math.round(ladder.gopSeconds * 25),
    segmentSeconds: ladder.segmentSeconds,
    durationS: null,
    video: { streamIndex: null, deinterlace: false, orient: [], hdr: null, padEndS: 0 },
    audio: { streamIndex: null, mono: audio.channels === 1 },
    audioSettings: ladder.audio,
  };
}

/** Microseconds, as ffmpeg's `-rw_timeout` takes them. */
const micros = (s: number): string => String(Math.round(s * 1e6));

/**
 * Options of every pull from the ingest. ffmpeg's RTMP client announces picture and sound whatever
 * the publisher sends, so opening a stream without one of them waited the whole default analysis
 * (5 s of media) for it: a video-only or audio-only lesson started 5 s late at every pull (issue 11).
 * One second of media still holds the publisher's first keyframe and sound (the ingest sends its
 * cached GOP at once).
 */
const pullOptions = (rwTimeoutS: number): string[] => [
  // A dead ingest or a stream without publisher must not hang the pull.
  '-rw_timeout', micros(rwTimeoutS),
  '-analyzeduration', '1000000',
];

export interface LiveProbeArgsOptions {
  input: string;
  /** A read that stalls this long fails the capture (no publisher). */
  rwTimeoutS: number;
  /** Media seconds to capture; the ingest sends its cached GOP at once, so this is usually instant. */
  seconds: number;
  output: string;
}

/** Copies the first seconds of the pulled stream into a local FLV for ffprobe (never re-encodes). */
export function buildLiveProbeArgs(o: LiveProbeArgsOptions): string[] {
  return [
    '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning',
    ...pullOptions(o.rwTimeoutS),
    '-i', o.input,
    '-map', '0:v?', '-map', '0:a?',
    '-c', 'copy',
    '-t', String(o.seconds),
    '-f', 'flv',
    o.output,
  ];
}

export interface LiveLadderArgsOptions {
  input: string;
  rwTimeoutS: number;
  /** Each rendition writes `{outDir}/{name}/index.m3u8` and `seg-%05d.ts` (local names; uploads are renamed). */
  outDir: string;
  plan: TranscodePlan;
  preset: string;
  /** Segments ffmpeg keeps listed locally; the uploader must take each one before it leaves the list. */
  localListSize: number;
}

/** One ffmpeg per run: the pulled stream through the whole live ladder into local HLS. */
export function buildLiveLadderArgs(o: LiveLadderArgsOptions): string[] {
  return withInputDump(buildTranscodeArgs({
    input: o.input,
    // A stalled pull ends the run (the worker then checks the session and pulls again).
    inputOptions: pullOptions(o.rwTimeoutS),
    outDir: o.outDir,
    plan: o.plan,
    preset: o.preset,
    // MPEG-TS for live: one format per session keeps discontinuities simple (no per-run EXT-X-MAP).
    segmentFormat: 'mpegts',
    // Segments stay on disk until uploaded (we delete them); PROGRAM-DATE-TIME is ours (live-ledger.ts).
    live: { listSize: o.localListSize, programDateTime: false, deleteSegments: false, playlistType: null },
  }));
}

/**
 * A live pull logs at info level: its input dump says where the pull started on the publisher's
 * timeline (src/media/source-time.ts), so its segments can be placed on it. The runner keeps only the
 * warnings for errors.
 */
function withInputDump(args: string[]): string[] {
  const i = args.indexOf('-loglevel');
  return i < 0 ? args : [...args.slice(0, i + 1), 'level+info', ...args.slice(i + 2)];
}

/**
 * ffconcat list: each file shown for `durationS` on one continuous timeline, whatever its own
 * timestamps (live runs restart them), so a storyboard over it matches the recording's timeline.
 */
export function buildConcatList(files: readonly { path: string; durationS: number }[]): string {
  const lines = ['ffconcat version 1.0'];
  for (const f of files) lines.push(`file '${f.path.replace(/'/g, "'\\''")}'`, `duration ${f.durationS.toFixed(6)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Remuxes (no re-encode) a concat list into one MPEG-TS with continuous timestamps: its picture
 * (storyboard input) or, with `allTracks`, picture and sound (a recording made from the capture).
 */
export function buildConcatRemuxArgs(o: { list: string; output: string; allTracks?: boolean }): string[] {
  return [
    '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning',
    // Our own list of local files: absolute paths are fine.
    '-f', 'concat', '-safe', '0',
    '-i', o.list,
    ...(o.allTracks ? ['-map', '0:v:0?', '-map', '0:a:0?'] : ['-map', '0:v:0']),
    '-c', 'copy',
    '-f', 'mpegts',
    o.output,
  ];
}

export interface CaptureArgsOptions {
  input: string;
  rwTimeoutS: number;
  /** Writes `{dir}/index.m3u8` and `seg-%05d.ts` (local names; uploads are renamed). */
  dir: string;
  segmentSeconds: number;
  localListSize: number;
}

/**
 * The capture (issue 11 "capture before transcode"): the pulled stream remuxed into local HLS, no
 * decode, so it costs a few percent of a core whatever the picture. Segments are cut at the
 * publisher's own keyframes once `segmentSeconds` have passed (longer when its keyframes are sparser).
 */
export function buildCaptureArgs(o: CaptureArgsOptions): string[] {
  return withInputDump([
    '-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning', '-nostats',
    // A stalled pull ends the run (the capture then checks the session and pulls again).
    ...pullOptions(o.rwTimeoutS),
    '-i', o.input,
    // Whatever tracks the publisher sends: picture only, sound only, or both.
    '-map', '0:v:0?', '-map', '0:a:0?',
    '-c', 'copy',
    '-f', 'hls',
    '-hls_time', String(o.segmentSeconds),
    '-hls_segment_type', 'mpegts',
    '-start_number', '0',
    // Segments stay on disk until uploaded (we delete them); temp_file: a listed segment is complete.
    '-hls_list_size', String(o.localListSize),
    '-hls_flags', 'independent_segments+temp_file',
    '-hls_segment_filename', `${o.dir}/seg-%05d.ts`,
    `${o.dir}/index.m3u8`,
  ]);
}
