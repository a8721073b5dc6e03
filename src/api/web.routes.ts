import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from '../infra/logger.ts';
import { sendProblem } from './problem.ts';

/** Where `scripts/build-web.mjs` writes the built pages. */
export const defaultWebDist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

/** A page path the API answers with one of the built HTML entries. */
export interface WebPage {
  /** Express path, e.g. `/lessons/:id`. */
  path: string;
  /** HTML entry in the build (`index.html` for the student site). */
  html: string;
  /** When given and false, the path answers 404 with the not-found page (same check as the public API). */
  exists?: (params: Record<string, string>) => Promise<boolean>;
}

export interface WebDeps {
  log: Logger;
  /** Same rule as GET /api/v1/lessons/{id}: published on the portal, or a live lesson approved for air. */
  lessonIsPublic: (id: string) => Promise<boolean>;
  distDir?: string;
  /** More pages (staff consoles) served from the same build. */
  pages?: WebPage[];
}

/**
 * The Content-Security-Policy of every page: scripts, styles, fonts only from this origin and never
 * inline or eval'd; media and workers also from blob: (hls.js feeds the video element a MediaSource
 * blob URL and runs its transmuxer in a blob worker); images also from data: and blob: (the picked
 * photo's preview before a question is sent). No frame may embed us.
 */
export const pageCsp = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/** Paths the pages never claim, so an unknown one there stays a problem+json 404. */
const notPages = /^\/(api|play|live|preview|healthz|readyz|metrics|assets)(\/|$)/;

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The student pages of issue 9; staff consoles add theirs through `WebDeps.pages`. */
export function studentPages(lessonIsPublic: (id: string) => Promise<boolean>): WebPage[] {
  return [
    { path: '/', html: 'index.html' },
    { path: '/lessons', html: 'index.html' },
    { path: '/lessons/:id', html: 'index.html', exists: async (p) => uuidRe.test(p.id ?? '') && lessonIsPublic(p.id.toLowerCase()) },
    { path: '/qa', html: 'index.html' },
  ];
}

/** The staff consoles (issue 10): one entry; the page asks who is signed in before it asks for data. */
export const consolePages: WebPage[] = ['/login', '/teach', '/review', '/ops'].map((p) => ({ path: p, html: 'console.html' }));

/**
 * Serves the built pages: hashed assets immutable for a year, HTML never cached without revalidation,
 * each with the page CSP; the precompressed brotli or gzip copy when the browser takes it.
 */
export function webRouter(d: WebDeps): Router {
  const dist = d.distDir ?? defaultWebDist;
  const assets = path.join(dist, 'assets');
  if (!existsSync(path.join(dist, 'index.html'))) d.log.warn({ dist }, 'the pages are not built (node scripts/build-web.mjs); page paths answer 503');
  const r = express.Router({ caseSensitive: true, strict: false });

  r.get('/assets/*file', async (req, res) => {
    const rel = ([] as string[]).concat((req.params as { file: string[] | string }).file).join('/');
    const file = path.resolve(assets, rel);
    if (!file.startsWith(assets + path.sep) || /\.(br|gz)$/.test(file)) return sendProblem(res, 404, 'endpoint_not_found', 'no such asset');
    // names carry a content hash: a name never changes meaning
    const ok = await sendStatic(req, res, file, 200, 'public, max-age=31536000, immutable');
    if (!ok) sendProblem(res, 404, 'endpoint_not_found', 'no such asset');
  });

  const html = async (req: Request, res: Response, entry: string, status: number): Promise<void> => {
    res.setHeader('Content-Security-Policy', pageCsp);
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('X-Frame-Options', 'DENY');
    // the HTML names the current hashed assets: always revalidate it
    const ok = await sendStatic(req, res, path.join(dist, entry), status, 'no-cache');
    if (!ok) sendProblem(res, 503, 'pages_unavailable', 'the pages are not built on this server');
  };

  for (const page of [...studentPages(d.lessonIsPublic), ...(d.pages ?? [])]) {
    r.get(page.path, async (req, res) => {
      if (page.exists && !(await page.exists(req.params as Record<string, string>))) return html(req, res, 'not-found.html', 404);
      await html(req, res, page.html, 200);
    });
  }

  // a browser asking for a page we do not have gets the not-found page; API clients keep problem+json
  r.get('/*rest', async (req, res, next) => {
    if (notPages.test(req.path) || !String(req.headers.accept ?? '').includes('text/html')) return next();
    await html(req, res, 'not-found.html', 404);
  });
  return r;
}

/** Sends a built file (its .br or .gz copy when accepted); false when the file does not exist. */
async function sendStatic(req: Request, res: Response, file: string, status: number, cacheControl: string): Promise<boolean> {
  const type = types[path.extname(file)] ?? 'application/octet-stream';
  const accept = String(req.headers['accept-encoding'] ?? '');
  const candidates: [string, string | undefined][] = [];
  if (/\bbr\b/.test(accept)) candidates.push([`${file}.br`, 'br']);
  if (/\bgzip\b/.test(accept)) candidates.push([`${file}.gz`, 'gzip']);
  candidates.push([file, undefined]);
  for (const [p, encoding] of candidates) {
    const st = await stat(p).catch(() => null);
    if (!st?.isFile()) continue;
    const body = await readFile(p);
    res.status(status);
    res.setHeader('Content-Type', type);
    res.setHeader('Cache-Control', cacheControl);
    res.setHeader('Vary', 'Accept-Encoding');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (encoding) res.setHeader('Content-Encoding', encoding);
    res.setHeader('Content-Length', String(body.length));
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
  return false;
}
