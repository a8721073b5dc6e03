import { z } from 'zod';
import type { RouteRegistry } from './route-registry.ts';
import type { UploadsService } from '../services/uploads.service.ts';
import { uuidParam } from './schemas.ts';
import { uuid } from './text.schemas.ts';
import { InvalidError } from '../domain/errors.ts';
import type { Request } from 'express';

const uploadParams = z.strictObject({ id: uuidParam.shape.id, uploadId: uuid });
const partParams = z.strictObject({ ...uploadParams.shape, partNumber: z.coerce.number().int().min(1).max(10_000) });
const startBody = z.strictObject({
  filename: z.string().trim().min(1).max(255),
  size: z.number().int().positive(),
  contentType: z.string().max(100).optional(),
  partSize: z.number().int().positive().optional(),
});

function contentLength(req: Request): number | undefined {
  const h = req.headers['content-length'];
  if (h === undefined) return undefined;
  const n = Number(h);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidError('invalid_content_length', 'Content-Length is not a byte count', [{ field: 'Content-Length', message: 'invalid' }]);
  return n;
}

function filenameOf(req: Request): string | undefined {
  const q = typeof req.query.filename === 'string' ? req.query.filename : undefined;
  const cd = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(String(req.headers['content-disposition'] ?? ''))?.[1];
  const name = q ?? (cd ? decodeURIComponent(cd) : undefined);
  return name?.slice(0, 255);
}

/** Media uploads by the lesson's teacher. */
export function registerUploadRoutes(r: RouteRegistry, uploads: UploadsService): void {
  r.add({
    method: 'put', path: '/api/v1/lessons/:id/media', tag: 'uploads', auth: ['teacher'], summary: 'Upload a lesson video (raw body, streamed)',
    params: uuidParam, query: z.strictObject({ filename: z.string().max(255).optional() }), body: 'raw', status: 202, errors: [404, 409, 411, 413],
    handler: ({ params, principal, req }) =>
      uploads.putMedia(principal!, params.id, req, { contentLength: contentLength(req), filename: filenameOf(req), contentType: req.headers['content-type'] }),
  });
  r.add({
    method: 'post', path: '/api/v1/lessons/:id/uploads', tag: 'uploads', auth: ['teacher'], summary: 'Start a resumable multipart upload',
    params: uuidParam, body: startBody, status: 201, errors: [404, 409, 413],
    handler: ({ params, body, principal }) => uploads.startMultipart(principal!, params.id, body),
  });
  r.add({
    method: 'get', path: '/api/v1/lessons/:id/uploads/:uploadId', tag: 'uploads', auth: ['teacher'], summary: 'Parts received so far',
    params: uploadParams, errors: [404],
    handler: ({ params, principal }) => uploads.view(principal!, params.id, params.uploadId),
  });
  r.add({
    method: 'put', path: '/api/v1/lessons/:id/uploads/:uploadId/parts/:partNumber', tag: 'uploads', auth: ['teacher'], summary: 'Upload one part (raw body)',
    params: partParams, body: 'raw', errors: [404, 409],
    handler: ({ params, principal, req }) => uploads.putPart(principal!, params.id, params.uploadId, params.partNumber, req, contentLength(req)),
  });
  r.add({
    method: 'post', path: '/api/v1/lessons/:id/uploads/:uploadId/complete', tag: 'uploads', auth: ['teacher'], summary: 'Assemble the parts and start processing',
    params: uploadParams, status: 202, errors: [404, 409],
    handler: ({ params, principal }) => uploads.complete(principal!, params.id, params.uploadId),
  });
  r.add({
    method: 'delete', path: '/api/v1/lessons/:id/uploads/:uploadId', tag: 'uploads', auth: ['teacher'], summary: 'Abort a multipart upload',
    params: uploadParams, errors: [404, 409],
    handler: ({ params, principal }) => uploads.abort(principal!, params.id, params.uploadId),
  });
}
