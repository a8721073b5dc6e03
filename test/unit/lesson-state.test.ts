import { describe, expect, it } from 'vitest';
import { allTransitions, lessonEvents, lessonStatuses, nextStatus, transition } from '../../src/domain/lesson-state.ts';
import { ConflictError, InvalidError } from '../../src/domain/errors.ts';

/** The whole legal table, written out: anything not listed must be refused. */
const legal: Record<string, string> = {
  // recorded
  'recorded draft upload': 'processing',
  'recorded failed upload': 'processing',
  'recorded rejected upload': 'processing',
  'recorded in_review upload': 'processing',
  'recorded approved upload': 'processing',
  'recorded published upload': 'processing',
  'recorded withdrawn upload': 'processing',
  'recorded processing processing_succeeded': 'in_review',
  'recorded processing processing_failed': 'failed',
  'recorded in_review approve': 'approved',
  'recorded in_review reject': 'rejected',
  'recorded approved publish': 'published',
  'recorded withdrawn publish': 'published',
  'recorded published withdraw': 'withdrawn',
  // live
  'live failed upload': 'processing',
  'live rejected upload': 'processing',
  'live in_review upload': 'processing',
  'live approved upload': 'processing',
  'live published upload': 'processing',
  'live withdrawn upload': 'processing',
  'live processing processing_succeeded': 'in_review',
  'live processing processing_failed': 'failed',
  'live in_review approve': 'approved',
  'live scheduled approve': 'approved_for_air',
  'live in_review reject': 'rejected',
  'live scheduled reject': 'rejected',
  'live approved_for_air reject': 'rejected',
  'live approved publish': 'published',
  'live withdrawn publish': 'published',
  'live published withdraw': 'withdrawn',
  'live rejected resubmit_plan': 'scheduled',
  'live approved_for_air go_live': 'on_air',
  'live on_air live_ended': 'processing',
  'live scheduled cancel': 'draft',
  'live approved_for_air cancel': 'draft',
  'live rejected cancel': 'draft',
};

describe('lesson state machine', () => {
  it('when every kind x state x event is tried, then exactly the legal table is allowed', () => {
    const all = allTransitions();
    expect(all).toHaveLength(2 * lessonStatuses.length * lessonEvents.length);
    const allowed = Object.fromEntries(all.filter((t) => t.to).map((t) => [`${t.kind} ${t.from} ${t.event}`, t.to]));
    expect(allowed).toEqual(legal);
  });

  it('when an illegal transition is asked for, then a 409 names the current state', () => {
    for (const t of allTransitions().filter((x) => !x.to && x.event !== 'reject')) {
      let err: unknown;
      try {
        transition(t.kind, t.from, t.event, 'r');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConflictError);
      expect((err as ConflictError).status).toBe(409);
      expect((err as Error).message).toContain(`"${t.from}"`);
    }
  });

  it('when a rejection has no reason, then it is invalid input before any state check', () => {
    expect(() => transition('recorded', 'in_review', 'reject', '  ')).toThrow(InvalidError);
    expect(() => transition('recorded', 'in_review', 'reject')).toThrow(/reason/);
    expect(transition('recorded', 'in_review', 'reject', 'blurry')).toBe('rejected');
  });

  it('when a recorded lesson is asked to go live, then it is refused', () => {
    expect(nextStatus('recorded', 'approved_for_air', 'go_live')).toBeUndefined();
    expect(nextStatus('recorded', 'scheduled', 'approve')).toBeUndefined();
  });
});
