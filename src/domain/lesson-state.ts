import { ConflictError, InvalidError } from './errors.ts';

/**
 * The lesson lifecycle, owned by this module alone.
 *
 * Recorded: draft -> processing -> in_review -> approved -> published <-> withdrawn, with failed and
 * rejected (the teacher uploads a new version) and a new version from any settled state.
 * Live: scheduled -> approved_for_air -> on_air -> processing (the recording) -> in_review -> ...
 */
export const lessonStatuses = [
  'draft',
  'scheduled',
  'approved_for_air',
  'on_air',
  'processing',
  'in_review',
  'approved',
  'rejected',
  'failed',
  'published',
  'withdrawn',
] as const;
export type LessonStatus = (typeof lessonStatuses)[number];

export const lessonEvents = [
  'upload', // a new media version was uploaded and queued
  'processing_succeeded',
  'processing_failed',
  'approve',
  'reject',
  'publish', // first active publication
  'withdraw', // last active publication withdrawn
  'resubmit_plan', // teacher edits a rejected live plan
  'replan', // teacher moves an approved live plan: it goes back to the reviewer
  'go_live',
  'live_ended', // session over: the recording is being finalised
  'cancel', // live plan cancelled before air
] as const;
export type LessonEvent = (typeof lessonEvents)[number];

type Kind = 'recorded' | 'live';

/** from-state -> event -> to-state; the kinds a row applies to when not both. */
const table: Record<LessonEvent, { from: LessonStatus[]; to: LessonStatus; kinds?: Kind[] }[]> = {
  upload: [{ from: ['draft', 'failed', 'rejected', 'in_review', 'approved', 'published', 'withdrawn'], to: 'processing', kinds: ['recorded'] },
    // a live lesson whose recording was rejected or failed may get a replacement upload
    { from: ['failed', 'rejected', 'in_review', 'approved', 'published', 'withdrawn'], to: 'processing', kinds: ['live'] }],
  processing_succeeded: [{ from: ['processing'], to: 'in_review' }],
  processing_failed: [{ from: ['processing'], to: 'failed' }],
  approve: [
    { from: ['in_review'], to: 'approved' },
    { from: ['scheduled'], to: 'approved_for_air', kinds: ['live'] },
  ],
  reject: [
    { from: ['in_review'], to: 'rejected' },
    { from: ['scheduled', 'approved_for_air'], to: 'rejected', kinds: ['live'] },
  ],
  publish: [{ from: ['approved', 'withdrawn'], to: 'published' }],
  withdraw: [{ from: ['published'], to: 'withdrawn' }],
  resubmit_plan: [{ from: ['rejected'], to: 'scheduled', kinds: ['live'] }],
  replan: [{ from: ['approved_for_air'], to: 'scheduled', kinds: ['live'] }],
  go_live: [{ from: ['approved_for_air'], to: 'on_air', kinds: ['live'] }],
  live_ended: [{ from: ['on_air'], to: 'processing', kinds: ['live'] }],
  cancel: [{ from: ['scheduled', 'approved_for_air', 'rejected'], to: 'draft', kinds: ['live'] }],
};

/** The state after `event`, or undefined when the transition is illegal. */
export function nextStatus(kind: Kind, from: LessonStatus, event: LessonEvent): LessonStatus | undefined {
  for (const row of table[event]) {
    if (row.kinds && !row.kinds.includes(kind)) continue;
    if (row.from.includes(from)) return row.to;
  }
  return undefined;
}

/** Like nextStatus but throws a 409 naming the current state. */
export function transition(kind: Kind, from: LessonStatus, event: LessonEvent, reason?: string | null): LessonStatus {
  if ((event === 'reject') && !(reason && reason.trim())) {
    throw new InvalidError('rejection_reason_required', 'a rejection needs a reason', [{ field: 'reason', message: 'required when rejecting' }]);
  }
  const to = nextStatus(kind, from, event);
  if (!to) throw new ConflictError('invalid_state_transition', `cannot ${event.replace(/_/g, ' ')} a ${kind} lesson in state "${from}"`, { status: from, event });
  return to;
}

