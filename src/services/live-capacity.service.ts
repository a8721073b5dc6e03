import type { Db } from '../infra/db.ts';
import type { LiveWorkerBeat, LiveWorkersStore, TranscoderSessionState } from '../infra/live-workers.store.ts';
import { openLiveSessions, plannedLiveLessons } from '../infra/live-capacity.repo.ts';
import type { UnfinishedJob } from '../infra/queue.ts';
import { jobIds } from '../jobs/job-types.ts';
import { captureOnlyReasons, classifySession, overCapacityWindows, windowMs, type CaptureOnlyReason, type LiveJobState, type SessionTranscode } from '../domain/live-capacity.ts';
import { toShanghaiIso } from '../domain/shanghai-time.ts';

/** One open session as operators see it: who transcodes it, or why nobody does. */
export interface CapacitySession extends SessionTranscode {
  sessionId: string;
  lessonId: string;
  title: string;
  school: string;
  teacher: string;
  state: 'on_air' | 'reconnecting';
  startedAt: string;
  transcoder: { workerId: string; host: string; state: string } | null;
  /** With `source_unusable`: the probe's reason. */
  sourceProblem: string | null;
}

/** The fleet's live capacity now: `GET /api/v1/ops/capacity` and the /metrics gauges. */
export interface CapacitySnapshot {
  at: string;
  workers: { workerId: string; host: string; pid: number; slots: number; used: number; sessions: { sessionId: string; lessonId: string; state: string; since: string }[]; seenAt: string }[];
  slots: { total: number; used: number; free: number };
  sessions: { onAir: number; transcoded: number; captureOnly: number; byReason: Record<CaptureOnlyReason, number> };
  jobs: { waiting: number; oldestWaitS: number | null };
  items: CapacitySession[];
}

/** The capacity report: 15-minute windows of the coming days with more approved live lessons than slots. */
export interface CapacityReport {
  from: string;
  to: string;
  capacity: { slots: number; source: 'workers' | 'configured' };
  /** 15-minute windows over capacity, the largest shortfall among them, and when the first begins. */
  over: { windows: number; maxShortfall: number; firstAt: string | null };
  windows: { from: string; to: string; demand: number; capacity: number; shortfall: number; lessons: { lessonId: string; title: string; school: string; teacher: string; start: string; end: string }[] }[];
}

export interface LiveCapacityOptions {
  /** Slots the report plans with while no live worker is alive (LIVE_FLEET_SLOTS). */
  fleetSlots: number;
  reportDays: number;
}

/** A session younger than this whose job is not seen yet is still being queued, not failed. */
const queueingGraceMs = 5000;

/**
 * What operators (and a teacher, for their own lesson) need to know about live capacity: the live
 * workers alive (their Redis heartbeats), the sessions on air (the catalog), which of them a
 * transcoder carries and the true reason for each that is captured only (the live queue), and the
 * windows of the coming days over capacity. Everything is read from Redis and the database, so every
 * API process answers the same.
 */
export class LiveCapacityService {
  private readonly snapshots = new Recent((now) => this.read(now));
  private readonly reports = new Recent((now) => this.report(new Date(now)));

  constructor(
    private readonly db: Db,
    private readonly workers: LiveWorkersStore,
    private readonly liveJobs: () => Promise<UnfinishedJob[]>,
    private readonly opts: LiveCapacityOptions,
  ) {}

  /** The snapshot, shared by the calls of one second (gauges read it once per scrape). */
  snapshot(maxAgeMs = 1000): Promise<CapacitySnapshot> {
    return this.snapshots.get(maxAgeMs);
  }

  /** The report, shared for `maxAgeMs` (the gauges read it at every scrape; plans change slowly). */
  cachedReport(maxAgeMs = 60_000): Promise<CapacityReport> {
    return this.reports.get(maxAgeMs);
  }

  /** How an open session is transcoded (the teacher's live panel); null when it is not open. */
  async forSession(sessionId: string): Promise<CapacitySession | null> {
    const item = (s: CapacitySnapshot) => s.items.find((i) => i.sessionId === sessionId);
    return item(await this.snapshot()) ?? item(await this.snapshot(0)) ?? null;
  }

