import { describe, expect, it } from 'vitest';
import { allTransitions, lessonEvents, lessonStatuses, nextStatus, planEdit, transition } from '../../src/domain/lesson-state.ts';
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
  'live approved_for_air replan': 'scheduled',
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

describe('lesson edit rules', () => {
  const fresh = { approvedBefore: false, hasRecording: false };
  it('when the text of a lesson nobody approved yet changes, then it is written at once', () => {
    for (const status of ['draft', 'processing', 'in_review', 'failed', 'rejected'] as const) {
      expect(planEdit('recorded', status, ['title', 'subject'], fresh)).toEqual({ direct: ['title', 'subject'], pending: [], event: undefined });
    }
    expect(planEdit('live', 'scheduled', ['title', 'scheduledStart'], fresh)).toEqual({ direct: ['title', 'scheduledStart'], pending: [], event: undefined });
  });

  it('when approved text changes, then it waits for the reviewer, also while a new version is processed', () => {
    for (const status of ['approved', 'published', 'withdrawn'] as const) {
      expect(planEdit('recorded', status, ['title', 'description'], { approvedBefore: true, hasRecording: true })).toEqual({ direct: [], pending: ['title', 'description'], event: undefined });
    }
    expect(planEdit('recorded', 'processing', ['description'], { approvedBefore: true, hasRecording: true }).pending).toEqual(['description']);
    expect(planEdit('recorded', 'in_review', ['title'], { approvedBefore: true, hasRecording: true }).pending).toEqual(['title']);
    expect(planEdit('live', 'approved_for_air', ['title'], fresh)).toEqual({ direct: [], pending: ['title'], event: undefined });
    expect(planEdit('live', 'on_air', ['title'], fresh).pending).toEqual(['title']);
  });

  it('when an approved live plan is moved, then the whole plan goes back to the reviewer and its text is written with it', () => {
    expect(planEdit('live', 'approved_for_air', ['title', 'scheduledEnd'], fresh)).toEqual({ direct: ['title', 'scheduledEnd'], pending: [], event: 'replan' });
    expect(nextStatus('live', 'approved_for_air', 'replan')).toBe('scheduled');
  });

  it('when a rejected live plan is edited, then it is resubmitted; a rejected recording is not', () => {
    expect(planEdit('live', 'rejected', ['description'], fresh).event).toBe('resubmit_plan');
    expect(planEdit('live', 'rejected', ['description'], { approvedBefore: false, hasRecording: true }).event).toBeUndefined();
  });

  it('when the schedule of a lesson on air or recorded changes, or a recorded lesson gets one, then it is refused', () => {
    expect(() => planEdit('live', 'on_air', ['scheduledStart'], fresh)).toThrow(ConflictError);
    expect(() => planEdit('live', 'in_review', ['scheduledEnd'], { approvedBefore: false, hasRecording: true })).toThrow(ConflictError);
    expect(() => planEdit('recorded', 'draft', ['scheduledStart'], fresh)).toThrow(InvalidError);
  });
});
