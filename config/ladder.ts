/**
 * The rendition ladders as data (DESIGN.md "HLS output", REFERENCE.md ladder table). The planner in
 * src/media/ffmpeg-args.ts picks the rungs a source reaches (never upscaling) and sizes them; nothing
 * here is read from the environment.
 *
 * Bit rates are *caps* on a capped-CRF encode (x264 `-crf` + `-maxrate` + `-bufsize`): static slides
 * come out far below the cap, motion is held at it. Caps follow Apple's authoring table: 1080p at
 * 6000 and 720p at 3000 (its lower tiers); 854x480 at 1500, between 768x432@1100 and 960x540@2000;
 * 640x360 at 730 (Apple's 768x432 tier: twice its 640x360@365, so slide text stays legible); the
 * 240p fallback at 300 (Apple's 416x234@145 doubled, same reason).
 */

/** A video rung. Sizes are a bounding box: landscape sources fit long x short, portrait ones short x long. */
export interface VideoRungSpec {
  /** Directory and playlist name, e.g. `720p` (named after the short side of the box). */
  readonly name: string;
  /** Long side of the bounding box, pixels. */
  readonly boxLong: number;
  /** Short side of the bounding box, pixels. */
  readonly boxShort: number;
  /** x264 constant rate factor (quality target) before the cap applies. */
  readonly crf: number;
  /** Rate cap, kb/s (x264 VBV maxrate). */
  readonly maxrateKbps: number;
  /** VBV buffer, kb: 2x the cap lets a slide change spend bits over ~2 s without breaking the cap. */
  readonly bufsizeKbps: number;
  /** AAC bit rate muxed into this rendition, kb/s. */
  readonly audioKbps: number;
}

/** The audio-only rendition for weak links (REFERENCE: a variant at or under 192 kb/s). */
export interface AudioOnlySpec {
  readonly name: string;
  readonly audioKbps: number;
}

/** Audio shared by every rendition: AAC-LC stereo 48 kHz (DESIGN.md). */
export interface AudioSettings {
  readonly codec: 'aac';
  /** ffmpeg `-profile:a` value; LC is what every HLS client decodes (HE-AAC only pays below 64 kb/s). */
  readonly profile: 'aac_low';
  readonly sampleRate: 48000;
  readonly channels: 2;
}

export interface LadderSpec {
  /** Video rungs, highest first. */
  readonly video: readonly VideoRungSpec[];
  /**
   * Added under the lowest regular rung only when fewer than two rungs fit the source (tiny phone or
   * screen captures), so the master always offers two video bit rates (REFERENCE).
   */
  readonly fallback: VideoRungSpec;
  readonly audioOnly: AudioOnlySpec | null;
  readonly audio: AudioSettings;
  /** A source reaches a rung when its long or short side is at least this share of the box's. */
  readonly reachShare: number;
  /** HLS segment duration, seconds (6 s VOD, 2 s live: DESIGN.md). */
  readonly segmentSeconds: number;
  /** Fixed keyframe interval, seconds; segments are cut at keyframes, so it divides segmentSeconds. */
  readonly gopSeconds: number;
  /** Output frame rate ceiling; faster sources are divided down (60 -> 30, 50 -> 25). */
  readonly maxFps: number;
  /** Output frame rate floor (slideshows, still-image videos) so a 2 s GOP always has frames. */
  readonly minFps: number;
}

const audio: AudioSettings = { codec: 'aac', profile: 'aac_low', sampleRate: 48000, channels: 2 };

const r1080: VideoRungSpec = { name: '1080p', boxLong: 1920, boxShort: 1080, crf: 23, maxrateKbps: 6000, bufsizeKbps: 12000, audioKbps: 128 };
const r720: VideoRungSpec = { name: '720p', boxLong: 1280, boxShort: 720, crf: 23, maxrateKbps: 3000, bufsizeKbps: 6000, audioKbps: 128 };
const r480: VideoRungSpec = { name: '480p', boxLong: 854, boxShort: 480, crf: 23, maxrateKbps: 1500, bufsizeKbps: 3000, audioKbps: 128 };
const r360: VideoRungSpec = { name: '360p', boxLong: 640, boxShort: 360, crf: 24, maxrateKbps: 730, bufsizeKbps: 1460, audioKbps: 96 };
const r240: VideoRungSpec = { name: '240p', boxLong: 426, boxShort: 240, crf: 25, maxrateKbps: 300, bufsizeKbps: 600, audioKbps: 64 };

/** Recorded lessons: 6 s segments, 1080p only when the source has it. */
export const vodLadder: LadderSpec = {
  video: [r1080, r720, r480, r360],
  fallback: r240,
  audioOnly: { name: 'audio', audioKbps: 64 },
  audio,
  reachShare: 0.95,
  segmentSeconds: 6,
  gopSeconds: 2,
  maxFps: 30,
  minFps: 10,
};

/**
 * Live lessons: 2 s segments (one GOP each) for latency; no 1080p rung so one worker core pair keeps up
 * in real time with low-delay x264 settings.
 */
export const liveLadder: LadderSpec = {
  video: [r720, r480, r360],
  fallback: r240,
  audioOnly: { name: 'audio', audioKbps: 64 },
  audio,
  reachShare: 0.95,
  segmentSeconds: 2,
  gopSeconds: 2,
  maxFps: 30,
  minFps: 10,
};
