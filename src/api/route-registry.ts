import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { ForbiddenError, InvalidError, UnauthorizedError, UnsupportedMediaError } from '../domain/errors.ts';
import { errorCodes } from '../domain/error-codes.ts';
import type { Principal, Role } from '../domain/types.ts';
import { zodToInvalid } from './problem.ts';
import { cachedJson, carriesCredentials, sendCached, stableKey, type ResponseCache } from './response-cache.ts';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal | undefined;
  req: Request;
  res: Response;
}

export interface RouteSpec<P = unknown, Q = unknown, B = unknown> {
  method: Method;
  /** Express path, e.g. `/api/v1/lessons/:id`. */
  path: string;
  summary: string;
  tag: string;
  /** `public`, or the roles allowed (a token is then required). `optional`: public, richer for staff. */
  auth: 'public' | 'optional' | Role[];
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  /** JSON body schema; `raw` when the handler streams the body itself. */
  body?: z.ZodType<B> | 'raw';
  /** The success status and response schema (documentation). */
  status?: number;
  response?: z.ZodType;
  /** Other statuses this route answers with. */
  errors?: number[];
  /**
   * A public read answered from the shared response cache with an ETag and this lifetime for
   * browsers and the edge; requests carrying credentials bypass it and are marked private.
   */
  publicCache?: { maxAgeS: number };
  handler: (ctx: RouteContext<P, Q, B>) => Promise<unknown> | unknown;
}

/** A route with its type parameters erased, as stored in the registry. */
export type AnyRoute = RouteSpec<unknown, unknown, unknown>;

export type Authenticate = (req: Request) => Promise<Principal | undefined>;

/** The response cache of public reads; `scope` names what else an answer depends on (its base URL). */
export interface PublicCacheOptions {
  cache: ResponseCache;
  scope: (req: Request) => string;
}

/**
 * Every API route is declared here once: the declaration wires Express (auth, validation, JSON
 * output) and is the source of the OpenAPI document and of the authorization matrix test.
 */
export class RouteRegistry {
  readonly routes: AnyRoute[] = [];

  add<P, Q, B>(spec: RouteSpec<P, Q, B>): void {
    this.routes.push(spec as unknown as AnyRoute);
  }

  /** Mounts every route on a router. */
  mount(router: Router, authenticate: Authenticate, jsonLimit: string, shared?: PublicCacheOptions): void {
    const json = express.json({ limit: jsonLimit, strict: true, type: ['application/json', 'application/*+json'] });
    for (const spec of this.routes) {
      const handlers: express.RequestHandler[] = [];
      if (spec.body && spec.body !== 'raw') handlers.push(json);
      if (spec.publicCache && shared) handlers.push(publicRead(spec, shared));
      handlers.push(async (req, res) => {
        let principal: Principal | undefined;
        if (spec.auth !== 'public') {
          principal = await authenticate(req);
          if (!principal && spec.auth !== 'optional') throw new UnauthorizedError('authentication_required', 'a valid bearer token is required');
          if (principal && Array.isArray(spec.auth) && !spec.auth.includes(principal.role)) {
            throw new ForbiddenError('role_forbidden', `role ${principal.role} may not ${spec.summary.charAt(0).toLowerCase()}${spec.summary.slice(1)}`);
          }
        }
        const params = parse(spec.params, req.params, 'path');
        const query = parse(spec.query, req.query, 'query');
        let body: unknown;
        if (spec.body && spec.body !== 'raw') {
          const sent = (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined;
          if (sent && !req.is('application/json') && !req.is('application/*+json')) {
            throw new UnsupportedMediaError('json_body_required', 'send the body as application/json');
          }
          body = parseBody(spec.body, sent ? req.body : undefined);
        }
        const out = await spec.handler({ params, query, body, principal, req, res });
        if (res.headersSent || res.writableEnded) return;
        if (out === undefined) res.status(spec.status ?? 204).end();
        else res.status(spec.status ?? 200).json(out);
      });
      router[spec.method](spec.path, ...handlers);
    }
  }
}

/**
 * Serves a public read from the shared cache, or computes (once for all concurrent askers), stores and
 * sends it; every answer carries a strong ETag and a public lifetime, and a matching If-None-Match gets
 * 304. Input is validated first, so bad parameters still get their 4xx. Requests with credentials go on to the ordinary handler.
 */
function publicRead(spec: AnyRoute, o: PublicCacheOptions): express.RequestHandler {
  const cacheControl = `public, max-age=${spec.publicCache!.maxAgeS}`;
  return async (req, res, next) => {
    res.setHeader('Vary', 'Authorization, Cookie, Accept-Encoding');
    if (carriesCredentials(req)) {
      res.setHeader('Cache-Control', 'private, no-store');
      return next();
    }
    const params = parse(spec.params, req.params, 'path');
    const query = parse(spec.query, req.query, 'query');
    const key = `${spec.method} ${spec.path} ${o.scope(req)} ${stableKey(params)} ${stableKey(query)}`;
    // concurrent misses of one key share one computation (the first asker's request is its context)
    const hit = o.cache.fresh(key)
      ?? await o.cache.get(key, async () => cachedJson(await spec.handler({ params, query, body: undefined, principal: undefined, req, res })));
    sendCached(req, res, hit, cacheControl);
  };
}

function parse<T>(schema: z.ZodType<T> | undefined, value: unknown, where: 'body' | 'query' | 'path'): T {
  if (!schema) return value as T;
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw zodToInvalid(r.error, where);
  return r.data;
}

function parseBody<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    if (value === undefined) throw new InvalidError('body_required', 'a JSON request body is required', [{ field: 'body', message: 'required' }]);
    throw zodToInvalid(r.error, 'body');
  }
  return r.data;
}

