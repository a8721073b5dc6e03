-- resumable multipart uploads: the parts are kept in our own records (s3rver has no ListParts)
CREATE TABLE uploads (
  id uuid PRIMARY KEY,
  lesson_id uuid NOT NULL REFERENCES lessons(id),
  asset_id uuid NOT NULL REFERENCES assets(id),
  teacher_id uuid NOT NULL REFERENCES users(id),
  s3_upload_id text NOT NULL,
  object_key text NOT NULL,
  filename text NOT NULL,
  content_type text NOT NULL,
  total_bytes bigint NOT NULL,
  part_size bigint NOT NULL,
  state text NOT NULL CHECK (state IN ('open', 'completed', 'aborted')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE upload_parts (
  upload_id uuid NOT NULL REFERENCES uploads(id),
  part_number integer NOT NULL,
  etag text NOT NULL,
  bytes bigint NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (upload_id, part_number)
);
