import { z } from 'zod';
import type { RouteRegistry } from './route-registry.ts';
import type { AuthService } from '../services/auth.service.ts';
import type { SchoolsService } from '../services/schools.service.ts';
import { roles, stages } from '../domain/types.ts';
import { uuidParam } from './schemas.ts';

export interface AdminRouteDeps {
  auth: AuthService;
  schools: SchoolsService;
}

const idParam = uuidParam;
const slug = z.string().regex(/^[a-z0-9_-]{2,40}$/, 'must be 2-40 lower-case letters, digits, "_" or "-"');
const name = z.string().trim().min(1).max(100);

/**
 * Schools, users and tokens for the admin console: what `classcast school|user|token` does on the
 * command line, through the API, each change audited with the admin as actor.
 */
export function registerAdminRoutes(r: RouteRegistry, d: AdminRouteDeps): void {
  r.add({
    method: 'get', path: '/api/v1/admin/schools', tag: 'admin', auth: ['admin'], summary: 'Every school with its state and head count',
    handler: async () => ({ items: await d.schools.listForAdmin() }),
  });
  r.add({
    method: 'post', path: '/api/v1/admin/schools', tag: 'admin', auth: ['admin'], summary: 'Create a school (and its district when new)', status: 201, errors: [409],
    body: z.strictObject({ code: slug, name, stage: z.enum(stages), district: slug, districtName: name.optional() }),
    handler: ({ body, principal }) => d.schools.createSchoolInDistrict({ code: body.code, name: body.name, stage: body.stage, districtCode: body.district, districtName: body.districtName }, principal!),
  });
  r.add({
    method: 'patch', path: '/api/v1/admin/schools/:id', tag: 'admin', auth: ['admin'], summary: 'Disable or enable a school', errors: [404],
    params: idParam, body: z.strictObject({ disabled: z.boolean() }),
    handler: async ({ params, body, principal }) => {
      await d.schools.setDisabled(principal!, params.id, body.disabled);
      return { id: params.id, disabled: body.disabled };
    },
  });
  r.add({
    method: 'get', path: '/api/v1/admin/users', tag: 'admin', auth: ['admin'], summary: 'Users, newest first',
    query: z.strictObject({ school: idParam.shape.id.optional(), role: z.enum(roles).optional(), q: z.string().trim().max(64).optional(), limit: z.coerce.number().int().min(1).max(500).default(200) }),
    handler: async ({ query }) => ({ items: await d.auth.listUsers({ schoolId: query.school, role: query.role, q: query.q || undefined, limit: query.limit }) }),
  });
  r.add({
    method: 'post', path: '/api/v1/admin/users', tag: 'admin', auth: ['admin'], summary: 'Create a user; the password is generated and shown once when none is given', status: 201, errors: [404, 409],
    body: z.strictObject({
      username: z.string().min(3).max(64), role: z.enum(roles), displayName: name.optional(), school: slug.optional(), district: slug.optional(),
      password: z.string().min(10).max(256).optional(),
    }),
    handler: async ({ body, principal, res }) => {
      res.setHeader('Cache-Control', 'no-store');
      const password = body.password ?? d.auth.generatePassword();
      const user = await d.auth.createUser({ username: body.username, password, role: body.role, displayName: body.displayName, schoolCode: body.school, districtCode: body.district }, principal!);
      return { user, password: body.password ? null : password };
    },
  });
  r.add({
    method: 'patch', path: '/api/v1/admin/users/:id', tag: 'admin', auth: ['admin'], summary: 'Disable (signs them out everywhere) or enable a user', errors: [404, 409],
    params: idParam, body: z.strictObject({ disabled: z.boolean() }),
    handler: async ({ params, body, principal }) => {
      await d.auth.setDisabled(principal!, params.id, body.disabled);
      return { id: params.id, disabled: body.disabled };
    },
  });
  r.add({
    method: 'post', path: '/api/v1/admin/users/:id/password', tag: 'admin', auth: ['admin'], summary: 'Reset a password (generated and shown once when none is given); signs the user out everywhere', errors: [404],
    params: idParam, body: z.strictObject({ password: z.string().min(10).max(256).optional() }).optional().default({}),
    handler: async ({ params, body, principal, res }) => {
      res.setHeader('Cache-Control', 'no-store');
      const out = await d.auth.resetPassword(principal!, params.id, body?.password);
      return { password: out.generated ? out.password : null };
    },
  });
  r.add({
    method: 'get', path: '/api/v1/admin/users/:id/tokens', tag: 'admin', auth: ['admin'], summary: 'A user\'s tokens (never their secrets)', errors: [404],
    params: idParam,
    handler: async ({ params }) => ({ items: await d.auth.listTokens(params.id) }),
  });
  r.add({
    method: 'post', path: '/api/v1/admin/users/:id/tokens', tag: 'admin', auth: ['admin'], summary: 'Issue a token for an API client (shown once)', status: 201, errors: [404, 409],
    params: idParam, body: z.strictObject({ ttlHours: z.number().int().min(1).max(24 * 366).default(24 * 90), label: z.string().trim().min(1).max(60).default('admin') }).optional().default({ ttlHours: 24 * 90, label: 'admin' }),
    handler: async ({ params, body, principal, res }) => {
      res.setHeader('Cache-Control', 'no-store');
      const t = await d.auth.issueTokenFor(principal!, params.id, body!.ttlHours, body!.label);
      return { token: t.token, id: t.id, expiresAt: t.expiresAt.toISOString() };
    },
  });
  r.add({
    method: 'post', path: '/api/v1/admin/users/:id/revoke-tokens', tag: 'admin', auth: ['admin'], summary: 'Revoke every token of a user (signs them out everywhere)', errors: [404],
    params: idParam,
    handler: ({ params, principal }) => d.auth.revokeUserTokens(principal!, params.id),
  });
}
