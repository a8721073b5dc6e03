import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Db } from '../infra/db.ts';
import type { ObjectStorage } from '../infra/storage.ts';
import { ConflictError, ForbiddenError, InvalidError, NotFoundError, PayloadTooLargeError } from '../domain/errors.ts';
import { nextStatus } from '../domain/lesson-state.ts';
import type { AssetRow, LessonRow, Principal } from '../domain/types.ts';
import { sourceKey } from '../media/storage-keys.ts';
import { changeStatus } from './lesson-store.ts';
import { findLesson, lockLesson, writeCurrentAsset } from '../infra/lessons.repo.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import { failPendingAsset, findAsset, insertAsset, markAssetFailed, markAssetQueued, nextAssetVersion } from '../infra/assets.repo.ts';
import * as uploads from '../infra/uploads.repo.ts';
import type { UploadRecord } from '../infra/uploads.repo.ts';

/** Queues the processing of a freshly stored source (transcode job). */
export type EnqueueTranscode = (job: { assetId: string; lessonId: string; sourceKey: string }) => Promise<void>;

export interface UploadsOptions {
  maxBytes: number;
  /** Chunk size of our own multipart uploads of streams (memory held per upload). */
  chunkBytes: number;
}

const minPart = 5 * 1024 * 1024;
const maxPart = 64 * 1024 * 1024;

/** Media uploads: a streamed PUT, or a resumable multipart upload whose parts we record ourselves. */
export class UploadsService {
  constructor(
    private readonly db: Db,
    private readonly storage: ObjectStorage,
    private readonly enqueue: EnqueueTranscode,
    private readonly opts: UploadsOptions,
  ) {}

  /**
   * Streams a request body to storage as a new version of the lesson and queues its processing. The
   * body is never held whole in memory: up to one chunk at a time.
   */
  async putMedia(actor: Principal, lessonId: string, body: Readable, meta: { contentLength?: number; filename?: string; contentType?: string }): Promise<{ assetId: string; version: number; bytes: number }> {
    const lesson = await this.ownLesson(actor, lessonId);
    if (meta.contentLength !== undefined && meta.contentLength > this.opts.maxBytes) throw new PayloadTooLargeError('upload_too_large', `the file is larger than the ${fmtBytes(this.opts.maxBytes)} limit`);
    if (meta.contentLength === 0) throw new InvalidError('upload_empty', 'the upload is empty', [{ field: 'body', message: 'empty' }]);
    assertCanUpload(lesson);
    const ext = extFrom(meta.filename, meta.contentType);
    const asset = await this.newAsset(lesson, actor, 'uploading', meta.filename ?? `upload.${ext}`);
    const key = sourceKey(asset.id, ext);
    let bytes: number;
    try {
      bytes = await this.streamToStorage(key, body, meta.contentType ?? 'application/octet-stream');
    } catch (err) {
      await markAssetFailed(this.db, asset.id, 'upload interrupted', null);
      throw err;
    }
    await this.finish(actor, lesson.id, asset.id, key, bytes);
    return { assetId: asset.id, version: asset.version, bytes };
  }

  /** Starts a resumable upload: the client then sends parts of `partSize` bytes (the last may be shorter). */
  async startMultipart(actor: Principal, lessonId: string, input: { filename: string; size: number; contentType?: string; partSize?: number }): Promise<UploadView> {
    const lesson = await this.ownLesson(actor, lessonId);
    if (input.size > this.opts.maxBytes) throw new PayloadTooLargeError('upload_too_large', `the file is larger than the ${fmtBytes(this.opts.maxBytes)} limit`);
    if (input.size <= 0) throw new InvalidError('upload_empty', 'the upload is empty', [{ field: 'size', message: 'must be positive' }]);
    assertCanUpload(lesson);
    const partSize = Math.min(maxPart, Math.max(minPart, input.partSize ?? 16 * 1024 * 1024, Math.ceil(input.size / 10_000)));
    const ext = extFrom(input.filename, input.contentType);
    const asset = await this.newAsset(lesson, actor, 'uploading', input.filename);
    const key = sourceKey(asset.id, ext);
    const contentType = input.contentType ?? 'application/octet-stream';
    const s3Id = await this.storage.initiateMultipart(this.storage.mediaBucket, key, contentType);
    const id = randomUUID();
    await uploads.insertUpload(this.db, { id, lessonId: lesson.id, assetId: asset.id, teacherId: actor.userId, s3UploadId: s3Id, objectKey: key, filename: input.filename, contentType, totalBytes: input.size, partSize });
    return this.view(actor, lessonId, id);
  }