/** Converts an Express path to an OpenAPI one: `/lessons/:id` -> `/lessons/{id}`. */
export const openApiPath = (p: string): string => p.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function jsonSchema(s: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  try {
    return z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
export function openApiDocument(registry: RouteRegistry, info: { title: string; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of registry.routes) {
    const p = openApiPath(r.path);
    const parameters: Record<string, unknown>[] = [];
    for (const [where, schema] of [['path', r.params], ['query', r.query]] as const) {
      if (!schema) continue;
      const js = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, prop] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: prop });
      }
    }
    const responses: Record<string, unknown> = {};
    const ok = r.status ?? 200;
    responses[String(ok)] = r.response ? { description: 'success', content: { 'application/json': { schema: jsonSchema(r.response, 'output') } } } : { description: 'success' };
    const errs = new Set([400, ...(r.auth === 'public' || r.auth === 'optional' ? [] : [401, 403]), ...(r.errors ?? [])]);
    for (const s of errs) responses[String(s)] = { $ref: '#/components/responses/Problem' };
    const op: Record<string, unknown> = { summary: r.summary, tags: [r.tag], operationId: `${r.method}${p.replace(/[^A-Za-z0-9]+/g, '_')}`, parameters, responses };
    if (r.auth !== 'public') op.security = r.auth === 'optional' ? [{}, { bearer: [] }] : [{ bearer: [] }];
    if (Array.isArray(r.auth)) op['x-roles'] = r.auth;
    if (r.body === 'raw') op.requestBody = { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } };
    else if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } };
    paths[p] = { ...(paths[p] ?? {}), [r.method]: op };
  }
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'opaque token from POST /api/v1/auth/login or `classcast token create`' } },
      responses: {
        Problem: {
          description: 'RFC 7807 problem',
          content: {
            'application/problem+json': {
              schema: {
                type: 'object',
                properties: {
                  type: { type: 'string' },
                  title: { type: 'string' },
                  status: { type: 'integer' },
                  code: { type: 'string', enum: [...errorCodes], description: 'stable machine code of the error; clients show their own message for it (src/domain/error-codes.ts)' },
                  detail: { type: 'string', description: 'English explanation for developers and logs' },
                  errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
                },
                required: ['title', 'status', 'code', 'detail'],
              },
            },
          },
        },
      },
    },
  };
}
