import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Db, Queryable } from '../infra/db.ts';
import type { Logger } from '../infra/logger.ts';
import type { PubSub } from '../infra/pubsub.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../domain/errors.ts';
import type { LessonRow, Principal } from '../domain/types.ts';
import { liveControlKeys, type LiveSessionState } from '../jobs/live.job.ts';
import { livePrefix } from '../media/storage-keys.ts';
import type { JobResult } from '../jobs/job-types.ts';
import { changeStatus } from './lesson-store.ts';
import { findLesson, lockLesson, markLiveStopped, writeCurrentAsset } from '../infra/lessons.repo.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import { insertAsset, markAssetFailed, markAssetQueuedFromCapture, markAssetReady, nextAssetVersion } from '../infra/assets.repo.ts';
import * as liveRepo from '../infra/live.repo.ts';
import type { LiveSession } from '../infra/live.repo.ts';
import { failureCodeOf } from '../domain/processing-failures.ts';
import type { SecretBox } from './secret-box.ts';

export interface LiveOptions {
  /** Announces a change of who may publish to every ingest and waits until they have it. */
  announceKeys: (lessonId: string) => Promise<boolean>;
  reconnectWindowS: number;
  earlyMarginMin: number;
  lateMarginMin: number;
  redisPrefix: string;
  rtmpUrl: string;
}

/** Queues the live job of a new session. */
export type EnqueueLive = (job: { sessionId: string; lessonId: string; startedAt: number }) => Promise<void>;

/** One allowed publish, as the ingest's key cache holds it. */
export interface LiveKeyEntry {
  lessonId: string;
  keyHash: string;
  allowedFrom: number;
  allowedUntil: number;
  stopped: boolean;
}

/** Pub/sub channels between the catalog and the ingest role. */
export const liveChannels = { kick: 'live-kick', sessions: 'live-sessions' };

const hashKey = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

/**
 * Live lessons on the catalog side: stream keys, the sessions the ingest reports, reconnects within
 * the window, stopping, and turning a finished session into a recording waiting for review.
 */
export class LiveService {
  constructor(
    private readonly db: Db,
    private readonly redis: Redis,
    private readonly pubsub: PubSub,
    private readonly box: SecretBox,
    private readonly enqueue: EnqueueLive,
    private readonly log: Logger,
    private readonly opts: LiveOptions,
  ) {}

  /** OBS settings for the lesson's teacher: server URL and stream key (created on first ask). */
  async credentials(actor: Principal, lessonId: string): Promise<{ rtmpUrl: string; streamKey: string; status: string; approvedForAir: boolean; allowedFrom: string; allowedUntil: string }> {
    const l = await this.ownLiveLesson(actor, lessonId);
    let secret: string;
    const sealed = await liveRepo.findSealedKey(this.db, l.id);
    if (sealed) secret = this.box.open(sealed);
    else {
      secret = newSecret();
      await this.db.tx(async (q) => {
        await liveRepo.insertKeyIfAbsent(q, l.id, hashKey(secret), this.box.seal(secret));
        await writeAudit(q, { actor, entity: 'lesson', entityId: l.id, action: 'live_key_created' });
      });
      // another request may have made the first key meanwhile: the stored one is the key
      secret = this.box.open((await liveRepo.findSealedKey(this.db, l.id))!);
      await this.keysChanged(l.id);
    }
    const w = this.window(l);
    return { rtmpUrl: this.opts.rtmpUrl, streamKey: `${l.id}?key=${secret}`, status: l.status, approvedForAir: ['approved_for_air', 'on_air'].includes(l.status), allowedFrom: new Date(w.from).toISOString(), allowedUntil: new Date(w.until).toISOString() };
  }

  /** A new stream key; the old one stops working for new connections within a second. */
  async rotateKey(actor: Principal, lessonId: string): Promise<{ rtmpUrl: string; streamKey: string }> {
    const l = await this.ownLiveLesson(actor, lessonId);
    const secret = newSecret();
    await this.db.tx(async (q) => {
      await liveRepo.writeRotatedKey(q, l.id, hashKey(secret), this.box.seal(secret));
      await writeAudit(q, { actor, entity: 'lesson', entityId: l.id, action: 'live_key_rotated' });
    });
    await this.keysChanged(l.id);
    return { rtmpUrl: this.opts.rtmpUrl, streamKey: `${l.id}?key=${secret}` };
  }

