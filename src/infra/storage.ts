import { createReadStream } from 'node:fs';
import { stat as fsStat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import * as Minio from 'minio';
import type { Config } from '../../config/config.schema.ts';

/** Part size of our own multipart uploads of big files (each part is held in memory once). */
const multipartChunk = 64 * 1024 * 1024;

export interface StoredObject {
  size: number;
  etag: string;
  contentType: string;
  lastModified: Date;
}

export interface StorageOptions {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** Buckets, already prefixed. */
  mediaBucket: string;
  cableBucket: string;
  /** Largest object sent in one PUT; bigger files go through explicit multipart. */
  partSize: number;
}

/**
 * The object storage (MinIO in production, s3rver embedded), over the S3 API. Only calls s3rver
 * implements are used: no ListMultipartUploads/ListParts/AbortMultipartUpload, no bucket policies
 * (buckets stay private). Keys are built in src/media/storage-keys.ts, never here.
 */
export class ObjectStorage {
  readonly client: Minio.Client;
  readonly mediaBucket: string;
  readonly cableBucket: string;
  private readonly partSize: number;

  /** The storage a configuration names (endpoint given when it is an embedded server's). */
  static fromConfig(cfg: Pick<Config, 'S3_ENDPOINT' | 'S3_ACCESS_KEY' | 'S3_SECRET_KEY' | 'S3_REGION' | 'S3_BUCKET_PREFIX' | 'S3_MEDIA_BUCKET' | 'S3_CABLE_BUCKET' | 'S3_PART_SIZE_MB'>, endpoint = cfg.S3_ENDPOINT): ObjectStorage {
    return new ObjectStorage({
      endpoint,
      accessKey: cfg.S3_ACCESS_KEY,
      secretKey: cfg.S3_SECRET_KEY,
      region: cfg.S3_REGION,
      mediaBucket: cfg.S3_BUCKET_PREFIX + cfg.S3_MEDIA_BUCKET,
      cableBucket: cfg.S3_BUCKET_PREFIX + cfg.S3_CABLE_BUCKET,
      partSize: cfg.S3_PART_SIZE_MB * 1024 * 1024,
    });
  }

  constructor(opts: StorageOptions) {
    const u = new URL(opts.endpoint);
    this.client = new Minio.Client({
      endPoint: u.hostname,
      port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80,
      useSSL: u.protocol === 'https:',
      accessKey: opts.accessKey,
      secretKey: opts.secretKey,
      region: opts.region,
      pathStyle: true,
      partSize: opts.partSize,
    });
    this.mediaBucket = opts.mediaBucket;
    this.cableBucket = opts.cableBucket;
    this.partSize = opts.partSize;
  }

  /** Creates both buckets when missing (private: no policy is ever set). */
  async ensureBuckets(): Promise<void> {
    for (const b of [this.mediaBucket, this.cableBucket]) {
      if (!(await this.client.bucketExists(b))) {
        try {
          await this.client.makeBucket(b);
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err;
        }
      }
    }
  }

  /** Reachability probe for /readyz. */
  async ping(): Promise<void> {
    await this.client.bucketExists(this.mediaBucket);
  }

  /** Stores a buffer in one PUT. */
  async putBuffer(bucket: string, key: string, body: Buffer | string, contentType: string): Promise<void> {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    await this.client.putObject(bucket, key, buf, buf.length, { 'Content-Type': contentType });
  }

  /** Stores a stream of known length in one PUT (length must not exceed the part size). */
  async putStream(bucket: string, key: string, body: Readable, size: number, contentType: string): Promise<void> {
    if (size > this.partSize) throw new Error(`putStream of ${size} bytes exceeds the single-PUT size; use putFile or multipart`);
    await this.client.putObject(bucket, key, body, size, { 'Content-Type': contentType });
  }

  /** Stores a local file: one PUT up to the part size, explicit multipart above it. */
  async putFile(bucket: string, key: string, filePath: string, contentType: string): Promise<number> {
    const { size } = await fsStat(filePath);
    if (size <= this.partSize) {
      await this.client.putObject(bucket, key, createReadStream(filePath), size, { 'Content-Type': contentType });
      return size;
    }
    const uploadId = await this.initiateMultipart(bucket, key, contentType);
    const parts: { part: number; etag: string }[] = [];
    for (let offset = 0, n = 1; offset < size; offset += multipartChunk, n++) {
      const end = Math.min(size, offset + multipartChunk) - 1;
      const etag = await this.uploadPart(bucket, key, uploadId, n, createReadStream(filePath, { start: offset, end }), end - offset + 1);
      parts.push({ part: n, etag });
    }
    await this.completeMultipart(bucket, key, uploadId, parts);
    return size;
  }

  async initiateMultipart(bucket: string, key: string, contentType: string): Promise<string> {
    return this.client.initiateNewMultipartUpload(bucket, key, { 'Content-Type': contentType });
  }

  /** Uploads one part of a multipart upload; the caller keeps the returned ETag in its own records. */
  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Readable | Buffer, size: number): Promise<string> {
    const payload = Buffer.isBuffer(body) ? body : await readAll(body, size);
    const r = await this.client.uploadPart({ bucketName: bucket, objectName: key, uploadID: uploadId, partNumber, headers: { 'Content-Length': String(payload.length) } }, payload);
    return r.etag;
  }

  async completeMultipart(bucket: string, key: string, uploadId: string, parts: { part: number; etag: string }[]): Promise<void> {
    await this.client.completeMultipartUpload(bucket, key, uploadId, parts);
  }

  /** Best effort: MinIO aborts, s3rver lacks the call (its parts stay until cleared by hand). */
  async abortMultipart(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.client.abortMultipartUpload(bucket, key, uploadId).catch(() => undefined);
  }

  async stat(bucket: string, key: string): Promise<StoredObject | null> {
    try {
      const s = await this.client.statObject(bucket, key);
      return { size: s.size, etag: s.etag, contentType: String(s.metaData?.['content-type'] ?? 'application/octet-stream'), lastModified: s.lastModified };
    } catch (err) {
      if (isMissingObject(err)) return null;
      throw err;
    }
  }

  /** Reads a whole object or a byte range [start, end] (inclusive). */
  async get(bucket: string, key: string, range?: { start: number; end: number }): Promise<Readable> {
    if (range) return this.client.getPartialObject(bucket, key, range.start, range.end - range.start + 1);
    return this.client.getObject(bucket, key);
  }

  async getBuffer(bucket: string, key: string): Promise<Buffer> {
    const s = await this.get(bucket, key);
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async list(bucket: string, prefix: string): Promise<{ key: string; size: number }[]> {
    const out: { key: string; size: number }[] = [];
    const stream = this.client.listObjectsV2(bucket, prefix, true);
    for await (const item of stream as AsyncIterable<{ name?: string; size: number }>) {
      if (item.name) out.push({ key: item.name, size: item.size });
    }
    return out;
  }

  async remove(bucket: string, key: string): Promise<void> {
    await this.client.removeObject(bucket, key);
  }

  async removePrefix(bucket: string, prefix: string): Promise<number> {
    const items = await this.list(bucket, prefix);
    for (let i = 0; i < items.length; i += 500) {
      const batch = items.slice(i, i + 500).map((o) => o.key);
      // s3rver answers some multi-object deletes with a 500: fall back to one call per object
      await this.client.removeObjects(bucket, batch).catch(async () => {
        for (const k of batch) await this.client.removeObject(bucket, k).catch(() => undefined);
      });
    }
    return items.length;
  }

  /** A time-limited direct link (cable pickup, Q&A images); never handed to students for media. */
  async presignedGet(bucket: string, key: string, ttlSeconds: number, downloadName?: string): Promise<string> {
    const headers = downloadName ? { 'response-content-disposition': `attachment; filename="${downloadName.replace(/"/g, '')}"` } : undefined;
    return this.client.presignedGetObject(bucket, key, ttlSeconds, headers);
  }

  async presignedPut(bucket: string, key: string, ttlSeconds: number): Promise<string> {
    return this.client.presignedPutObject(bucket, key, ttlSeconds);
  }
}

/** The error a read of an object that does not exist throws (MinIO and s3rver name it differently). */
export function isMissingObject(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'NoSuchKey' || code === 'NotFound';
}

async function readAll(s: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of s) {
    const b = c as Buffer;
    n += b.length;
    if (n > limit) throw new Error('part body longer than announced');
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}
