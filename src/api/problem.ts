import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import type { ErrorCode } from '../domain/error-codes.ts';
import { DomainError, InvalidError, TooManyRequestsError } from '../domain/errors.ts';
import type { Logger } from '../infra/logger.ts';
import { isUnavailableError, unavailableRetryAfterS } from '../infra/unavailable.ts';

const titles: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  411: 'Length Required', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 422: 'Unprocessable Content',
  429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** The code of a 4xx raised by Express or a library rather than by our own typed errors. */
const fallbackCodes: Record<number, ErrorCode> = { 411: 'length_required', 413: 'body_too_large', 415: 'unsupported_media_type', 416: 'range_not_satisfiable' };

/** Writes an RFC 7807 problem document with its machine `code` (clients translate codes, not details). */
export function sendProblem(res: ServerResponse, status: number, code: ErrorCode, detail: string, extra: Record<string, unknown> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const req = res.req;
  if (req && !req.complete && req.readableLength !== undefined) {
    // the body was not read to its end (refused upload): answer, then drop the connection instead of
    // reading what may be gigabytes more
    res.setHeader('Connection', 'close');
    res.once('finish', () => setTimeout(() => req.socket?.destroy(), 1000).unref());
  }
  // plain node:http calls: the playback gateway answers outside Express
  const body = JSON.stringify({ type: 'about:blank', title: titles[status] ?? 'Error', status, code, detail, ...extra });
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  // an error is never kept by a cache (the edge, a CDN, a browser): the gateway may have announced an
  // immutable object before storage failed to give it
  res.setHeader('Cache-Control', 'no-store');
  res.removeHeader('X-Accel-Expires');
  res.end(body);
}

/** Turns a zod error into a message naming every bad field. */
export function zodToInvalid(err: z.ZodError, where: 'body' | 'query' | 'path'): InvalidError {
  const fields = err.issues.map((i) => {
    const field = i.path.length ? i.path.join('.') : where;
    let message = i.message;
    if (i.code === 'unrecognized_keys') return { field: (i as { keys: string[] }).keys.join(', '), message: `unknown field${(i as { keys: string[] }).keys.length > 1 ? 's' : ''}` };
    if (i.code === 'invalid_type' && /received undefined/.test(message)) message = 'required';
    return { field, message };
  });
  return new InvalidError('validation_failed', `invalid ${where}: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields);
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, 404, 'endpoint_not_found', `no such endpoint: ${req.method} ${req.path.slice(0, 200)}`);
};

/** The one error handler: typed errors to their status, body-parser errors to 4xx, anything else 500 (logged). */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof DomainError) {
      if (err instanceof TooManyRequestsError) res.setHeader('Retry-After', String(err.retryAfterS));
      const extra: Record<string, unknown> = {};
      if (err instanceof InvalidError && err.fields) extra.errors = err.fields;
      if (err.status === 409 && err.details?.status) extra.currentStatus = err.details.status;
      sendProblem(res, err.status, err.code, err.message, extra);
      return;
    }
    const e = err as { type?: string; status?: number; statusCode?: number; message?: string; expose?: boolean };
    if (e.type === 'entity.parse.failed') return sendProblem(res, 400, 'malformed_json', 'malformed JSON in the request body');
    if (e.type === 'entity.too.large') return sendProblem(res, 413, 'body_too_large', 'request body too large');
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return sendProblem(res, 415, 'unsupported_encoding', 'unsupported body encoding or charset');
    if (e.type === 'encoding.invalid' && e.message) return sendProblem(res, 400, 'invalid_encoding', e.message);
    if (e.type === 'request.aborted') return;
    const status = e.status ?? e.statusCode;
    if (status && status >= 400 && status < 500) return sendProblem(res, status, fallbackCodes[status] ?? 'bad_request', e.expose && e.message ? e.message : titles[status] ?? 'bad request');
    if (isUnavailableError(err)) {
      // a part underneath is restarting or unreachable: the client tries again, nothing is lost
      log.warn({ err, method: req.method, route: req.route?.path }, 'a part underneath is unreachable');
      res.setHeader('Retry-After', String(unavailableRetryAfterS));
      return sendProblem(res, 503, 'service_unavailable', 'the service is briefly unavailable; try again shortly');
    }
    log.error({ err, method: req.method, route: req.route?.path }, 'unhandled error');
    sendProblem(res, 500, 'internal_error', 'internal error; it has been logged');
  };
}