  /** Stores one part (1-based); re-sending a part replaces it. */
  async putPart(actor: Principal, lessonId: string, uploadId: string, partNumber: number, body: Readable, contentLength: number | undefined): Promise<{ partNumber: number; bytes: number }> {
    const up = await this.openUpload(actor, lessonId, uploadId);
    const parts = Math.ceil(up.totalBytes / up.partSize);
    if (partNumber < 1 || partNumber > parts) throw new InvalidError('part_number_out_of_range', `part number must be between 1 and ${parts}`, [{ field: 'partNumber', message: 'out of range' }]);
    const expected = partNumber < parts ? up.partSize : up.totalBytes - up.partSize * (parts - 1);
    if (contentLength !== undefined && contentLength !== expected) throw new InvalidError('part_size_mismatch', `part ${partNumber} must be exactly ${expected} bytes`, [{ field: 'body', message: `expected ${expected} bytes` }]);
    const buf = await readExactly(body, expected);
    const etag = await this.storage.uploadPart(this.storage.mediaBucket, up.objectKey, up.s3UploadId, partNumber, buf, buf.length);
    await uploads.recordPart(this.db, up.id, partNumber, etag, buf.length);
    return { partNumber, bytes: buf.length };
  }

  /** What arrived so far (for resuming after a dropped connection). */
  async view(actor: Principal, lessonId: string, uploadId: string): Promise<UploadView> {
    const up = await this.upload(actor, lessonId, uploadId);
    const parts = await uploads.listParts(this.db, up.id);
    const total = Math.ceil(up.totalBytes / up.partSize);
    const have = new Set(parts.map((p) => p.partNumber));
    return {
      uploadId: up.id, assetId: up.assetId, state: up.state, filename: up.filename, size: up.totalBytes, partSize: up.partSize, partCount: total,
      received: parts.map((p) => ({ partNumber: p.partNumber, bytes: p.bytes })),
      missing: Array.from({ length: total }, (_, i) => i + 1).filter((n) => !have.has(n)).slice(0, 1000),
    };
  }

  /** Assembles the parts and queues processing; 409 while parts are missing. */
  async complete(actor: Principal, lessonId: string, uploadId: string): Promise<{ assetId: string; bytes: number }> {
    const up = await this.openUpload(actor, lessonId, uploadId);
    const v = await this.view(actor, lessonId, uploadId);
    if (v.missing.length) throw new ConflictError('parts_missing', `parts still missing: ${v.missing.slice(0, 20).join(', ')}${v.missing.length > 20 ? '…' : ''}`);
    const parts = await uploads.listParts(this.db, up.id);
    await this.storage.completeMultipart(this.storage.mediaBucket, up.objectKey, up.s3UploadId, parts.map((p) => ({ part: p.partNumber, etag: p.etag })));
    await uploads.writeUploadState(this.db, up.id, 'completed');
    await this.finish(actor, lessonId, up.assetId, up.objectKey, up.totalBytes);
    return { assetId: up.assetId, bytes: up.totalBytes };
  }

  /** Abandons an upload; its version is marked failed. */
  async abort(actor: Principal, lessonId: string, uploadId: string): Promise<void> {
    const up = await this.openUpload(actor, lessonId, uploadId);
    await this.storage.abortMultipart(this.storage.mediaBucket, up.objectKey, up.s3UploadId);
    await this.db.tx(async (q) => {
      await uploads.writeUploadState(q, up.id, 'aborted');
      await markAssetFailed(q, up.assetId, 'upload cancelled', null);
      await writeAudit(q, { actor, entity: 'asset', entityId: up.assetId, action: 'upload_aborted' });
    });
  }

  private async ownLesson(actor: Principal, lessonId: string): Promise<LessonRow> {
    if (actor.role !== 'teacher') throw new ForbiddenError('teacher_only', 'only the lesson\'s teacher uploads media');
    const l = await findLesson(this.db, lessonId);
    // another teacher's lesson does not exist for this teacher
    if (!l || l.teacher_id !== actor.userId) throw new NotFoundError('lesson_not_found', 'lesson not found');
    return l;
  }

  private async newAsset(lesson: LessonRow, actor: Principal, state: AssetRow['state'], name: string): Promise<AssetRow> {
    return this.db.tx(async (q) => {
      await lockLesson(q, lesson.id);
      const id = randomUUID();
      const version = await nextAssetVersion(q, lesson.id);
      await insertAsset(q, { id, lessonId: lesson.id, version, origin: 'upload', state, sourceName: name.slice(0, 255) });
      await writeAudit(q, { actor, entity: 'asset', entityId: id, action: 'upload_started', data: { lessonId: lesson.id, version } });
      return (await findAsset(q, id))!;
    });
  }

  /** Makes the stored source the lesson's current version, moves the lesson to processing and queues the job. */
  private async finish(actor: Principal, lessonId: string, assetId: string, key: string, bytes: number): Promise<void> {
    await this.db.tx(async (q) => {
      const l = await lockLesson(q, lessonId);
      await markAssetQueued(q, assetId, key, bytes);
      // a version that was processing is superseded by this one
      if (l.status === 'processing' && l.current_asset_id) await failPendingAsset(q, l.current_asset_id, 'replaced by a newer upload');
      await writeCurrentAsset(q, lessonId, assetId);
      if (l.status !== 'processing') await changeStatus(q, l, 'upload', actor, null, { assetId });
      else await writeAudit(q, { actor, entity: 'lesson', entityId: lessonId, action: 'upload', from: l.status, to: l.status, data: { assetId } });
    });
    await this.enqueue({ assetId, lessonId, sourceKey: key });
  }

