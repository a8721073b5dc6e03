import { describe, expect, it } from 'vitest';
import { classifySession, overCapacityWindows, type SessionFacts } from '../../src/domain/live-capacity.ts';
import { toShanghaiIso } from '../../src/domain/shanghai-time.ts';

const facts = (over: Partial<SessionFacts> = {}): SessionFacts => ({ job: 'waiting', ahead: 0, workersAlive: 1, freeSlots: 0, ...over });

describe('why a session on air has no transcoder', () => {
  it('when an alive worker holds the session, then it is transcoded (also while starting), unless its source is unusable', () => {
    expect(classifySession(facts({ holder: { state: 'transcoding' }, job: 'active' }))).toEqual({ transcoded: true, reason: null, ahead: null });
    expect(classifySession(facts({ holder: { state: 'starting' }, job: 'active' }))).toEqual({ transcoded: true, reason: null, ahead: null });
    expect(classifySession(facts({ holder: { state: 'source_unusable' }, job: 'active' }))).toEqual({ transcoded: false, reason: 'source_unusable', ahead: null });
  });

  it('when nobody holds it, then the reason follows the job and the fleet', () => {
    expect(classifySession(facts({ workersAlive: 0 })).reason).toBe('no_live_worker');
    expect(classifySession(facts({ workersAlive: 0, job: 'active' })).reason).toBe('no_live_worker');
    expect(classifySession(facts({ job: 'active' })).reason).toBe('worker_lost');
    expect(classifySession(facts({ job: 'delayed' })).reason).toBe('worker_lost');
    expect(classifySession(facts({ job: 'waiting', ahead: 2 }))).toEqual({ transcoded: false, reason: 'slots_busy', ahead: 2 });
    expect(classifySession(facts({ job: 'waiting', freeSlots: 1 })).reason).toBe('transcoder_starting');
    // a job gone for good is the truth even with no worker alive: none would take it
    expect(classifySession(facts({ job: 'failed', workersAlive: 0 })).reason).toBe('transcoder_failed');
    expect(classifySession(facts({ job: 'missing' })).reason).toBe('transcoder_failed');
  });
});

/** An instant from Shanghai wall-clock text. */
const sh = (s: string): Date => new Date(`${s}+08:00`);
const lesson = (id: string, from: string, to: string) => ({ id, start: sh(from), end: sh(to) });
const shown = (spans: ReturnType<typeof overCapacityWindows>) => spans.map((w) => `${toShanghaiIso(w.from).slice(11, 16)}-${toShanghaiIso(w.to).slice(11, 16)} ${w.lessonIds.join(',')} ${w.demand}/${w.capacity} -${w.shortfall}`);

describe('15-minute windows over live capacity', () => {
  const from = sh('2030-01-08T08:00:00');
  const to = sh('2030-01-08T12:00:00');

  it('when lessons overlap a quarter hour beyond the slots, then each run of quarters with the same lessons is one span with its shortfall', () => {
    const spans = overCapacityWindows([
      lesson('a', '2030-01-08T09:00:00', '2030-01-08T09:40:00'),
      lesson('b', '2030-01-08T09:05:00', '2030-01-08T09:45:00'),
      lesson('c', '2030-01-08T09:30:00', '2030-01-08T10:10:00'),
    ], 1, from, to);
    expect(shown(spans)).toEqual(['09:00-09:30 a,b 2/1 -1', '09:30-09:45 a,b,c 3/1 -2']);
    expect(overCapacityWindows([lesson('a', '2030-01-08T09:00:00', '2030-01-08T09:40:00'), lesson('b', '2030-01-08T09:05:00', '2030-01-08T09:45:00')], 2, from, to)).toEqual([]);
  });

  it('when one lesson ends as the next starts on a quarter, then they do not share a window; a minute of overlap does', () => {
    const touching = [lesson('a', '2030-01-08T09:00:00', '2030-01-08T09:45:00'), lesson('b', '2030-01-08T09:45:00', '2030-01-08T10:30:00')];
    expect(overCapacityWindows(touching, 1, from, to)).toEqual([]);
    const overlapping = [lesson('a', '2030-01-08T09:00:00', '2030-01-08T09:46:00'), lesson('b', '2030-01-08T09:45:00', '2030-01-08T10:30:00')];
    expect(shown(overCapacityWindows(overlapping, 1, from, to))).toEqual(['09:45-10:00 a,b 2/1 -1']);
    // not on a quarter: both lessons touch the 09:30 quarter though they never run at once (the plan is by quarter hours)
    const sameQuarter = [lesson('a', '2030-01-08T09:00:00', '2030-01-08T09:35:00'), lesson('b', '2030-01-08T09:40:00', '2030-01-08T10:20:00')];
    expect(shown(overCapacityWindows(sameQuarter, 1, from, to))).toEqual(['09:30-09:45 a,b 2/1 -1']);
  });

  it('when the range starts mid-quarter or a lesson runs past it, then the first quarter counts whole and nothing outside [from, to) is listed', () => {
    const l = [lesson('a', '2030-01-08T07:00:00', '2030-01-08T08:20:00'), lesson('b', '2030-01-08T08:10:00', '2030-01-08T08:20:00'), lesson('c', '2030-01-08T11:50:00', '2030-01-08T13:00:00'), lesson('d', '2030-01-08T11:55:00', '2030-01-08T13:00:00')];
    expect(shown(overCapacityWindows(l, 1, sh('2030-01-08T08:07:00'), to))).toEqual(['08:00-08:30 a,b 2/1 -1', '11:45-12:00 c,d 2/1 -1']);
  });

  it('when windows cross Shanghai midnight, then they are Shanghai quarter hours (whole-hour offset) and a span runs over the date change', () => {
    const l = [lesson('a', '2030-01-08T23:30:00', '2030-01-09T00:30:00'), lesson('b', '2030-01-08T23:50:00', '2030-01-09T00:10:00')];
    const spans = overCapacityWindows(l, 1, sh('2030-01-08T22:00:00'), sh('2030-01-09T02:00:00'));
    expect(spans.map((w) => [toShanghaiIso(w.from), toShanghaiIso(w.to)])).toEqual([['2030-01-08T23:45:00+08:00', '2030-01-09T00:15:00+08:00']]);
  });

  it('when no slot exists at all, then every quarter with a lesson is over capacity; a lesson with no length needs none', () => {
    expect(shown(overCapacityWindows([lesson('a', '2030-01-08T09:00:00', '2030-01-08T09:20:00')], 0, from, to))).toEqual(['09:00-09:30 a 1/0 -1']);
    expect(overCapacityWindows([lesson('a', '2030-01-08T09:00:00', '2030-01-08T09:00:00')], 0, from, to)).toEqual([]);
  });
});
