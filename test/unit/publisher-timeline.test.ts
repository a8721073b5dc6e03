import { describe, expect, it } from 'vitest';
import { PublisherTimeline, type TrackKind } from '../../src/media/publisher-timeline.ts';

interface Msg {
  kind: TrackKind;
  dts: number;
  cts?: number;
  /** wall clock of its arrival, ms */
  at: number;
  config?: boolean;
}

/** An encoder's messages: picture every 40 ms (with a 80 ms composition offset), sound every ~21 ms, from `fromDts` for `ms`, arriving at `atMs` on. */
function encoder(fromDts: number, ms: number, atMs: number): Msg[] {
  const out: Msg[] = [];
  for (let t = 0; t < ms; t += 40) out.push({ kind: 'video', dts: fromDts + t, cts: 80, at: atMs + t });
  for (let t = 0; t < ms; t += 21) out.push({ kind: 'audio', dts: fromDts + t, at: atMs + t });
  return out.sort((a, b) => a.at - b.at || (a.kind === 'video' ? -1 : 1));
}

function relay(msgs: Msg[], tl = new PublisherTimeline()) {
  return { tl, out: msgs.map((m) => ({ ...m, ...tl.map(m.kind, m.dts, m.dts + (m.cts ?? 0), m.at, m.config) })) };
}

const increasing = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x > xs[i - 1]);
const track = (out: ReturnType<typeof relay>['out'], kind: TrackKind) => out.filter((m) => m.kind === kind && !m.config);

describe('a publisher\'s timestamps on one timeline', () => {
  it('when the encoder runs without restarting, then its timestamps are relayed as they are', () => {
    const msgs = encoder(0, 4000, 1000);
    const { out, tl } = relay(msgs);
    expect(out.map((m) => [m.dts, m.pts])).toEqual(msgs.map((m) => [m.dts, m.dts + (m.cts ?? 0)]));
    expect(tl.jumps).toEqual([]);
  });

  it('when the encoder restarts and its timestamps jump back 6 s, then both tracks continue where they were, in sync, composition offsets kept', () => {
    const before = encoder(0, 8000, 1000);
    // the restart: codec configurations first, then the new stream from 2 s on, 300 ms later on the wall clock
    const after = [{ kind: 'video' as const, dts: 2000, at: 9300, config: true }, { kind: 'audio' as const, dts: 2000, at: 9300, config: true }, ...encoder(2000, 4000, 9300)];
    const { out, tl } = relay([...before, ...after]);
    for (const kind of ['audio', 'video'] as const) expect(increasing(track(out, kind).map((m) => m.dts))).toBe(true);
    expect(tl.jumps.map((j) => [j.kind, j.fromDts, j.toDts])).toEqual([['video', 7960, 2000], ['audio', 7980, 2000]]);
    // the new stream starts after the old one's end plus the restart's pause, on both tracks alike
    const firstNew = (kind: TrackKind) => out.find((m) => m.kind === kind && !m.config && m.at >= 9300)!;
    expect(firstNew('video').dts).toBeGreaterThan(7980);
    expect(firstNew('video').dts).toBeLessThanOrEqual(7980 + 300 + 40);
    expect(firstNew('audio').dts).toBe(firstNew('video').dts);
    expect(firstNew('video').pts - firstNew('video').dts).toBe(80);
    // the configurations did not move the timeline: they stay on the old stream's last timestamp
    expect(out.filter((m) => m.config).map((m) => m.dts)).toEqual([7960, 7980]);
    // everything after: the source's spacing kept (6 s of sound and picture are 6 s on the timeline)
    const newVideo = track(out, 'video').filter((m) => m.at >= 9300);
    expect(newVideo[newVideo.length - 1].dts - newVideo[0].dts).toBe(newVideo[newVideo.length - 1].at - newVideo[0].at);
  });

  it('when the restarted encoder starts over from 0, then the lesson\'s timeline still only moves forward', () => {
    const { out, tl } = relay([...encoder(5000, 3000, 0), ...encoder(0, 3000, 3000), ...encoder(0, 3000, 6000)]);
    expect(tl.jumps).toHaveLength(4);
    for (const kind of ['audio', 'video'] as const) expect(increasing(track(out, kind).map((m) => m.dts))).toBe(true);
    const v = track(out, 'video');
    expect(v[v.length - 1].dts - v[0].dts).toBeGreaterThan(8900);
    expect(v[v.length - 1].dts - v[0].dts).toBeLessThan(9100);
  });

  it('when the encoder repeats a timestamp or steps back by a frame, then the message is placed just after the previous one and nothing else moves', () => {
    const msgs = encoder(0, 2000, 0).filter((m) => m.kind === 'video');
    msgs[10] = { ...msgs[10], dts: msgs[9].dts };
    msgs[20] = { ...msgs[20], dts: msgs[19].dts - 30 };
    const { out, tl } = relay(msgs);
    expect(tl.jumps).toEqual([]);
    expect(out[10].dts).toBe(out[9].dts + 1);
    expect(out[20].dts).toBe(out[19].dts + 1);
    expect(out[21].dts).toBe(msgs[21].dts);
  });

  it('when timestamps leap ahead of the wall clock, then the leap is closed; a silence that really lasted is kept', () => {
    const silence = relay([...encoder(0, 2000, 0), ...encoder(8000, 2000, 8000)]);
    expect(silence.tl.jumps).toEqual([]);
    expect(track(silence.out, 'video').find((m) => m.at >= 8000)!.dts).toBe(8000);
    const leap = relay([...encoder(0, 2000, 0), ...encoder(3_600_000, 2000, 2000)]);
    expect(leap.tl.jumps.map((j) => j.kind).sort()).toEqual(['audio', 'video']);
    expect(track(leap.out, 'video').find((m) => m.at >= 2000)!.dts).toBeLessThan(2100);
  });
});