  private async streamToStorage(key: string, body: Readable, contentType: string): Promise<number> {
    const bucket = this.storage.mediaBucket;
    const chunks = chunker(body, this.opts.chunkBytes, this.opts.maxBytes);
    const first = await chunks.next();
    if (first.done || first.value.length === 0) throw new InvalidError('upload_empty', 'the upload is empty', [{ field: 'body', message: 'empty' }]);
    const second = await chunks.next();
    if (second.done) {
      await this.storage.putBuffer(bucket, key, first.value, contentType);
      return first.value.length;
    }
    const uploadId = await this.storage.initiateMultipart(bucket, key, contentType);
    const parts: { part: number; etag: string }[] = [];
    let total = 0;
    try {
      let n = 1;
      for (const buf of [first.value, second.value]) {
        parts.push({ part: n, etag: await this.storage.uploadPart(bucket, key, uploadId, n, buf, buf.length) });
        total += buf.length;
        n++;
      }
      for (let c = await chunks.next(); !c.done; c = await chunks.next(), n++) {
        parts.push({ part: n, etag: await this.storage.uploadPart(bucket, key, uploadId, n, c.value, c.value.length) });
        total += c.value.length;
      }
      await this.storage.completeMultipart(bucket, key, uploadId, parts);
    } catch (err) {
      await this.storage.abortMultipart(bucket, key, uploadId);
      throw err;
    }
    return total;
  }

  private async upload(actor: Principal, lessonId: string, uploadId: string): Promise<UploadRecord> {
    await this.ownLesson(actor, lessonId);
    const up = await uploads.findUploadOfLesson(this.db, uploadId, lessonId);
    if (!up) throw new NotFoundError('upload_not_found', 'upload not found');
    return up;
  }

  private async openUpload(actor: Principal, lessonId: string, uploadId: string): Promise<UploadRecord> {
    const up = await this.upload(actor, lessonId, uploadId);
    if (up.state !== 'open') throw new ConflictError('upload_not_open', `upload is ${up.state}`);
    return up;
  }
}

export interface UploadView {
  uploadId: string;
  assetId: string;
  state: string;
  filename: string;
  size: number;
  partSize: number;
  partCount: number;
  received: { partNumber: number; bytes: number }[];
  missing: number[];
}

function assertCanUpload(l: LessonRow): void {
  if (l.status === 'processing') return;
  if (!nextStatus(l.kind, l.status, 'upload')) throw new ConflictError('invalid_state_transition', `cannot upload media to a ${l.kind} lesson in state "${l.status}"`, { status: l.status });
}

/** Splits a stream into buffers of `size` bytes (the last shorter), failing once `max` is exceeded. */
async function* chunker(body: Readable, size: number, max: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let total = 0;
  for await (const c of body) {
    let b = c as Buffer;
    total += b.length;
    if (total > max) {
      // stop reading; the error handler answers 413 and then closes the connection
      body.pause();
      throw new PayloadTooLargeError('upload_too_large', `the file is larger than the ${fmtBytes(max)} limit`);
    }
    while (pendingLen + b.length >= size) {
      const take = size - pendingLen;
      pending.push(b.subarray(0, take));
      yield Buffer.concat(pending);
      pending = [];
      pendingLen = 0;
      b = b.subarray(take);
    }
    if (b.length) {
      pending.push(b);
      pendingLen += b.length;
    }
  }
  if (pendingLen) yield Buffer.concat(pending);
}

async function readExactly(body: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let len = 0;
  for await (const c of body) {
    len += (c as Buffer).length;
    if (len > n) {
      body.destroy();
      throw new InvalidError('part_size_mismatch', `part is longer than ${n} bytes`, [{ field: 'body', message: 'too long' }]);
    }
    chunks.push(c as Buffer);
  }
  if (len !== n) throw new InvalidError('part_size_mismatch', `part is ${len} bytes, expected ${n}`, [{ field: 'body', message: 'wrong length' }]);
  return Buffer.concat(chunks);
}

const extByType: Record<string, string> = { 'video/mp4': 'mp4', 'video/quicktime': 'mov', 'video/x-matroska': 'mkv', 'video/webm': 'webm', 'video/x-msvideo': 'avi', 'video/mp2t': 'ts', 'video/x-flv': 'flv' };
function extFrom(filename: string | undefined, contentType: string | undefined): string {
  const m = filename ? /\.([A-Za-z0-9]{1,8})$/.exec(filename) : null;
  if (m) return m[1].toLowerCase();
  return (contentType && extByType[contentType.split(';')[0].trim()]) || 'bin';
}

export function fmtBytes(n: number): string {
  if (n >= 1024 ** 3) return `${Math.round((n / 1024 ** 3) * 10) / 10} GiB`;
  if (n >= 1024 ** 2) return `${Math.round((n / 1024 ** 2) * 10) / 10} MiB`;
  return `${n} bytes`;
}
