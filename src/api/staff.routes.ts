import type { Request } from 'express';
import type { RouteRegistry } from './route-registry.ts';
import type { AuthService } from '../services/auth.service.ts';
import type { LessonsService } from '../services/lessons.service.ts';
import type { ReviewService } from '../services/review.service.ts';
import type { PublicationService } from '../services/publication.service.ts';
import type { Db } from '../infra/db.ts';
import { auditQuery, createLessonBody, loginBody, publicationBody, publicationParams, reviewBody, staffListQuery, uuidParam } from './schemas.ts';
import { z } from 'zod';
import { cookieSessionToken, type SessionCookies } from './session-cookie.ts';
import { readAudit } from '../infra/audit.repo.ts';

export interface StaffRouteDeps {
  db: Db;
  auth: AuthService;
  lessons: LessonsService;
  review: ReviewService;
  publications: PublicationService;
  baseUrl: (req: Request) => string;
  cookies: SessionCookies;
}

/** Staff routes: login, lessons, the review gate, publication, audit. */
export function registerStaffRoutes(r: RouteRegistry, d: StaffRouteDeps): void {
  r.add({
    method: 'post', path: '/api/v1/auth/login', tag: 'auth', auth: 'public', summary: 'Log in: a bearer token, and the session cookie of the consoles',
    body: loginBody, errors: [401, 403, 429],
    response: z.object({ token: z.string().optional(), csrfToken: z.string(), expiresAt: z.string(), user: z.object({ id: z.string(), username: z.string(), role: z.string() }) }),
    handler: async ({ body, req, res }) => {
      // a login form posted from another site must not sign the browser in (login CSRF)
      d.cookies.assertSameOrigin(req);
      const out = await d.auth.login(body.username, body.password, req.ip ?? 'unknown');
      d.cookies.set(req, res, out.token, out.expiresAt);
      res.setHeader('Cache-Control', 'no-store');
      const csrfToken = d.cookies.csrfToken(out.token);
      // the consoles ask for the cookie alone: their scripts never hold the token itself
      if (body.session === 'cookie') return { csrfToken, expiresAt: out.expiresAt.toISOString(), user: out.user };
      return { token: out.token, csrfToken, expiresAt: out.expiresAt.toISOString(), user: out.user };
    },
  });
  r.add({
    method: 'get', path: '/api/v1/auth/me', tag: 'auth', auth: ['teacher', 'reviewer', 'operator', 'admin', 'district_admin', 'cable'], summary: 'Who the token or session belongs to',
    handler: async ({ principal, req, res }) => {
      res.setHeader('Cache-Control', 'no-store');
      const token = cookieSessionToken(req);
      return { ...principal!, ...(await d.auth.profile(principal!)), csrfToken: token ? d.cookies.csrfToken(token) : null };
    },
  });
  r.add({
    method: 'post', path: '/api/v1/auth/logout', tag: 'auth', auth: ['teacher', 'reviewer', 'operator', 'admin', 'district_admin', 'cable'], summary: 'Revoke the token or session used for this request',
    handler: async ({ req, res }) => {
      const token = cookieSessionToken(req) ?? /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      await d.auth.revokeToken(token.trim());
      if (cookieSessionToken(req)) d.cookies.clear(req, res);
      return undefined;
    },
  });
  r.add({
    method: 'post', path: '/api/v1/lessons', tag: 'lessons', auth: ['teacher'], summary: 'Create a lesson', body: createLessonBody, status: 201,
    handler: async ({ body, principal, req }) => {
      const l = await d.lessons.create(principal!, body);
      return d.lessons.getForStaff(principal!, l.id, d.baseUrl(req));
    },
  });
  r.add({
    method: 'get', path: '/api/v1/staff/lessons', tag: 'lessons', auth: ['teacher', 'reviewer', 'operator', 'admin', 'district_admin'], summary: 'Lessons this staff member works on',
    query: staffListQuery,
    handler: async ({ query, principal, req }) => ({ items: await d.lessons.listForStaff(principal!, { status: query.status }, query.limit, d.baseUrl(req)) }),
  });
  r.add({
    method: 'get', path: '/api/v1/review/queue', tag: 'review', auth: ['reviewer'], summary: 'Review queue of the reviewer\'s school',
    handler: async ({ principal }) => ({ items: await d.review.queue(principal!) }),
  });
  r.add({
    method: 'post', path: '/api/v1/lessons/:id/review', tag: 'review', auth: ['reviewer'], summary: 'Approve or reject a lesson version or live plan',
    params: uuidParam, body: reviewBody, errors: [404, 409],
    handler: ({ params, body, principal }) => d.review.decide(principal!, params.id, body.decision, body.reason),
  });
  r.add({
    method: 'post', path: '/api/v1/lessons/:id/publications', tag: 'publication', auth: ['operator', 'admin'], summary: 'Publish the approved version on a channel',
    params: uuidParam, body: publicationBody, status: 201, errors: [404, 409],
    handler: ({ params, body, principal }) => d.publications.publish(principal!, params.id, body.channel),
  });
  r.add({
    method: 'delete', path: '/api/v1/lessons/:id/publications/:channel', tag: 'publication', auth: ['operator', 'admin'], summary: 'Withdraw a lesson from a channel',
    params: publicationParams, body: z.strictObject({ reason: z.string().trim().min(1).max(500).optional() }).optional().default({}), errors: [404, 409],
    handler: ({ params, principal, body }) => d.publications.withdraw(principal!, params.id, params.channel, body?.reason),
  });
  r.add({
    method: 'get', path: '/api/v1/audit', tag: 'ops', auth: ['operator', 'admin'], summary: 'Read the audit log',
    query: auditQuery,
    handler: ({ query }) => readAudit(d.db, query),
  });
}
