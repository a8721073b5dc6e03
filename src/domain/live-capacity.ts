/**
 * Live capacity (issue 11 item 3), pure: why a session on air has no transcoder, and which
 * 15-minute windows of the coming days hold more approved live lessons than the fleet has live slots.
 */

/** Why a lesson on air is captured only (students get the source rendition, no ladder). */
export const captureOnlyReasons = [
  /** No live worker is alive: nothing can transcode. */
  'no_live_worker',
  /** Every live slot is busy: the session's job waits (`ahead` jobs before it). */
  'slots_busy',
  /** A slot is free and the job is being taken (a moment). */
  'transcoder_starting',
  /** The worker transcoding it died or closed: the job waits for stall recovery or its retry. */
  'worker_lost',
  /** A transcoder holds the session but the source cannot be transcoded (`sourceProblem`). */
  'source_unusable',
  /** The session's live job failed for good or is gone: no transcoder will come. */
  'transcoder_failed',
] as const;
export type CaptureOnlyReason = (typeof captureOnlyReasons)[number];

/** Where a session's live job is, as the queue says. */
export type LiveJobState = 'waiting' | 'delayed' | 'active' | 'failed' | 'missing';

/** What is known about one open session. */
export interface SessionFacts {
  /** The alive worker holding the session and what it does with it; undefined when none does. */
  holder?: { state: 'starting' | 'transcoding' | 'source_unusable' };
  job: LiveJobState;
  /** Live jobs queued before this one (waiting only). */
  ahead: number;
  workersAlive: number;
  freeSlots: number;
}

export interface SessionTranscode {
  transcoded: boolean;
  reason: CaptureOnlyReason | null;
  /** With `slots_busy`: live jobs queued before this session's. */
  ahead: number | null;
}

/** The true reason a session is captured only, or that it is transcoded. */
export function classifySession(f: SessionFacts): SessionTranscode {
  const only = (reason: CaptureOnlyReason, ahead: number | null = null): SessionTranscode => ({ transcoded: false, reason, ahead });
  if (f.holder) return f.holder.state === 'source_unusable' ? only('source_unusable') : { transcoded: true, reason: null, ahead: null };
  if (f.job === 'failed' || f.job === 'missing') return only('transcoder_failed');
  if (f.workersAlive === 0) return only('no_live_worker');
  if (f.job === 'active' || f.job === 'delayed') return only('worker_lost');
  return f.freeSlots > 0 ? only('transcoder_starting') : only('slots_busy', f.ahead);
}

/** An approved live lesson's planned time. */
export interface PlannedLesson {
  id: string;
  start: Date;
  end: Date;
}

/** A run of consecutive windows holding the same lessons, more of them than the fleet's slots. */
export interface OverCapacitySpan {
  from: Date;
  to: Date;
  lessonIds: string[];
  demand: number;
  capacity: number;
  shortfall: number;
}

export const windowMs = 15 * 60_000;

/**
 * The windows of [from, to) over capacity. Windows are the 15-minute quarters of the clock (Asia/Shanghai
 * is a whole-hour offset from UTC, so its quarter hours are UTC's); a lesson needs a slot in every window
 * its planned time [start, end) overlaps, touching ends do not overlap. Consecutive windows with the same
 * lessons are one span.
 */
export function overCapacityWindows(lessons: PlannedLesson[], capacity: number, from: Date, to: Date): OverCapacitySpan[] {
  const spans: OverCapacitySpan[] = [];
  const first = Math.floor(from.getTime() / windowMs) * windowMs;
  for (let w = first; w < to.getTime(); w += windowMs) {
    const inside = lessons.filter((l) => l.start.getTime() < w + windowMs && l.end.getTime() > w && l.end > l.start).map((l) => l.id).sort();
    if (inside.length <= capacity) continue;
    const last = spans[spans.length - 1];
    if (last && last.to.getTime() === w && sameIds(last.lessonIds, inside)) {
      last.to = new Date(w + windowMs);
      continue;
    }
    spans.push({ from: new Date(w), to: new Date(w + windowMs), lessonIds: inside, demand: inside.length, capacity, shortfall: inside.length - capacity });
  }
  return spans;
}

const sameIds = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
