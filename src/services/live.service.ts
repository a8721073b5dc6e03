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
import { lockLesson } from '../infra/lessons.repo.ts';
import { writeAudit } from '../infra/audit.repo.ts';
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

interface SessionRow {
  id: string;
  lesson_id: string;
  state: LiveSessionState;
  epoch: number;
  started_at: Date;
  disconnected_at: Date | null;
  ended_at: Date | null;
  asset_id: string | null;
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
    const rows = await this.db.query<{ key_cipher: string }>('SELECT key_cipher FROM live_keys WHERE lesson_id = $1', [l.id]);
    if (rows[0]) secret = this.box.open(rows[0].key_cipher);
    else {
      secret = newSecret();
      await this.db.tx(async (q) => {
        await q.query('INSERT INTO live_keys (lesson_id, key_hash, key_cipher) VALUES ($1, $2, $3) ON CONFLICT (lesson_id) DO NOTHING', [l.id, hashKey(secret), this.box.seal(secret)]);
        await writeAudit(q, { actor, entity: 'lesson', entityId: l.id, action: 'live_key_created' });
      });
      const again = await this.db.query<{ key_cipher: string }>('SELECT key_cipher FROM live_keys WHERE lesson_id = $1', [l.id]);
      secret = this.box.open(again[0].key_cipher);
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
      await q.query(
        `INSERT INTO live_keys (lesson_id, key_hash, key_cipher) VALUES ($1, $2, $3)
         ON CONFLICT (lesson_id) DO UPDATE SET key_hash = EXCLUDED.key_hash, key_cipher = EXCLUDED.key_cipher, rotated_at = now()`,
        [l.id, hashKey(secret), this.box.seal(secret)],
      );
      await writeAudit(q, { actor, entity: 'lesson', entityId: l.id, action: 'live_key_rotated' });
    });
    await this.keysChanged(l.id);
    return { rtmpUrl: this.opts.rtmpUrl, streamKey: `${l.id}?key=${secret}` };
  }

  /** Cuts the stream off now, ends the session and refuses reconnects (reviewer of the school, operator). */
  async stop(actor: Principal, lessonId: string, reason?: string): Promise<{ status: string; sessionId: string | null }> {
    if (!['reviewer', 'operator', 'admin'].includes(actor.role)) throw new ForbiddenError('stop_not_allowed', 'only a reviewer of the school or an operator stops a live lesson');
    const l = (await this.db.query<LessonRow>('SELECT * FROM lessons WHERE id = $1', [lessonId]))[0];
    if (!l || (actor.role === 'reviewer' && l.school_id !== actor.schoolId)) throw new NotFoundError('lesson_not_found', 'lesson not found');
    if (l.kind !== 'live') throw new ConflictError('not_a_live_lesson', 'not a live lesson', { status: l.status });
    if (l.live_stopped_at) throw new ConflictError('live_already_stopped', 'this live lesson was already stopped', { status: l.status });
    await this.db.tx(async (q) => {
      await q.query('UPDATE lessons SET live_stopped_at = now(), live_stopped_by = $2 WHERE id = $1', [l.id, actor.userId]);
      await writeAudit(q, { actor, entity: 'lesson', entityId: l.id, action: 'live_stopped', from: l.status, to: l.status, reason: reason ?? null });
    });
    await this.pubsub.publish(liveChannels.kick, l.id);
    await this.keysChanged(l.id);
    const open = await this.openSession(l.id);
    if (open) await this.endSession(open.id, 'stopped');
    const after = (await this.db.query<LessonRow>('SELECT * FROM lessons WHERE id = $1', [l.id]))[0];
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
    const rows = await this.db.query<LessonRow & { key_hash: string; live_stopped_at: Date | null }>(
      `SELECT l.*, k.key_hash FROM lessons l JOIN live_keys k ON k.lesson_id = l.id
       WHERE l.kind = 'live' AND l.status IN ('approved_for_air', 'on_air')${lessonId ? ' AND l.id::text = $1' : ''}`,
      lessonId ? [lessonId] : [],
    );
    return rows.map((l) => {
      const w = this.window(l);
      return { lessonId: l.id, keyHash: l.key_hash, allowedFrom: w.from, allowedUntil: w.until, stopped: Boolean(l.live_stopped_at) };
    });
  }

  /** The ingest accepted a publisher: a new session, or the open one resumed after a drop. */
  async onPublishStart(lessonId: string, addr?: string): Promise<{ sessionId: string; resumed: boolean } | undefined> {
    const out = await this.db.tx(async (q) => {
      const l = await lockLesson(q, lessonId);
      if (l.kind !== 'live' || l.live_stopped_at) return undefined;
      const open = (await q.query<SessionRow>("SELECT * FROM live_sessions WHERE lesson_id = $1 AND state <> 'ended'", [lessonId]))[0];
      if (open) {
        await q.query("UPDATE live_sessions SET state = 'on_air', epoch = epoch + 1, disconnected_at = NULL, publisher_addr = $2, updated_at = now() WHERE id = $1", [open.id, addr ?? null]);
        await writeAudit(q, { actor: 'ingest', entity: 'live_session', entityId: open.id, action: 'publisher_reconnected', from: open.state, to: 'on_air' });
        return { sessionId: open.id, resumed: true, epoch: open.epoch + 1, startedAt: open.started_at.getTime() };
      }
      if (l.status !== 'approved_for_air') return undefined;
      const id = randomUUID();
      await q.query("INSERT INTO live_sessions (id, lesson_id, state, publisher_addr) VALUES ($1, $2, 'on_air', $3)", [id, lessonId, addr ?? null]);
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
    const changed = await this.db.query("UPDATE live_sessions SET state = 'reconnecting', disconnected_at = now(), updated_at = now() WHERE id = $1 AND state = 'on_air' RETURNING id", [open.id]);
    // the session may have ended meanwhile (a stop races the drop it causes): nothing to wait for then
    if (!changed.length) return;
    await this.setControl(open.id, 'reconnecting');
    await this.pubsub.publish(liveChannels.sessions, lessonId);
    this.log.info({ lessonId, sessionId: open.id }, 'publisher lost; waiting for a reconnect');
  }

  /** Ends sessions whose publisher did not come back within the window, and those past their time. */
  async sweep(now = Date.now()): Promise<number> {
    const rows = await this.db.query<SessionRow & { scheduled_end: Date | null }>(
      `SELECT s.*, l.scheduled_end FROM live_sessions s JOIN lessons l ON l.id = s.lesson_id WHERE s.state <> 'ended'`,
    );
    let ended = 0;
    for (const s of rows) {
      if (s.state === 'reconnecting' && s.disconnected_at && now - s.disconnected_at.getTime() >= this.opts.reconnectWindowS * 1000) {
        await this.endSession(s.id, 'publisher did not reconnect');
        ended++;
      } else if (s.scheduled_end && now > s.scheduled_end.getTime() + this.opts.lateMarginMin * 60_000) {
        await this.pubsub.publish(liveChannels.kick, s.lesson_id);
        await this.endSession(s.id, 'scheduled time is over');
        ended++;
      }
    }
    return ended;
  }

  /** Ends a session: the lesson goes to processing while the worker turns the segments into the recording. */
  async endSession(sessionId: string, reason: string): Promise<void> {
    const done = await this.db.tx(async (q) => {
      const s = (await q.query<SessionRow>('SELECT * FROM live_sessions WHERE id = $1 FOR UPDATE', [sessionId]))[0];
      if (!s || s.state === 'ended') return false;
      const l = await lockLesson(q, s.lesson_id);
      const assetId = randomUUID();
      const v = await q.query<{ v: number | null }>('SELECT max(version) v FROM assets WHERE lesson_id = $1', [l.id]);
      await q.query("INSERT INTO assets (id, lesson_id, version, origin, state, hls_root) VALUES ($1, $2, $3, 'live', 'processing', $4)", [assetId, l.id, (v[0]?.v ?? 0) + 1, livePrefix(sessionId)]);
      await q.query("UPDATE live_sessions SET state = 'ended', ended_at = now(), end_reason = $2, asset_id = $3, updated_at = now() WHERE id = $1", [sessionId, reason, assetId]);
      await writeAudit(q, { actor: 'ingest', entity: 'live_session', entityId: sessionId, action: 'ended', from: s.state, to: 'ended', reason });
      await q.query('UPDATE lessons SET current_asset_id = $2 WHERE id = $1', [l.id, assetId]);
      if (l.status === 'on_air') await changeStatus(q, l, 'live_ended', 'ingest', reason, { sessionId, assetId });
      return { lessonId: l.id };
    });
    if (!done) return;
    await this.setControl(sessionId, 'ended');
    await this.pubsub.publish(liveChannels.sessions, done.lessonId);
    this.log.info({ lessonId: done.lessonId, sessionId, reason }, 'live session ended');
  }

  /** The open session of a lesson (on air or waiting for a reconnect). */
  async openSession(lessonId: string): Promise<SessionRow | undefined> {
    return (await this.db.query<SessionRow>("SELECT * FROM live_sessions WHERE lesson_id = $1 AND state <> 'ended'", [lessonId]))[0];
  }

  /** What students can watch now: approved live lessons with an open session. */
  async onAir(baseUrl: string): Promise<{ items: { id: string; title: string; school: string; teacher: string; stage: string; grade: string; subject: string; startedAt: string; reconnecting: boolean; playback: { hls: string } }[] }> {
    const rows = await this.db.query<{ id: string; title: string; school_name: string; teacher_name: string; stage: string; grade: string; subject: string; started_at: Date; state: string }>(
      `SELECT l.id, l.title, sc.name school_name, u.display_name teacher_name, l.stage, l.grade, l.subject, s.started_at, s.state
       FROM live_sessions s JOIN lessons l ON l.id = s.lesson_id JOIN schools sc ON sc.id = l.school_id JOIN users u ON u.id = l.teacher_id
       WHERE s.state <> 'ended' AND l.status = 'on_air' AND l.live_stopped_at IS NULL ORDER BY s.started_at DESC`,
    );
    return {
      items: rows.map((r) => ({ id: r.id, title: r.title, school: r.school_name, teacher: r.teacher_name, stage: r.stage, grade: r.grade, subject: r.subject, startedAt: r.started_at.toISOString(), reconnecting: r.state === 'reconnecting', playback: { hls: `${baseUrl}/live/${r.id}/master.m3u8` } })),
    };
  }

  /**
   * The storage root of the session students may watch live now, or undefined. A session that ended
   * by itself stays reachable for two minutes, so players still polling read its ENDLIST; one cut off
   * by a reviewer or operator is closed at once.
   */
  async liveRoot(lessonId: string): Promise<string | undefined> {
    const rows = await this.db.query<{ id: string }>(
      `SELECT s.id FROM live_sessions s JOIN lessons l ON l.id = s.lesson_id
       WHERE s.lesson_id = $1 AND l.live_stopped_at IS NULL AND (
         (s.state <> 'ended' AND l.status = 'on_air')
         OR (s.state = 'ended' AND s.ended_at > now() - interval '120 seconds' AND s.end_reason <> 'stopped'))
       ORDER BY s.started_at DESC LIMIT 1`,
      [lessonId],
    );
    return rows[0] ? livePrefix(rows[0].id) : undefined;
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

  private async ownLiveLesson(actor: Principal, lessonId: string): Promise<LessonRow & { live_stopped_at: Date | null }> {
    if (actor.role !== 'teacher') throw new ForbiddenError('teacher_only', 'only the lesson\'s teacher gets its stream key');
    const l = (await this.db.query<LessonRow & { live_stopped_at: Date | null }>('SELECT * FROM lessons WHERE id = $1', [lessonId]))[0];
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
    const s = (await q.query<SessionRow>('SELECT * FROM live_sessions WHERE id = $1', [r.subjectId]))[0];
    if (!s?.asset_id) return;
    await q.query("UPDATE assets SET state = 'queued', source_key = $2, hls_root = NULL, updated_at = now() WHERE id = $1", [s.asset_id, capture.data.sourceKey]);
    await writeAudit(q, { actor: 'worker', entity: 'asset', entityId: s.asset_id, action: 'recording_from_capture', data: { durationS: capture.data.durationS } });
    await enqueueTranscode({ assetId: s.asset_id, lessonId: s.lesson_id, sourceKey: capture.data.sourceKey });
  };
}

/** A finished live session's recording (or the reason it could not be made). */
export async function applyLiveResult(q: Queryable, r: JobResult): Promise<void> {
  const s = (await q.query<SessionRow>('SELECT * FROM live_sessions WHERE id = $1', [r.subjectId]))[0];
  if (!s?.asset_id) return;
  const lesson = await lockLesson(q, s.lesson_id);
  const current = lesson.current_asset_id === s.asset_id;
  if (r.ok) {
    const durationS = typeof r.data.durationS === 'number' ? r.data.durationS : null;
    await q.query("UPDATE assets SET state = 'ready', progress = 100, error = NULL, error_code = NULL, duration_s = $2, media = $3, updated_at = now() WHERE id = $1", [s.asset_id, durationS, JSON.stringify(r.data)]);
    await writeAudit(q, { actor: 'worker', entity: 'asset', entityId: s.asset_id, action: 'recording_ready', to: 'ready' });
    if (current && lesson.status === 'processing') await changeStatus(q, lesson, 'processing_succeeded', 'worker', null, { assetId: s.asset_id });
  } else {
    const error = r.error ?? 'the recording could not be made';
    await q.query("UPDATE assets SET state = 'failed', error = $2, error_code = $3, updated_at = now() WHERE id = $1", [s.asset_id, error, failureCodeOf(r)]);
    await writeAudit(q, { actor: 'worker', entity: 'asset', entityId: s.asset_id, action: 'recording_failed', to: 'failed', reason: error });
    if (current && lesson.status === 'processing') await changeStatus(q, lesson, 'processing_failed', 'worker', error, { assetId: s.asset_id });
  }
}

function newSecret(): string {
  return randomBytes(24).toString('base64url');
}
