import type { CableProfile } from '../../config/cable-profiles.ts';
import type { CableSource } from './cable-args.ts';
import { rationalValue, type MediaInfo } from './media-info.ts';

/**
 * The shared probe result (src/media/probe.ts) read for the cable package: what the argv builders need
 * to know about the source, and whether the finished movie is what the profile promised.
 */

/** What the cable builders need about a probed source. */
export function cableSourceFromMedia(info: MediaInfo): CableSource {
  const v = info.video;
  const rate = v.avgFrameRate && v.avgFrameRate.den ? v.avgFrameRate : v.rFrameRate;
  return {
    videoIndex: v.index,
    audioIndex: info.audio ? info.audio.index : null,
    width: v.width,
    height: v.height,
    sar: [v.sar.num, v.sar.den],
    rotation: v.rotation,
    fps: rate && rate.den ? rationalValue(rate) : 25,
    interlaced: v.interlaced,
    topFieldFirst: !v.interlaced || v.fieldOrder === 'tt' || v.fieldOrder === 'tb',
    ...(v.colorSpace && v.colorSpace !== 'unknown' ? { colorMatrix: v.colorSpace } : {}),
    durationS: info.durationS,
  };
}

export interface CableMovieFacts {
  durationS: number;
  videoCodec: string;
  width: number;
  height: number;
  fieldOrder: string;
  fps: number;
  audioCodec: string;
}

const ffCodec = { h264: 'h264', mpeg2: 'mpeg2video' } as const;

/** Checks the finished movie against its profile; returns its facts and every mismatch (a mismatch is our bug). */
export function checkCableMovie(info: MediaInfo, profile: CableProfile): { facts: CableMovieFacts; problems: string[] } {
  const problems: string[] = [];
  const v = info.video;
  const a = info.audio;
  const facts: CableMovieFacts = {
    durationS: info.durationS,
    videoCodec: v.codec,
    width: v.width,
    height: v.height,
    fieldOrder: v.fieldOrder ?? '',
    fps: v.rFrameRate ? rationalValue(v.rFrameRate) : 0,
    audioCodec: a?.codec ?? '',
  };
  const pv = profile.video;
  if (!info.formatName.split(',').includes('mpegts')) problems.push(`container is ${info.formatName}, want mpegts`);
  const { video, audio, other } = info.streamCounts;
  if (video !== 1 || audio !== 1 || other !== 0) problems.push(`${video} video, ${audio} audio and ${other} other streams, want one video and one audio`);
  if (facts.videoCodec !== ffCodec[pv.codec]) problems.push(`video codec ${facts.videoCodec}, want ${ffCodec[pv.codec]}`);
  if (facts.width !== pv.width || facts.height !== pv.height) problems.push(`picture ${facts.width}x${facts.height}, want ${pv.width}x${pv.height}`);
  const wantOrder = pv.scan === 'tff' ? 'tt' : 'progressive';
  if (facts.fieldOrder !== wantOrder) problems.push(`field order ${facts.fieldOrder || 'unknown'}, want ${wantOrder}`);
  if (Math.abs(facts.fps - pv.fps) > 0.001) problems.push(`frame rate ${facts.fps}, want ${pv.fps}`);
  if (facts.audioCodec !== profile.audio.codec) problems.push(`audio codec ${facts.audioCodec || 'none'}, want ${profile.audio.codec}`);
  if (a && (a.sampleRate !== profile.audio.sampleRate || a.channels !== profile.audio.channels)) problems.push(`audio ${a.sampleRate} Hz ${a.channels} ch, want ${profile.audio.sampleRate} Hz ${profile.audio.channels} ch`);
  if (!(facts.durationS > 0)) problems.push('no duration');
  return { facts, problems };
}