  /** Cuts the stream off now, ends the session and refuses reconnects (reviewer of the school, operator). */
  async stop(actor: Principal, lessonId: string, reason?: string): Promise<{ status: string; sessionId: string | null }> {
    if (!['reviewer', 'operator', 'admin'].includes(actor.role)) throw new ForbiddenError('stop_not_allowed', 'only a reviewer of the school or an operator stops a live lesson');
    const l = await findLesson(this.db, lessonId);
    if (!l || (actor.role === 'reviewer' && l.school_id !== actor.schoolId)) throw new NotFoundError('lesson_not_found', 'lesson not found');
    if (l.kind !== 'live') throw new ConflictError('not_a_live_lesson', 'not a live lesson', { status: l.status });
    if (l.live_stopped_at) throw new ConflictError('live_already_stopped', 'this live lesson was already stopped', { status: l.status });
    await this.db.tx(async (q) => {
      await markLiveStopped(q, l.id, actor.userId);
      await writeAudit(q, { actor, entity: 'lesson', entityId: l.id, action: 'live_stopped', from: l.status, to: l.status, reason: reason ?? null });
    });
    await this.pubsub.publish(liveChannels.kick, l.id);
    await this.keysChanged(l.id);
    const open = await this.openSession(l.id);
    if (open) await this.endSession(open.id, 'stopped');
    const after = (await findLesson(this.db, l.id))!;
    return { status: after.status, sessionId: open?.id ?? null };
  }

  /** Every live lesson that may publish now or soon: the ingest's key cache. */
  async keyEntries(): Promise<LiveKeyEntry[]> {
    return this.keyRows();
  }

  /** One lesson's entry of the ingest's key cache, or undefined when it may not publish. */
  async keyEntry(lessonId: string): Promise<LiveKeyEntry | undefined> {
    return (await this.keyRows(lessonId))[0];
  }

  private async keyRows(lessonId?: string): Promise<LiveKeyEntry[]> {
    const rows = await liveRepo.publishableLessons(this.db, lessonId);
    return rows.map((l) => {
      const w = this.window(l);
      return { lessonId: l.id, keyHash: l.keyHash, allowedFrom: w.from, allowedUntil: w.until, stopped: Boolean(l.live_stopped_at) };
    });
  }

  /** The ingest accepted a publisher: a new session, or the open one resumed after a drop. */
  async onPublishStart(lessonId: string, addr?: string): Promise<{ sessionId: string; resumed: boolean } | undefined> {
    const out = await this.db.tx(async (q) => {
      const l = await lockLesson(q, lessonId);
      if (l.kind !== 'live' || l.live_stopped_at) return undefined;
      const open = await liveRepo.findOpenSession(q, lessonId);
      if (open) {
        await liveRepo.markSessionResumed(q, open.id, addr ?? null);
        await writeAudit(q, { actor: 'ingest', entity: 'live_session', entityId: open.id, action: 'publisher_reconnected', from: open.state, to: 'on_air' });
        return { sessionId: open.id, resumed: true, epoch: open.epoch + 1, startedAt: open.startedAt.getTime() };
      }
      if (l.status !== 'approved_for_air') return undefined;
      const id = randomUUID();
      await liveRepo.insertSession(q, id, lessonId, addr ?? null);
      await changeStatus(q, l, 'go_live', 'ingest', null, { sessionId: id });
      return { sessionId: id, resumed: false, epoch: 1, startedAt: Date.now() };
    });
    if (!out) return undefined;
    await this.setControl(out.sessionId, 'on_air', out.epoch);
    if (!out.resumed) await this.enqueue({ sessionId: out.sessionId, lessonId, startedAt: out.startedAt });
    await this.pubsub.publish(liveChannels.sessions, lessonId);
    this.log.info({ lessonId, sessionId: out.sessionId, resumed: out.resumed }, 'publisher on air');
    return { sessionId: out.sessionId, resumed: out.resumed };
  }

