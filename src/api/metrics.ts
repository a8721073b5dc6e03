import client from 'prom-client';
import type { RequestHandler } from 'express';

/** Counts and times one finished request: its status and its start (performance.now()). */
export type RequestRecorder = (status: number, started: number) => void;

type RequestLabel = 'method' | 'route' | 'status';

/** Prometheus metrics of one process (a registry per app, so tests can run several). */
export class Metrics {
  readonly registry = new client.Registry();
  readonly requests: client.Counter<RequestLabel>;
  readonly duration: client.Histogram<'method' | 'route'>;
  /** Counts of requestRecorder's requests not yet added to `requests`, by their labels. */
  private readonly pendingRequests = new Map<Record<RequestLabel, string>, number>();

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'classcast_' });
    const pending = this.pendingRequests;
    this.requests = new client.Counter({
      name: 'classcast_http_requests_total', help: 'HTTP requests by route template and status', labelNames: ['method', 'route', 'status'], registers: [this.registry],
      // requests counted by requestRecorder go in when the counter is read (a scrape)
      collect(this: client.Counter<RequestLabel>) {
        for (const [labels, n] of pending) {
          if (n === 0) continue;
          this.inc(labels, n);
          pending.set(labels, 0);
        }
      },
    });
    this.duration = new client.Histogram({ name: 'classcast_http_request_duration_seconds', help: 'HTTP request latency by route template', labelNames: ['method', 'route'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  }

  /**
   * Counts and times the requests of one method and route template on a hot path (the playback
   * gateway), under the same metrics as `middleware`. prom-client hashes the label values on every
   * inc(), even on a child from labels(): here a request adds 1 to a number kept per status, and the
   * counter takes those sums whenever it is read, so a scrape sees every request finished before it.
   */
  requestRecorder(method: string, route: string): RequestRecorder {
    const byStatus = new Map<number, Record<RequestLabel, string>>();
    const timeLabels = { method, route };
    const pending = this.pendingRequests;
    return (status, started) => {
      let labels = byStatus.get(status);
      if (!labels) byStatus.set(status, (labels = { method, route, status: String(status) }));
      pending.set(labels, (pending.get(labels) ?? 0) + 1);
      this.duration.observe(timeLabels, (performance.now() - started) / 1000);
    };
  }

  counter(name: string, help: string, labelNames: string[] = []): client.Counter<string> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as client.Counter<string>;
    return new client.Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /**
   * A gauge; with `collect`, its value is read at each scrape (a failing read leaves the last value,
   * so one broken source never fails the whole /metrics answer).
   */
  gauge(name: string, help: string, labelNames: string[] = [], collect?: (g: client.Gauge<string>) => Promise<void>): client.Gauge<string> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as client.Gauge<string>;
    return new client.Gauge({
      name, help, labelNames, registers: [this.registry],
      ...(collect ? { async collect(this: client.Gauge<string>) { await collect(this).catch(() => undefined); } } : {}),
    });
  }

  /** Counts and times every request under its route template (never the raw path: ids and tokens stay out of labels). */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const end = this.duration.startTimer();
      res.on('finish', () => {
        const route = routeLabel(req.baseUrl, req.route?.path, req.path);
        this.requests.inc({ method: req.method, route, status: String(res.statusCode) });
        end({ method: req.method, route });
      });
      next();
    };
  }
}

function routeLabel(baseUrl: string, routePath: string | undefined, path: string): string {
  if (routePath) return `${baseUrl}${routePath}`;
  if (path.startsWith('/play/')) return '/play/*';
  if (path.startsWith('/preview/')) return '/preview/*';
  if (path.startsWith('/live/')) return '/live/*';
  return 'unmatched';
}
