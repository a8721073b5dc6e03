import { z } from 'zod';
import type { JobsOptions } from 'bullmq';

/**
 * The `live` job: one per live session, running for the whole session. The worker pulls the lesson's
 * stream from the ingest and runs the live ladder, uploading each finished segment and then the
 * playlists under `live/{sessionId}/`. The catalog steers it through two Redis keys (below): `epoch`
 * goes up on every publisher (re)connect (the worker restarts its pull and marks a discontinuity),
 * `state` becomes `ended` when the session is over (the worker turns what it has into the VOD
 * recording: every rendition's full playlist with ENDLIST, the master from measured bit rates, a
 * poster and a storyboard, and returns a `live` result).
 */
export const liveJobSchema = z.object({
  sessionId: z.string().uuid(),
  lessonId: z.string().uuid(),
  /** Wall-clock start of the session (ms), for PROGRAM-DATE-TIME continuity across runs. */
  startedAt: z.number(),
});
export type LiveJob = z.infer<typeof liveJobSchema>;

export const liveSessionStates = ['on_air', 'reconnecting', 'ended'] as const;
export type LiveSessionState = (typeof liveSessionStates)[number];

/** Redis keys (under the queue prefix) through which the catalog steers a running live job. */
export const liveControlKeys = {
  epoch: (prefix: string, sessionId: string) => `${prefix}:live:${sessionId}:epoch`,
  state: (prefix: string, sessionId: string) => `${prefix}:live:${sessionId}:state`,
  /** Pub/sub channel announcing a change of either key (message: sessionId). */
  channel: (prefix: string) => `${prefix}:live-control`,
};

/** Live jobs must be picked up again fast when a worker dies: short lock, frequent stall checks. */
export const liveJobOptions: JobsOptions = {
  attempts: 1000,
  backoff: { type: 'fixed', delay: 1000 },
  removeOnComplete: { age: 7 * 86400 },
  removeOnFail: { age: 30 * 86400 },
};
export const liveWorkerLock = { lockDurationMs: 6_000, stalledIntervalMs: 2_000 };