  /** The publisher's connection dropped: the session waits for a reconnect within the window. */
  async onPublisherLost(lessonId: string): Promise<void> {
    const open = await this.openSession(lessonId);
    if (!open || open.state !== 'on_air') return;
    // the session may have ended meanwhile (a stop races the drop it causes): nothing to wait for then
    if (!(await liveRepo.markSessionReconnecting(this.db, open.id))) return;
    await this.setControl(open.id, 'reconnecting');
    await this.pubsub.publish(liveChannels.sessions, lessonId);
    this.log.info({ lessonId, sessionId: open.id }, 'publisher lost; waiting for a reconnect');
  }

  /** Ends sessions whose publisher did not come back within the window, and those past their time. */
  async sweep(now = Date.now()): Promise<number> {
    const rows = await liveRepo.openSessionsWithScheduledEnd(this.db);
    let ended = 0;
    for (const s of rows) {
      if (s.state === 'reconnecting' && s.disconnectedAt && now - s.disconnectedAt.getTime() >= this.opts.reconnectWindowS * 1000) {
        await this.endSession(s.id, 'publisher did not reconnect');
        ended++;
      } else if (s.scheduledEnd && now > s.scheduledEnd.getTime() + this.opts.lateMarginMin * 60_000) {
        await this.pubsub.publish(liveChannels.kick, s.lessonId);
        await this.endSession(s.id, 'scheduled time is over');
        ended++;
      }
    }
    return ended;
  }

  /** Ends a session: the lesson goes to processing while the worker turns the segments into the recording. */
  async endSession(sessionId: string, reason: string): Promise<void> {
    const done = await this.db.tx(async (q) => {
      const s = await liveRepo.findSession(q, sessionId, true);
      if (!s || s.state === 'ended') return false;
      const l = await lockLesson(q, s.lessonId);
      const assetId = randomUUID();
      await insertAsset(q, { id: assetId, lessonId: l.id, version: await nextAssetVersion(q, l.id), origin: 'live', state: 'processing', hlsRoot: livePrefix(sessionId) });
      await liveRepo.markSessionEnded(q, sessionId, reason, assetId);
      await writeAudit(q, { actor: 'ingest', entity: 'live_session', entityId: sessionId, action: 'ended', from: s.state, to: 'ended', reason });
      await writeCurrentAsset(q, l.id, assetId);
      if (l.status === 'on_air') await changeStatus(q, l, 'live_ended', 'ingest', reason, { sessionId, assetId });
      return { lessonId: l.id };
    });
    if (!done) return;
    await this.setControl(sessionId, 'ended');
    await this.pubsub.publish(liveChannels.sessions, done.lessonId);
    this.log.info({ lessonId: done.lessonId, sessionId, reason }, 'live session ended');
  }

  /** The open session of a lesson (on air or waiting for a reconnect). */
  async openSession(lessonId: string): Promise<LiveSession | undefined> {
    return liveRepo.findOpenSession(this.db, lessonId);
  }

  /** What students can watch now: approved live lessons with an open session. */
  async onAir(baseUrl: string): Promise<{ items: { id: string; title: string; school: string; teacher: string; stage: string; grade: string; subject: string; startedAt: string; reconnecting: boolean; playback: { hls: string } }[] }> {
    const rows = await liveRepo.lessonsOnAir(this.db);
    return {
      items: rows.map((r) => ({ id: r.id, title: r.title, school: r.schoolName, teacher: r.teacherName, stage: r.stage, grade: r.grade, subject: r.subject, startedAt: r.startedAt.toISOString(), reconnecting: r.state === 'reconnecting', playback: { hls: `${baseUrl}/live/${r.id}/master.m3u8` } })),
    };
  }

  /**
   * The storage root of the session students may watch live now, or undefined. A session that ended
   * by itself stays reachable for two minutes, so players still polling read its ENDLIST; one cut off
   * by a reviewer or operator is closed at once.
   */
  async liveRoot(lessonId: string): Promise<string | undefined> {
    const id = await liveRepo.watchableSessionId(this.db, lessonId, 120);
    return id ? livePrefix(id) : undefined;
  }

  private async setControl(sessionId: string, state: LiveSessionState, epoch?: number): Promise<void> {
    const p = this.opts.redisPrefix;
    // 'ended' is final: a late event of the same session never brings it back (atomic in Redis)
    await this.redis.eval(
      "if redis.call('GET', KEYS[1]) == 'ended' then return 0 end redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3]) if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) end return 1",
      2,
      liveControlKeys.state(p, sessionId),
      liveControlKeys.epoch(p, sessionId),
      state,
      epoch === undefined ? '' : String(epoch),
      String(14 * 86400),
    );
    await this.redis.publish(liveControlKeys.channel(p), sessionId);
  }

