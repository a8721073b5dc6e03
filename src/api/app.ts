import cors from 'cors';
import express, { type Request, type RequestHandler, type Router } from 'express';
import type { Logger } from '../infra/logger.ts';
import { scrubUrl } from '../infra/logger.ts';
import { errorHandler, notFoundHandler, sendProblem } from './problem.ts';
import { openApiDocument, RouteRegistry, type Authenticate, type PublicCacheOptions } from './route-registry.ts';
import type { Metrics } from './metrics.ts';

export interface AppOptions {
  log: Logger;
  metrics?: Metrics;
  registry: RouteRegistry;
  authenticate: Authenticate;
  trustProxy: string;
  corsOrigins: string[];
  jsonLimitKb: number;
  /** Where public catalog reads are kept between changes. */
  publicCache?: PublicCacheOptions;
  /** Each check resolves when its part is reachable and rejects with a reason otherwise. */
  readiness: Record<string, () => Promise<void>>;
  /** Non-JSON routers (playback gateway), mounted before the API. */
  routers?: Router[];
  version: string;
}

/** Builds the Express app: ops endpoints, CORS, request logs, the registered routes, problem+json errors. */
export function createApp(o: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', o.trustProxy === 'true' ? true : o.trustProxy === 'false' ? false : o.trustProxy);
  app.set('etag', false);
  app.set('query parser', 'simple');
  // JSON answers can never be sniffed into HTML or script by a browser that shows them
  app.set('json escape', true);
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    const ip = req.ip;
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const entry = { method: req.method, url: scrubUrl(req.originalUrl).slice(0, 300), status: res.statusCode, ms: Math.round(ms * 10) / 10, ip };
      if (res.statusCode >= 500) o.log.error(entry, 'request');
      else o.log.debug(entry, 'request');
    });
    next();
  });
  if (o.metrics) app.use(o.metrics.middleware());

  app.use(corsFor(o.corsOrigins));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', version: o.version });
  });
  app.get('/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
    let ok = true;
    await Promise.all(
      Object.entries(o.readiness).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2000);
          checks[name] = 'ok';
        } catch (err) {
          ok = false;
          checks[name] = `unreachable: ${(err as Error).message?.slice(0, 120) ?? 'error'}`;
        }
      }),
    );
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready', checks });
  });
  if (o.metrics) {
    const m = o.metrics;
    app.get('/metrics', async (_req, res) => {
      res.type(m.registry.contentType).send(await m.registry.metrics());
    });
  }

  const doc = openApiDocument(o.registry, { title: 'classcast API', version: o.version });
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(doc);
  });

  for (const r of o.routers ?? []) app.use(r);

  const api = express.Router({ caseSensitive: true, strict: false });
  o.registry.mount(api, o.authenticate, `${o.jsonLimitKb}kb`, o.publicCache);
  app.use(api);

  app.use((req, res, next) => {
    // a known path with the wrong method: 405 rather than 404
    const known = o.registry.routes.filter((r) => matchPath(r.path, req.path));
    if (known.length) {
      res.setHeader('Allow', known.map((r) => r.method.toUpperCase()).join(', '));
      sendProblem(res, 405, 'method_not_allowed', `${req.method} is not allowed on this path`);
      return;
    }
    next();
  });
  app.use(notFoundHandler);
  app.use(errorHandler(o.log));
  return app;
}

/**
 * CORS for listed origins only; a request without an Origin, or from an unlisted one, gets no CORS
 * headers (and a preflight from it falls through to the routes).
 */
function corsFor(origins: string[]): RequestHandler {
  const any = origins.includes('*');
  return cors({
    origin: (origin, done) => done(null, origin && (any || origins.includes(origin)) ? (any ? '*' : origin) : false),
    methods: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
    allowedHeaders: 'Authorization, Content-Type, Range, Content-Range',
    exposedHeaders: 'Content-Length, Content-Range, Accept-Ranges, Retry-After',
    maxAge: 600,
  });
}

function matchPath(pattern: string, path: string): boolean {
  const re = new RegExp(`^${pattern.replace(/:[A-Za-z0-9_]+/g, '[^/]+')}/?$`);
  return re.test(path);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

/** The base URL students and staff reach us at: configured, or taken from the request. */
export function baseUrlFrom(configured: string): (req: Request) => string {
  if (configured) {
    const b = configured.replace(/\/+$/, '');
    return () => b;
  }
  return (req) => `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}
