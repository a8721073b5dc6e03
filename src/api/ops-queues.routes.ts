import express, { type Router } from 'express';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Principal } from '../domain/types.ts';
import { sendProblem } from './problem.ts';
import type { SessionCookies } from './session-cookie.ts';

export const QUEUES_PATH = '/ops/queues';

/**
 * Its own page, not ours: scripts and styles from this origin only (its loading screen has inline
 * styles; its Google Fonts link is blocked, nothing leaves the deployment), no frames, no other origin.
 */
const boardCsp = [
  "default-src 'none'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

/**
 * The BullMQ dashboard (@bull-board/express) under /ops/queues, for operators and admins signed in to
 * the consoles (session cookie). Anyone else gets the login page (a browser) or 401/403 (a script), never
 * the board. The board's own calls cannot carry our X-CSRF-Token, so its writes (retry, clean, pause)
 * must come from our own origin (fetch metadata and Origin), besides the SameSite=Strict cookie.
 */
export function opsQueuesRouter(o: { queues: Queue[]; cookies: SessionCookies; resolve: (token: string) => Promise<Principal | undefined> }): Router {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(QUEUES_PATH);
  createBullBoard({ queues: o.queues.map((q) => new BullMQAdapter(q)), serverAdapter: adapter, options: { uiConfig: { boardTitle: '任务队列' } } });
  const r = express.Router();
  r.use(QUEUES_PATH, async (req, res, next) => {
    const token = o.cookies.token(req);
    const p = token ? await o.resolve(token) : undefined;
    if (!p || (p.role !== 'operator' && p.role !== 'admin')) {
      if (req.method === 'GET' && String(req.headers.accept ?? '').includes('text/html')) {
        const q = new URLSearchParams({ next: `${QUEUES_PATH}/` });
        if (p) q.set('reason', 'role');
        return res.redirect(303, `/login?${q.toString()}`);
      }
      return p ? sendProblem(res, 403, 'operator_only', 'the queue dashboard is for operators') : sendProblem(res, 401, 'authentication_required', 'sign in as an operator first');
    }
    if (o.cookies.isUnsafe(req)) {
      try {
        o.cookies.assertSameOrigin(req);
        if (!req.headers.origin && req.headers['sec-fetch-site'] !== 'same-origin') throw new Error('no origin');
      } catch {
        return sendProblem(res, 403, 'cross_site_forbidden', 'queue changes must come from the dashboard itself');
      }
    }
    res.setHeader('Content-Security-Policy', boardCsp);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cache-Control', 'no-store');
    next();
  }, adapter.getRouter() as Router);
  return r;
}
