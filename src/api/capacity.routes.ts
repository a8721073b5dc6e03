import { z } from 'zod';
import type { RouteRegistry } from './route-registry.ts';
import type { Metrics } from './metrics.ts';
import { captureOnlyReasons } from '../domain/live-capacity.ts';
import type { CapacityReport, CapacitySnapshot, LiveCapacityService } from '../services/live-capacity.service.ts';

const reason = z.enum(captureOnlyReasons);
const snapshotResponse = z.object({
  at: z.string(),
  workers: z.array(z.object({
    workerId: z.string(), host: z.string(), pid: z.number(), slots: z.number(), used: z.number(), seenAt: z.string(),
    sessions: z.array(z.object({ sessionId: z.string(), lessonId: z.string(), state: z.string(), since: z.string() })),
  })),
  slots: z.object({ total: z.number(), used: z.number(), free: z.number() }),
  sessions: z.object({ onAir: z.number(), transcoded: z.number(), captureOnly: z.number(), byReason: z.record(reason, z.number()) }),
  jobs: z.object({ waiting: z.number(), oldestWaitS: z.number().nullable() }),
  items: z.array(z.object({
    sessionId: z.string(), lessonId: z.string(), title: z.string(), school: z.string(), teacher: z.string(), state: z.enum(['on_air', 'reconnecting']), startedAt: z.string(),
    transcoded: z.boolean(), reason: reason.nullable(), ahead: z.number().nullable(), sourceProblem: z.string().nullable(),
    transcoder: z.object({ workerId: z.string(), host: z.string(), state: z.string() }).nullable(),
  })),
});
const reportResponse = z.object({
  from: z.string(), to: z.string(),
  capacity: z.object({ slots: z.number(), source: z.enum(['workers', 'configured']) }),
  over: z.object({ windows: z.number(), maxShortfall: z.number(), firstAt: z.string().nullable() }),
  windows: z.array(z.object({
    from: z.string(), to: z.string(), demand: z.number(), capacity: z.number(), shortfall: z.number(),
    lessons: z.array(z.object({ lessonId: z.string(), title: z.string(), school: z.string(), teacher: z.string(), start: z.string(), end: z.string() })),
  })),
});

/**
 * Live capacity for operators (issue 11 item 3): the fleet now (`/ops/capacity`), the windows of the
 * coming days over capacity (`/reports/live-capacity`), and the same figures as Prometheus gauges.
 */
export function registerCapacityRoutes(r: RouteRegistry, capacity: LiveCapacityService, metrics?: Metrics): void {
  r.add({
    method: 'get', path: '/api/v1/ops/capacity', tag: 'ops', auth: ['operator', 'admin'], summary: 'Live workers and their slots, sessions on air transcoded or captured only (and why), live jobs waiting',
    response: snapshotResponse,
    handler: ({ res }) => {
      res.setHeader('Cache-Control', 'no-store');
      return capacity.snapshot(0);
    },
  });
  r.add({
    method: 'get', path: '/api/v1/reports/live-capacity', tag: 'ops', auth: ['operator', 'admin'], summary: 'The 15-minute windows of the next 3 days whose approved live lessons exceed the fleet\'s live slots',
    response: reportResponse,
    handler: ({ res }) => {
      res.setHeader('Cache-Control', 'no-store');
      return capacity.report();
    },
  });
  if (metrics) registerCapacityGauges(metrics, () => capacity.snapshot(), () => capacity.cachedReport());
}

/** Gauges of the fleet's live capacity, read at each scrape from Redis and the database (the same in every API process). */
function registerCapacityGauges(m: Metrics, snapshot: () => Promise<CapacitySnapshot>, report: () => Promise<CapacityReport>): void {
  const gauges: [string, string, (s: CapacitySnapshot) => number][] = [
    ['classcast_live_sessions_on_air', 'Live sessions on air or waiting for their publisher to reconnect (fleet-wide: take max() across API processes)', (s) => s.sessions.onAir],
    ['classcast_live_sessions_transcoded', 'Live sessions on air a transcoder carries (the ladder)', (s) => s.sessions.transcoded],
    ['classcast_live_sessions_capture_only', 'Live sessions on air captured only (students get the source rendition)', (s) => s.sessions.captureOnly],
    ['classcast_live_jobs_waiting', 'Live jobs waiting for a worker (queued, retrying, or on a worker that died)', (s) => s.jobs.waiting],
    ['classcast_live_jobs_oldest_wait_seconds', 'How long the oldest waiting live job has waited, seconds (0 when none waits)', (s) => s.jobs.oldestWaitS ?? 0],
    ['classcast_live_slots_total', 'Live slots of the live workers alive (sum of their LIVE_CONCURRENCY)', (s) => s.slots.total],
    ['classcast_live_slots_used', 'Live slots in use', (s) => s.slots.used],
    ['classcast_live_workers_alive', 'Live workers whose heartbeat has not expired', (s) => s.workers.length],
  ];
  for (const [name, help, value] of gauges) {
    m.gauge(name, help, [], async (g) => {
      g.set(value(await snapshot()));
    });
  }
  m.gauge('classcast_live_capacity_windows_over', 'Quarter hours of the next 3 days whose approved live lessons exceed the fleet\'s live slots (GET /api/v1/reports/live-capacity; refreshed every minute)', [], async (g) => {
    g.set((await report()).over.windows);
  });
  m.gauge('classcast_live_capacity_shortfall_max', 'Largest shortfall of live slots in a quarter hour of the next 3 days', [], async (g) => {
    g.set((await report()).over.maxShortfall);
  });
  m.gauge('classcast_live_sessions_capture_only_by_reason', 'Live sessions on air captured only, by the reason no transcoder carries them', ['reason'], async (g) => {
    const s = await snapshot();
    for (const r of captureOnlyReasons) g.set({ reason: r }, s.sessions.byReason[r]);
  });
}