  private async keysChanged(lessonId: string): Promise<void> {
    if (!(await this.opts.announceKeys(lessonId))) this.log.warn({ lessonId }, 'an ingest did not confirm a key change in time; its periodic refresh will');
  }

  private window(l: Pick<LessonRow, 'scheduled_start' | 'scheduled_end'>): { from: number; until: number } {
    return {
      from: (l.scheduled_start?.getTime() ?? 0) - this.opts.earlyMarginMin * 60_000,
      until: (l.scheduled_end?.getTime() ?? 0) + this.opts.lateMarginMin * 60_000,
    };
  }

  private async ownLiveLesson(actor: Principal, lessonId: string): Promise<LessonRow> {
    if (actor.role !== 'teacher') throw new ForbiddenError('teacher_only', 'only the lesson\'s teacher gets its stream key');
    const l = await findLesson(this.db, lessonId);
    if (!l || l.teacher_id !== actor.userId) throw new NotFoundError('lesson_not_found', 'lesson not found');
    if (l.kind !== 'live') throw new ConflictError('not_a_live_lesson', 'a recorded lesson has no stream key', { status: l.status });
    if (!['scheduled', 'approved_for_air', 'on_air', 'rejected'].includes(l.status)) throw new ConflictError('stream_key_unavailable', `no stream key for a live lesson in state "${l.status}"`, { status: l.status });
    return l;
  }
}

/** Queues the VOD transcode of a recording made from the capture (the asset's id, the captured source). */
export type EnqueueCaptureTranscode = (job: { assetId: string; lessonId: string; sourceKey: string }) => Promise<void>;

const fromCaptureSchema = z.object({ sourceKey: z.string().min(1), durationS: z.number().min(0) });

/**
 * Applies a finished live session's recording (or the reason it could not be made). A recording made
 * from the capture (no transcoder covered the whole session) keeps the asset processing and queues
 * its VOD transcode; that transcode's result then makes it ready like an upload's.
 */
export function liveResultApplier(enqueueTranscode: EnqueueCaptureTranscode): (q: Queryable, r: JobResult) => Promise<void> {
  return async (q, r) => {
    const capture = r.ok ? fromCaptureSchema.safeParse(r.data.fromCapture) : undefined;
    if (!capture?.success) return applyLiveResult(q, r);
    const s = await liveRepo.findSession(q, r.subjectId);
    if (!s?.assetId) return;
    await markAssetQueuedFromCapture(q, s.assetId, capture.data.sourceKey);
    await writeAudit(q, { actor: 'worker', entity: 'asset', entityId: s.assetId, action: 'recording_from_capture', data: { durationS: capture.data.durationS } });
    await enqueueTranscode({ assetId: s.assetId, lessonId: s.lessonId, sourceKey: capture.data.sourceKey });
  };
}

/** A finished live session's recording (or the reason it could not be made). */
export async function applyLiveResult(q: Queryable, r: JobResult): Promise<void> {
  const s = await liveRepo.findSession(q, r.subjectId);
  if (!s?.assetId) return;
  const assetId = s.assetId;
  const lesson = await lockLesson(q, s.lessonId);
  const current = lesson.current_asset_id === assetId;
  if (r.ok) {
    const durationS = typeof r.data.durationS === 'number' ? r.data.durationS : null;
    await markAssetReady(q, assetId, durationS, r.data);
    await writeAudit(q, { actor: 'worker', entity: 'asset', entityId: assetId, action: 'recording_ready', to: 'ready' });
    if (current && lesson.status === 'processing') await changeStatus(q, lesson, 'processing_succeeded', 'worker', null, { assetId });
  } else {
    const error = r.error ?? 'the recording could not be made';
    await markAssetFailed(q, assetId, error, failureCodeOf(r));
    await writeAudit(q, { actor: 'worker', entity: 'asset', entityId: assetId, action: 'recording_failed', to: 'failed', reason: error });
    if (current && lesson.status === 'processing') await changeStatus(q, lesson, 'processing_failed', 'worker', error, { assetId });
  }
}

function newSecret(): string {
  return randomBytes(24).toString('base64url');
}
