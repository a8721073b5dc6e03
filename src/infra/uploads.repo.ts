import type { Queryable } from './db.ts';

/** A resumable upload: the S3 multipart upload behind it and the sizes its parts must have. */
export interface UploadRecord {
  id: string;
  lessonId: string;
  assetId: string;
  s3UploadId: string;
  objectKey: string;
  filename: string;
  contentType: string;
  totalBytes: number;
  partSize: number;
  state: 'open' | 'completed' | 'aborted';
}

interface UploadRow {
  id: string;
  lesson_id: string;
  asset_id: string;
  s3_upload_id: string;
  object_key: string;
  filename: string;
  content_type: string;
  total_bytes: number;
  part_size: number;
  state: UploadRecord['state'];
}

export async function insertUpload(q: Queryable, u: Omit<UploadRecord, 'state'> & { teacherId: string }): Promise<void> {
  await q.query(
    `INSERT INTO uploads (id, lesson_id, asset_id, teacher_id, s3_upload_id, object_key, filename, content_type, total_bytes, part_size, state)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open')`,
    [u.id, u.lessonId, u.assetId, u.teacherId, u.s3UploadId, u.objectKey, u.filename, u.contentType, u.totalBytes, u.partSize],
  );
}

/** An upload of a lesson by id (any text: a malformed id finds nothing), or undefined. */
export async function findUploadOfLesson(q: Queryable, uploadId: string, lessonId: string): Promise<UploadRecord | undefined> {
  const r = (await q.query<UploadRow>('SELECT * FROM uploads WHERE id::text = $1 AND lesson_id = $2', [uploadId, lessonId]))[0];
  return r && {
    id: r.id, lessonId: r.lesson_id, assetId: r.asset_id, s3UploadId: r.s3_upload_id, objectKey: r.object_key, filename: r.filename,
    contentType: r.content_type, totalBytes: Number(r.total_bytes), partSize: Number(r.part_size), state: r.state,
  };
}

/** Records a received part (a part sent again replaces it) and that the upload moved. */
export async function recordPart(q: Queryable, uploadId: string, partNumber: number, etag: string, bytes: number): Promise<void> {
  await q.query(
    `INSERT INTO upload_parts (upload_id, part_number, etag, bytes) VALUES ($1, $2, $3, $4)
     ON CONFLICT (upload_id, part_number) DO UPDATE SET etag = EXCLUDED.etag, bytes = EXCLUDED.bytes, received_at = now()`,
    [uploadId, partNumber, etag, bytes],
  );
  await q.query('UPDATE uploads SET updated_at = now() WHERE id = $1', [uploadId]);
}

/** The parts received so far, by number. */
export async function listParts(q: Queryable, uploadId: string): Promise<{ partNumber: number; bytes: number; etag: string }[]> {
  const rows = await q.query<{ part_number: number; bytes: number; etag: string }>('SELECT part_number, bytes, etag FROM upload_parts WHERE upload_id = $1 ORDER BY part_number', [uploadId]);
  return rows.map((p) => ({ partNumber: p.part_number, bytes: Number(p.bytes), etag: p.etag }));
}

export async function writeUploadState(q: Queryable, uploadId: string, state: 'completed' | 'aborted'): Promise<void> {
  await q.query('UPDATE uploads SET state = $2, updated_at = now() WHERE id = $1', [uploadId, state]);
}