/** Every (kind, from, event) combination with its outcome: the state machine test walks this. */
export function allTransitions(): { kind: Kind; from: LessonStatus; event: LessonEvent; to: LessonStatus | undefined }[] {
  const out: { kind: Kind; from: LessonStatus; event: LessonEvent; to: LessonStatus | undefined }[] = [];
  for (const kind of ['recorded', 'live'] as const)
    for (const from of lessonStatuses) for (const event of lessonEvents) out.push({ kind, from, event, to: nextStatus(kind, from, event) });
  return out;
}

export const initialStatus = (kind: Kind): LessonStatus => (kind === 'live' ? 'scheduled' : 'draft');

/** Statuses in which a reviewer has something to decide. */
export const awaitingReview: LessonStatus[] = ['in_review', 'scheduled'];

// ---- edits (PATCH /lessons/{id}) ------------------------------------------------------------

/** Fields students see: once a reviewer has approved them, a change waits for the reviewer again. */
export const publicFields = ['title', 'description', 'stage', 'grade', 'subject', 'type', 'edition'] as const;
export type PublicField = (typeof publicFields)[number];
export const scheduleFields = ['scheduledStart', 'scheduledEnd'] as const;
export type EditField = PublicField | (typeof scheduleFields)[number];

/** Statuses whose text a reviewer has approved for students (a live plan on air or approved, an approved version). */
const approvedTextStatuses: LessonStatus[] = ['approved_for_air', 'on_air', 'approved', 'published', 'withdrawn'];

export interface EditPlan {
  /** fields written to the lesson now */
  direct: EditField[];
  /** fields that become a pending change the school's reviewer approves (the public keeps the old text) */
  pending: PublicField[];
  /** the state change the edit causes, if any */
  event?: LessonEvent;
}

/**
 * How an edit of `fields` applies to a lesson in `status`:
 * - Text and taxonomy before any approval: written at once.
 * - Once approved (a live plan approved for air or on air, an approved, published or withdrawn version,
 *   or any later version of a lesson that had one): a pending change for the reviewer; students keep
 *   the approved text until the reviewer accepts it.
 * - The schedule (live lessons only): free while the plan waits for review; moving an approved plan
 *   sends the whole plan back to the reviewer (`replan`), so its text is then written at once; fixed
 *   once the lesson went on air.
 * - Any edit of a rejected live plan resubmits it (`resubmit_plan`).
 */
export function planEdit(kind: Kind, status: LessonStatus, fields: EditField[], ctx: { approvedBefore: boolean; hasRecording: boolean }): EditPlan {
  const schedule = fields.filter((f): f is (typeof scheduleFields)[number] => (scheduleFields as readonly string[]).includes(f));
  const text = fields.filter((f): f is PublicField => (publicFields as readonly string[]).includes(f));
  let event: LessonEvent | undefined;
  if (schedule.length) {
    if (kind !== 'live') throw new InvalidError('schedule_live_only', 'only a live lesson has a schedule', schedule.map((f) => ({ field: f, message: 'only for live lessons' })));
    if (ctx.hasRecording || !['draft', 'scheduled', 'approved_for_air', 'rejected'].includes(status)) {
      throw new ConflictError('live_schedule_fixed', `the schedule of a live lesson cannot change once it went on air (state "${status}")`, { status });
    }
    if (status === 'approved_for_air') event = 'replan';
  }
  if (kind === 'live' && status === 'rejected' && !ctx.hasRecording) event = 'resubmit_plan';
  const gated = event !== 'replan' && (ctx.approvedBefore || approvedTextStatuses.includes(status));
  return { direct: gated ? schedule : [...text, ...schedule], pending: gated ? text : [], event };
}
