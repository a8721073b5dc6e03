import { z } from 'zod';

/**
 * Cable VOD delivery profiles as data (REFERENCE.md, "The movie file"). A profile fixes what the set-top
 * box receives: one single-program MPEG-TS at a constant mux rate, closed GOPs, broadcast scan and rate.
 * Rates marked (operator) come from the cable operator's delivery spec; override them through config
 * (CABLE_VIDEO_KBPS, CABLE_MUX_KBPS, CABLE_AUDIO_CODEC, CABLE_AUDIO_KBPS, CABLE_GOP, CABLE_X264_PRESET).
 *
 * The catalog resolves the profile when it queues a package and puts it whole into the job payload, so a
 * package records exactly what it was made with and workers need no cable configuration.
 */
export const cableProfileSchema = z.object({
  name: z.string().regex(/^[a-z0-9-]{1,40}$/),
  description: z.string(),
  video: z.object({
    codec: z.enum(['h264', 'mpeg2']),
    width: z.number().int().min(16).max(4096),
    height: z.number().int().min(16).max(2304),
    /** Display aspect ratio of the full frame, e.g. [16, 9]; non-square pixels when it differs from width:height. */
    displayAspect: z.tuple([z.number().int().positive(), z.number().int().positive()]),
    /** `tff`: interlaced, top field first (1080i/576i); `progressive` (720p). */
    scan: z.enum(['tff', 'progressive']),
    /** Frames per second (25 for 1080i50/576i50: 50 fields). China broadcasts at 25/50 Hz. */
    fps: z.number().int().min(1).max(60),
    bitrateKbps: z.number().int().min(100),
    /** VBV / HRD buffer, kbit. */
    bufsizeKbits: z.number().int().min(100),
    /** Frames from one I frame to the next; every GOP closed. */
    gop: z.number().int().min(1).max(300),
    bFrames: z.number().int().min(0).max(3),
    /** H.264: `high`/`main`; MPEG-2: `main`. */
    profile: z.enum(['high', 'main']),
    /** H.264: `3.1`..`5.1`; MPEG-2: `main` (ML) or `high` (HL). */
    level: z.string().regex(/^(?:[345]\.[0-2]|[345]|main|high)$/),
    /** x264 speed preset (H.264 only). veryfast: half the CPU of fast for 1080i at 8 Mb/s, PSNR 48.8 vs 50.0 dB (measured on testsrc2). */
    preset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow']),
    /** Hierarchical B frames (H.264 only); off is the conservative choice for set-top decoders (operator). */
    bPyramid: z.boolean(),
    /** Colour matrix, primaries and transfer written: BT.709 for HD, BT.601 625-line for SD. */
    color: z.enum(['bt709', 'bt601-625']),
  }),
  audio: z.object({
    codec: z.enum(['ac3', 'aac']),
    bitrateKbps: z.number().int().min(32).max(640),
    sampleRate: z.literal(48000),
    channels: z.literal(2),
  }),
  mux: z.object({
    /** Constant transport rate, kb/s, null packets filling the gap (operator). */
    rateKbps: z.number().int().min(500),
    /** PCR repetition, ms (ETSI TR 101 290 1.5.a: at most 40 ms). */
    pcrPeriodMs: z.number().int().min(10).max(40),
    /** `dvb`: AC-3 as private data + AC-3 descriptor (DVB-C, ETSI TS 101 154); `atsc`: stream type 0x81 (SCTE/ATSC). */
    signalling: z.enum(['dvb', 'atsc']),
  }),
  poster: z.object({ width: z.number().int().min(16).max(3840), height: z.number().int().min(16).max(2160) }),
});
export type CableProfile = z.infer<typeof cableProfileSchema>;

