import { isUtf8 } from 'node:buffer';
import express, { type RequestHandler, type Router } from 'express';

export interface StrictJsonOptions {
  /** Path prefixes this router looks after (`/api/v1/questions` covers `/api/v1/questions/...` too). */
  prefixes: string[];
  /** JSON body limit of those paths, bytes. */
  limitBytes: number;
  /** Routes that need a larger body (a question with pictures), by method and exact path. */
  larger: { method: string; path: string; limitBytes: number }[];
}

/**
 * Mounted before the API (app `routers`) for the Q&A and timetable paths: parses their JSON bodies
 * once, strictly, so the registry's own parser finds them read (body-parser skips a finished request):
 * - a body that is not valid UTF-8 is a 400 (body-parser would silently turn bad bytes into U+FFFD
 *   and store text the sender never wrote);
 * - the size limit is per route: 413 beyond it;
 * - every response on these paths carries `X-Content-Type-Options: nosniff`, so no browser ever
 *   sniffs a JSON answer holding user text into HTML.
 */
export function strictJsonRouter(o: StrictJsonOptions): Router {
  const verify = (_req: unknown, _res: unknown, buf: Buffer): void => {
    if (!isUtf8(buf)) throw Object.assign(new Error('the request body is not valid UTF-8'), { status: 400, expose: true, type: 'encoding.invalid' });
  };
  const parser = (limit: number): RequestHandler =>
    express.json({ limit, strict: true, type: ['application/json', 'application/*+json'], verify });
  const normal = parser(o.limitBytes);
  const larger = o.larger.map((l) => ({ ...l, parse: parser(l.limitBytes) }));
  const r = express.Router({ caseSensitive: true });
  r.use((req, res, next) => {
    const p = req.path;
    if (!o.prefixes.some((x) => p === x || p.startsWith(`${x}/`) || p.startsWith(`${x}.`))) {
      next();
      return;
    }
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const special = larger.find((l) => l.method === req.method && l.path === p.replace(/\/+$/, ''));
    (special?.parse ?? normal)(req, res, next);
  });
  return r;
}
