import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { parse as parseCookies } from 'cookie';
import { ForbiddenError } from '../domain/errors.ts';
import type { Principal } from '../domain/types.ts';

/**
 * The staff consoles' session: the same opaque, revocable token a login returns, carried in an
 * httpOnly, SameSite=Strict cookie (Secure when the request came over HTTPS, as trust proxy sees it).
 *
 * Cross-site request forgery: a state-changing request authenticated by the cookie must
 * - not come from another site (Sec-Fetch-Site, when the browser sends it, is `same-origin`; an
 *   Origin header, when present, is our own origin or PUBLIC_BASE_URL's), and
 * - carry `X-CSRF-Token`, a value derived from the session token that only our pages learn (from the
 *   login answer or GET /api/v1/auth/me). A form post from another site cannot set a header, and a
 *   cross-origin fetch that could would first need a CORS preflight we never allow for it.
 * The derivation is a one-way hash of the secret token, so it needs no storage and no second secret:
 * whoever can compute it already holds the session.
 *
 * Bearer-token requests are untouched: a browser never attaches an Authorization header on its own.
 */
export const SESSION_COOKIE = 'cc_session';
export const CSRF_HEADER = 'x-csrf-token';

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface SessionCookieOptions {
  /** PUBLIC_BASE_URL (may be empty): its origin is accepted besides the request's own. */
  publicBaseUrl: string;
}

export class SessionCookies {
  private readonly extraOrigin: string | undefined;

  constructor(o: SessionCookieOptions) {
    this.extraOrigin = o.publicBaseUrl ? new URL(o.publicBaseUrl).origin : undefined;
  }

  /** Sets the session cookie for a freshly issued token. */
  set(req: Request, res: Response, token: string, expiresAt: Date): void {
    res.cookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/', expires: expiresAt });
  }

  /** Removes the session cookie from the browser. */
  clear(req: Request, res: Response): void {
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });
  }

  /** The session token the cookie carries, if any. */
  token(req: Request): string | undefined {
    const header = req.headers.cookie;
    if (!header || header.length > 8192) return undefined;
    const v = parseCookies(header)[SESSION_COOKIE];
    return v && /^cc_[A-Za-z0-9_-]{20,100}$/.test(v) ? v : undefined;
  }

  /** The anti-forgery value of a session token (what pages send as X-CSRF-Token). */
  csrfToken(token: string): string {
    return createHash('sha256').update(`classcast-csrf:${token}`).digest('base64url');
  }

  /** Whether the request is a state-changing one (needs the anti-forgery checks when cookie-borne). */
  isUnsafe(req: Request): boolean {
    return !safeMethods.has(req.method);
  }

  /**
   * Refuses (403) a request that did not come from our own pages: cross-site fetch metadata, a foreign
   * Origin, or a missing or wrong X-CSRF-Token.
   */
  assertSameSite(req: Request, token: string | undefined): void {
    this.assertSameOrigin(req);
    const given = req.headers[CSRF_HEADER];
    if (typeof given !== 'string' || !token) throw new ForbiddenError('csrf_token_invalid', 'this request needs the X-CSRF-Token header of the signed-in session');
    const a = Buffer.from(given);
    const b = Buffer.from(this.csrfToken(token));
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new ForbiddenError('csrf_token_invalid', 'the X-CSRF-Token header does not match the signed-in session');
  }

  /** Refuses (403) a request whose fetch metadata or Origin says it came from another site. */
  assertSameOrigin(req: Request): void {
    const site = req.headers['sec-fetch-site'];
    if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') throw new ForbiddenError('cross_site_forbidden', 'cross-site requests may not use the session cookie');
    const origin = req.headers.origin;
    if (origin !== undefined && !this.isOwnOrigin(req, origin)) throw new ForbiddenError('cross_site_forbidden', 'requests from another origin may not use the session cookie');
  }

  private isOwnOrigin(req: Request, origin: string): boolean {
    if (origin === 'null') return false;
    if (this.extraOrigin && origin === this.extraOrigin) return true;
    return origin === `${req.protocol}://${req.host}`;
  }
}

/** The token of a request authenticated by the session cookie (so logout and /me know it). */
const cookieTokens = new WeakMap<Request, string>();
export const cookieSessionToken = (req: Request): string | undefined => cookieTokens.get(req);

/**
 * Authenticates a request by its bearer token, else by its session cookie; a state-changing request
 * riding on the cookie must pass the anti-forgery checks (403 otherwise, never a silent anonymous call).
 */
export function bearerOrCookie(resolve: (token: string) => Promise<Principal | undefined>, cookies: SessionCookies): (req: Request) => Promise<Principal | undefined> {
  return async (req) => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (m) return resolve(m[1]);
    if (req.headers.authorization) return undefined;
    const token = cookies.token(req);
    if (!token) return undefined;
    const principal = await resolve(token);
    if (!principal) return undefined;
    if (cookies.isUnsafe(req)) cookies.assertSameSite(req, token);
    cookieTokens.set(req, token);
    return principal;
  };
}