export const cableProfiles = {
  'hd-h264-1080i50': {
    name: 'hd-h264-1080i50',
    description: 'HD H.264 High@4.0, 1920x1080 interlaced TFF 25 fps (1080i50), 8 Mb/s video in a 12 Mb/s CBR mux, AC-3 192 kb/s stereo',
    video: {
      codec: 'h264', width: 1920, height: 1080, displayAspect: [16, 9], scan: 'tff', fps: 25,
      bitrateKbps: 8000, bufsizeKbits: 8000, gop: 25, bFrames: 2, profile: 'high', level: '4.0',
      preset: 'veryfast', bPyramid: false, color: 'bt709',
    },
    audio: { codec: 'ac3', bitrateKbps: 192, sampleRate: 48000, channels: 2 },
    mux: { rateKbps: 12000, pcrPeriodMs: 20, signalling: 'dvb' },
    poster: { width: 640, height: 360 },
  },
  'hd-h264-720p50': {
    name: 'hd-h264-720p50',
    description: 'HD H.264 High@3.2, 1280x720 progressive 50 fps, 6 Mb/s video in an 8 Mb/s CBR mux, AC-3 192 kb/s stereo',
    video: {
      codec: 'h264', width: 1280, height: 720, displayAspect: [16, 9], scan: 'progressive', fps: 50,
      bitrateKbps: 6000, bufsizeKbits: 6000, gop: 50, bFrames: 2, profile: 'high', level: '3.2',
      preset: 'veryfast', bPyramid: false, color: 'bt709',
    },
    audio: { codec: 'ac3', bitrateKbps: 192, sampleRate: 48000, channels: 2 },
    mux: { rateKbps: 8000, pcrPeriodMs: 20, signalling: 'dvb' },
    poster: { width: 640, height: 360 },
  },
  'sd-mpeg2-576i50': {
    name: 'sd-mpeg2-576i50',
    description: 'SD MPEG-2 MP@ML, 720x576 4:3 interlaced TFF 25 fps (576i50), 3.2 Mb/s video in a 3.75 Mb/s CBR mux, AC-3 192 kb/s stereo',
    video: {
      // 1835 kbit: the MP@ML VBV buffer limit (ISO/IEC 13818-2 table 8-13)
      codec: 'mpeg2', width: 720, height: 576, displayAspect: [4, 3], scan: 'tff', fps: 25,
      bitrateKbps: 3200, bufsizeKbits: 1835, gop: 12, bFrames: 2, profile: 'main', level: 'main',
      preset: 'veryfast', bPyramid: false, color: 'bt601-625',
    },
    audio: { codec: 'ac3', bitrateKbps: 192, sampleRate: 48000, channels: 2 },
    mux: { rateKbps: 3750, pcrPeriodMs: 20, signalling: 'dvb' },
    poster: { width: 480, height: 360 },
  },
} satisfies Record<string, CableProfile>;

export type CableProfileName = keyof typeof cableProfiles;
export const defaultCableProfile: CableProfileName = 'hd-h264-1080i50';

export interface CableProfileOverrides {
  videoKbps?: number;
  muxKbps?: number;
  audioCodec?: 'ac3' | 'aac';
  audioKbps?: number;
  gop?: number;
  preset?: CableProfile['video']['preset'];
}

/**
 * Transport overhead the mux must leave room for: 4 header bytes per 188 (2.2 %), PES headers,
 * PCR adaptation fields and PAT/PMT/SDT repetition, plus margin for the encoder's short-term peaks.
 */
const muxOverhead = 1.06;
const tableKbps = 60;

/**
 * The profile named `name` with operator overrides applied. Throws when the name is unknown or the
 * video and audio would not fit into the constant mux rate (the muxer would then emit packets late).
 */
export function resolveCableProfile(name: string, over: CableProfileOverrides = {}): CableProfile {
  const base = (cableProfiles as Record<string, CableProfile>)[name];
  if (!base) throw new Error(`unknown cable profile "${name}" (known: ${Object.keys(cableProfiles).join(', ')})`);
  const p: CableProfile = structuredClone(base);
  if (over.videoKbps) {
    p.video.bufsizeKbits = p.video.codec === 'mpeg2' ? p.video.bufsizeKbits : over.videoKbps;
    p.video.bitrateKbps = over.videoKbps;
  }
  if (over.muxKbps) p.mux.rateKbps = over.muxKbps;
  if (over.audioCodec) p.audio.codec = over.audioCodec;
  if (over.audioKbps) p.audio.bitrateKbps = over.audioKbps;
  if (over.gop) p.video.gop = over.gop;
  if (over.preset) p.video.preset = over.preset;
  const problems = cableProfileProblems(p);
  if (problems.length) throw new Error(`cable profile "${name}": ${problems.join('; ')}`);
  return cableProfileSchema.parse(p);
}

/** Inconsistencies of a profile: rates that cannot fit the mux, a GOP shorter than its B run. */
export function cableProfileProblems(p: CableProfile): string[] {
  const out: string[] = [];
  const need = Math.ceil((p.video.bitrateKbps + p.audio.bitrateKbps) * muxOverhead + tableKbps);
  if (need > p.mux.rateKbps) out.push(`video ${p.video.bitrateKbps} + audio ${p.audio.bitrateKbps} kb/s need a mux rate of at least ${need} kb/s, got ${p.mux.rateKbps}`);
  if (p.video.gop <= p.video.bFrames) out.push(`GOP of ${p.video.gop} frames cannot hold ${p.video.bFrames} B frames`);
  if (p.audio.codec === 'aac' && p.audio.bitrateKbps > 320) out.push('AAC stereo above 320 kb/s is not supported');
  if (p.video.codec === 'mpeg2' && !['main', 'high'].includes(p.video.level)) out.push('MPEG-2 level must be main or high');
  if (p.video.codec === 'h264' && ['main', 'high'].includes(p.video.level)) out.push('H.264 level must be numeric (e.g. 4.0)');
  return out;
}
