import { describe, expect, it } from 'vitest';
import type { TranscodePlan, VideoRendition } from '../../src/media/ffmpeg-args.ts';
import { boxes, freeBox, withoutBoxes } from '../../src/media/fmp4-boxes.ts';
import { lowerCaps, nullPacket, stuffingBytes, TS_PACKET } from '../../src/media/rate-guard.ts';
import type { RenditionOutput } from '../../src/pipeline/transcode-context.ts';
import { segmentAt } from '../../src/pipeline/transcode-images.ts';
import { describeRenditions } from '../../src/pipeline/transcode-playlists.ts';

const box = (type: string, body: number[]): Buffer => {
  const b = Buffer.alloc(8 + body.length);
  b.writeUInt32BE(b.length, 0);
  b.write(type, 4, 'latin1');
  Buffer.from(body).copy(b, 8);
  return b;
};

const v720: VideoRendition = { kind: 'video', name: '720p', width: 1280, height: 720, crf: 23, maxrateKbps: 3000, bufsizeKbps: 6000, audioKbps: 128 };
const audio = { kind: 'audio' as const, name: 'audio', audioKbps: 64 };
const plan = { renditions: [v720, audio], fps: { num: 25, den: 1 } } as unknown as TranscodePlan;

const output = (name: string, rendition: RenditionOutput['rendition'], bytes: number[]): RenditionOutput => ({
  name,
  kind: rendition.kind,
  rendition,
  segments: bytes.map((b, i) => ({ uri: `seg-${i}.ts`, durationS: 6, file: `/w/${name}/seg-${i}.ts`, bytes: b })),
  init: null,
  codecs: rendition.kind === 'video' ? 'avc1.64001f,mp4a.40.2' : 'mp4a.40.2',
});

describe('fMP4 box editing', () => {
  it('when a fragment loses its styp and sidx, then only its other top-level boxes remain, in order', () => {
    const frag = Buffer.concat([box('styp', [1]), box('sidx', [2, 2]), box('moof', [3]), box('mdat', [4, 4, 4])]);
    expect(withoutBoxes(frag, ['styp', 'sidx'])).toEqual(Buffer.concat([box('moof', [3]), box('mdat', [4, 4, 4])]));
  });

  it('when boxes are walked, then a truncated last box ends the walk', () => {
    const b = Buffer.concat([box('moof', [1]), box('mdat', [2, 2]).subarray(0, 9)]);
    expect([...boxes(b, 0, b.length)].map((x) => x.type)).toEqual(['moof']);
  });

  it('when padding is asked for, then TS gets whole null packets and fMP4 one free box of the same size', () => {
    expect(stuffingBytes(3, 'mpegts')).toEqual(Buffer.concat([nullPacket(), nullPacket(), nullPacket()]));
    const fmp4 = stuffingBytes(3, 'fmp4');
    expect(fmp4).toEqual(freeBox(3 * TS_PACKET));
    expect([...boxes(fmp4, 0, fmp4.length)].map((x) => [x.type, x.end])).toEqual([['free', 3 * TS_PACKET]]);
  });
});

describe('rate guard plan', () => {
  it('when a video rendition is steady, then no cap is lowered and the plan is unchanged', () => {
    const r = lowerCaps(plan, [output('720p', v720, [1_500_000, 1_500_000, 1_500_000])]);
    expect(r.names).toEqual([]);
    expect(r.plan.renditions).toEqual(plan.renditions);
  });

  it('when a video rendition bursts far above its average, then it gets a lower cap (not under half the rung) with a matching buffer', () => {
    const r = lowerCaps(plan, [output('720p', v720, [100_000, 100_000, 100_000, 100_000, 2_200_000]), output('audio', audio, [48_000, 48_000, 48_000, 48_000, 48_000])]);
    expect(r.names).toEqual(['720p']);
    const cap = r.caps['720p'];
    expect(cap).toBeGreaterThanOrEqual(1500);
    expect(cap).toBeLessThan(3000);
    expect(r.plan.renditions[0]).toEqual({ ...v720, maxrateKbps: cap, bufsizeKbps: cap });
    expect(r.plan.renditions[1]).toEqual(audio);
  });
});

describe('transcode step helpers', () => {
  it('when the poster instant falls inside a segment, then that segment and the offset into it are chosen; past the end, the first', () => {
    const segs = [{ file: 'a', durationS: 6 }, { file: 'b', durationS: 6 }, { file: 'c', durationS: 2 }];
    expect(segmentAt(segs, 7.5)).toEqual({ file: 'b', offsetS: 1.5 });
    expect(segmentAt(segs, 0)).toEqual({ file: 'a', offsetS: 0 });
    expect(segmentAt(segs, 99)).toEqual({ file: 'a', offsetS: 0 });
  });

  it('when renditions are described, then rates come from the segments and variants and renditions share the master order', () => {
    const out = describeRenditions('asset-1', plan, [output('audio', audio, [48_000, 48_000]), output('720p', v720, [750_000, 1_500_000])]);
    expect(out.variants.map((v) => v.uri)).toEqual(['720p/index.m3u8', 'audio/index.m3u8']);
    expect(out.renditions.map((r) => r.name)).toEqual(['720p', 'audio']);
    expect(out.variants[0]).toMatchObject({ bandwidth: 2_000_000, averageBandwidth: 1_500_000, resolution: { width: 1280, height: 720 }, frameRate: 25 });
    expect(out.renditions[0]).toMatchObject({ width: 1280, height: 720, frameRate: 25, bandwidth: 2_000_000, averageBandwidth: 1_500_000, segments: 2, bytes: 2_250_000, playlistKey: 'assets/asset-1/hls/720p/index.m3u8' });
    expect(out.renditions[1]).toMatchObject({ kind: 'audio', width: null, frameRate: null, averageBandwidth: 64_000 });
  });
});