  private async read(now: number): Promise<CapacitySnapshot> {
    const [beats, sessions, jobs] = await Promise.all([this.workers.alive(now), openLiveSessions(this.db), this.liveJobs()]);
    const holders = new Map<string, { beat: LiveWorkerBeat; state: TranscoderSessionState; problem: string | null }>();
    for (const b of beats) for (const s of b.sessions) holders.set(s.sessionId, { beat: b, state: s.state, problem: s.problem ?? null });
    const total = beats.reduce((n, b) => n + b.slots, 0);
    const used = beats.reduce((n, b) => n + b.sessions.length, 0);
    const jobById = new Map(jobs.map((j) => [j.id, j]));
    const waiting = jobs.filter((j) => j.state === 'waiting');

    // a job waits for a worker when it is queued, retrying, or active on a worker no longer alive
    const held = new Set(holders.keys());
    const waitingJobs = jobs.filter((j) => j.state !== 'active' || !held.has(sessionOfJob(j.id)));
    const seen = await this.workers.lastSeen(waitingJobs.map((j) => sessionOfJob(j.id)));
    // waited since it was queued, or since a transcoder was last seen with it (a worker that died)
    const waitedSince = waitingJobs.map((j) => Math.max(j.queuedAt, seen.get(sessionOfJob(j.id)) ?? 0));
    const oldest = waitedSince.length ? Math.min(...waitedSince) : null;

    const items: CapacitySession[] = sessions.map((s) => {
      const h = holders.get(s.session_id);
      const job = jobById.get(jobIds.live(s.session_id));
      let state: LiveJobState = job ? job.state : 'missing';
      if (!job && now - s.started_at.getTime() < queueingGraceMs) state = 'waiting';
      const ahead = job?.state === 'waiting' ? waiting.indexOf(job) : 0;
      const c = classifySession({ holder: h ? { state: h.state } : undefined, job: state, ahead, workersAlive: beats.length, freeSlots: Math.max(0, total - used) });
      return {
        sessionId: s.session_id, lessonId: s.lesson_id, title: s.title, school: s.school_name, teacher: s.teacher_name, state: s.state, startedAt: s.started_at.toISOString(),
        ...c,
        transcoder: h ? { workerId: h.beat.workerId, host: h.beat.host, state: h.state } : null,
        sourceProblem: h?.state === 'source_unusable' ? h.problem : null,
      };
    });
    const byReason = Object.fromEntries(captureOnlyReasons.map((r) => [r, items.filter((i) => i.reason === r).length])) as Record<CaptureOnlyReason, number>;
    return {
      at: new Date(now).toISOString(),
      workers: beats.map((b) => ({
        workerId: b.workerId, host: b.host, pid: b.pid, slots: b.slots, used: b.sessions.length, seenAt: new Date(b.at).toISOString(),
        sessions: b.sessions.map((s) => ({ sessionId: s.sessionId, lessonId: s.lessonId, state: s.state, since: new Date(s.since).toISOString() })),
      })),
      slots: { total, used, free: Math.max(0, total - used) },
      sessions: { onAir: items.length, transcoded: items.filter((i) => i.transcoded).length, captureOnly: items.filter((i) => !i.transcoded).length, byReason },
      jobs: { waiting: waitingJobs.length, oldestWaitS: oldest === null ? null : Math.max(0, Math.round((now - oldest) / 1000)) },
      items,
    };
  }

  /**
   * The windows of the next `reportDays` days where the approved live lessons' planned times need more
   * slots than the fleet has: the slots of the live workers alive now, or the configured figure when
   * none is.
   */
  async report(now = new Date()): Promise<CapacityReport> {
    const to = new Date(now.getTime() + this.opts.reportDays * 86_400_000);
    const [beats, lessons] = await Promise.all([this.workers.alive(now.getTime()), plannedLiveLessons(this.db, now, to)]);
    const capacity = beats.length ? { slots: beats.reduce((n, b) => n + b.slots, 0), source: 'workers' as const } : { slots: this.opts.fleetSlots, source: 'configured' as const };
    const byId = new Map(lessons.map((l) => [l.id, l]));
    const spans = overCapacityWindows(lessons.map((l) => ({ id: l.id, start: l.scheduled_start, end: l.scheduled_end })), capacity.slots, now, to);
    return {
      from: toShanghaiIso(now),
      to: toShanghaiIso(to),
      capacity,
      over: {
        windows: spans.reduce((n, w) => n + Math.round((w.to.getTime() - w.from.getTime()) / windowMs), 0),
        maxShortfall: spans.reduce((m, w) => Math.max(m, w.shortfall), 0),
        firstAt: spans[0] ? toShanghaiIso(spans[0].from) : null,
      },
      windows: spans.map((w) => ({
        from: toShanghaiIso(w.from), to: toShanghaiIso(w.to), demand: w.demand, capacity: w.capacity, shortfall: w.shortfall,
        lessons: w.lessonIds.map((id) => byId.get(id)!).sort((a, b) => a.scheduled_start.getTime() - b.scheduled_start.getTime() || a.title.localeCompare(b.title, 'zh-CN')).map((l) => ({ lessonId: l.id, title: l.title, school: l.school_name, teacher: l.teacher_name, start: toShanghaiIso(l.scheduled_start), end: toShanghaiIso(l.scheduled_end) })),
      })),
    };
  }
}

/** The session a live job is for (its id is `live-{sessionId}`, src/jobs/job-types.ts). */
const sessionOfJob = (jobId: string): string => jobId.replace(/^live-/, '');

/** One answer of `load` shared by every caller for a while; a failed load is not kept. */
class Recent<T> {
  private last: { at: number; value: Promise<T> } | undefined;

  constructor(private readonly load: (now: number) => Promise<T>) {}

  get(maxAgeMs: number): Promise<T> {
    const now = Date.now();
    if (!this.last || now - this.last.at > maxAgeMs) {
      const value = this.load(now);
      const entry = { at: now, value };
      this.last = entry;
      value.catch(() => {
        if (this.last === entry) this.last = undefined;
      });
    }
    return this.last.value;
  }
}
