import type { Db } from '../infra/db.ts';
import type { LiveStatsStore } from '../infra/live-stats.store.ts';
import { ConflictError } from '../domain/errors.ts';
import type { Principal } from '../domain/types.ts';
import { streamAdvice, type StreamAdvice } from '../media/stream-meter.ts';
import type { LessonsService } from './lessons.service.ts';
import type { CaptureOnlyReason } from '../domain/live-capacity.ts';
import { findOpenSession } from '../infra/live.repo.ts';
import { findLesson } from '../infra/lessons.repo.ts';

export interface LiveStatus {
  status: string;
  /** a publisher is connected to the ingest right now */
  connected: boolean;
  session: { id: string; state: string; startedAt: string; disconnectedAt: string | null } | null;
  stream: { bitrateKbps: number; videoKbps: number; fps: number; keyframeIntervalS: number | null; width: number; height: number; hasVideo: boolean; hasAudio: boolean; measuredAt: string } | null;
  /** what to change in the encoder (codes; the page says them in Chinese) */
  advice: StreamAdvice[];
  stopped: boolean;
  /**
   * Whether a transcoder carries the open session (students get the ladder) or it is captured only,
   * with the true reason (src/domain/live-capacity.ts); null without an open session.
   */
  transcode: { transcoded: boolean; reason: CaptureOnlyReason | null; ahead: number | null; sourceProblem: string | null } | null;
}

/** How a lesson's open session is transcoded (src/services/live-capacity.service.ts). */
export interface TranscodeView {
  forSession(sessionId: string): Promise<{ transcoded: boolean; reason: CaptureOnlyReason | null; ahead: number | null; sourceProblem: string | null } | null>;
}

/** The teacher's (and reviewer's) view of a live lesson's stream: the catalog's session and the ingest's figures. */
export class LiveStatusService {
  constructor(private readonly db: Db, private readonly lessons: LessonsService, private readonly stats: LiveStatsStore, private readonly transcode?: TranscodeView) {}

  async status(actor: Principal, lessonId: string): Promise<LiveStatus> {
    const l = await this.lessons.rowForStaff(actor, lessonId);
    if (l.kind !== 'live') throw new ConflictError('not_a_live_lesson', 'not a live lesson', { status: l.status });
    const s = await findOpenSession(this.db, l.id);
    const stopped = Boolean((await findLesson(this.db, l.id))?.live_stopped_at);
    const figures = s ? await this.stats.read(l.id) : undefined;
    const t = s && this.transcode ? await this.transcode.forSession(s.id) : null;
    const now = Date.now();
    // figures older than a few seconds mean the ingest no longer carries the stream
    const fresh = figures && now - figures.at < 6000 ? figures : undefined;
    const idle = fresh ? fresh.idleMs + (now - fresh.at) : Infinity;
    return {
      status: l.status,
      connected: Boolean(s && s.state === 'on_air' && (fresh ? idle < 6000 : true)),
      session: s ? { id: s.id, state: s.state, startedAt: s.startedAt.toISOString(), disconnectedAt: s.disconnectedAt?.toISOString() ?? null } : null,
      stream: fresh ? {
        bitrateKbps: fresh.bitrateKbps, videoKbps: fresh.videoKbps, fps: fresh.fps, keyframeIntervalS: fresh.keyframeIntervalS,
        width: fresh.width, height: fresh.height, hasVideo: fresh.hasVideo, hasAudio: fresh.hasAudio, measuredAt: new Date(fresh.at).toISOString(),
      } : null,
      advice: fresh ? streamAdvice({ ...fresh, idleMs: idle }) : [],
      stopped,
      transcode: t ? { transcoded: t.transcoded, reason: t.reason, ahead: t.ahead, sourceProblem: t.sourceProblem } : null,
    };
  }
}
