-- districts, schools, users and their tokens
CREATE TABLE districts (
  id uuid PRIMARY KEY,
  code text NOT NULL UNIQUE,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schools (
  id uuid PRIMARY KEY,
  code text NOT NULL UNIQUE,
  name text NOT NULL,
  district_id uuid NOT NULL REFERENCES districts(id),
  stage text NOT NULL CHECK (stage IN ('primary', 'junior', 'senior', 'vocational')),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id uuid PRIMARY KEY,
  username text NOT NULL UNIQUE,
  display_name text NOT NULL,
  password_hash text NOT NULL,
  role text NOT NULL CHECK (role IN ('teacher', 'reviewer', 'operator', 'admin', 'district_admin', 'cable')),
  school_id uuid REFERENCES schools(id),
  district_id uuid REFERENCES districts(id),
  disabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((role IN ('teacher', 'reviewer')) = (school_id IS NOT NULL))
);

CREATE TABLE auth_tokens (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id),
  token_hash text NOT NULL UNIQUE,
  label text NOT NULL DEFAULT 'login',
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX auth_tokens_user ON auth_tokens (user_id);

-- taxonomy: stages, grades, subjects, types, editions with stable codes
CREATE TABLE taxonomy (
  kind text NOT NULL CHECK (kind IN ('stage', 'grade', 'subject', 'type', 'edition')),
  code text NOT NULL,
  label text NOT NULL,
  stage text,
  parent text,
  sort integer NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, code)
);

CREATE TABLE lessons (
  id uuid PRIMARY KEY,
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  kind text NOT NULL CHECK (kind IN ('recorded', 'live')),
  school_id uuid NOT NULL REFERENCES schools(id),
  teacher_id uuid NOT NULL REFERENCES users(id),
  stage text NOT NULL,
  grade text NOT NULL,
  subject text NOT NULL,
  type text NOT NULL,
  edition text NOT NULL,
  status text NOT NULL,
  status_reason text,
  scheduled_start timestamptz,
  scheduled_end timestamptz,
  current_asset_id uuid,
  approved_asset_id uuid,
  -- set while an approved version is published on the portal: the public catalog reads only this
  portal_published_at timestamptz,
  portal_asset_id uuid,
  search_text text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lessons_public_order ON lessons (portal_published_at DESC, id DESC) WHERE portal_published_at IS NOT NULL;
CREATE INDEX lessons_public_stage ON lessons (stage, portal_published_at DESC) WHERE portal_published_at IS NOT NULL;
CREATE INDEX lessons_public_subject ON lessons (subject, portal_published_at DESC) WHERE portal_published_at IS NOT NULL;
CREATE INDEX lessons_school_status ON lessons (school_id, status);
CREATE INDEX lessons_teacher ON lessons (teacher_id);

CREATE TABLE assets (
  id uuid PRIMARY KEY,
  lesson_id uuid NOT NULL REFERENCES lessons(id),
  version integer NOT NULL,
  origin text NOT NULL CHECK (origin IN ('upload', 'live')),
  state text NOT NULL CHECK (state IN ('uploading', 'queued', 'processing', 'ready', 'failed')),
  source_key text,
  source_name text,
  source_bytes bigint,
  progress integer NOT NULL DEFAULT 0,
  error text,
  duration_s double precision,
  media jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (lesson_id, version)
);

CREATE TABLE reviews (
  id uuid PRIMARY KEY,
  lesson_id uuid NOT NULL REFERENCES lessons(id),
  asset_id uuid REFERENCES assets(id),
  target text NOT NULL CHECK (target IN ('asset', 'live_plan')),
  decision text NOT NULL CHECK (decision IN ('approve', 'reject')),
  reason text,
  reviewer_id uuid NOT NULL REFERENCES users(id),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviews_lesson ON reviews (lesson_id);

CREATE TABLE publications (
  lesson_id uuid NOT NULL REFERENCES lessons(id),
  channel text NOT NULL CHECK (channel IN ('portal', 'cable')),
  asset_id uuid NOT NULL REFERENCES assets(id),
  state text NOT NULL CHECK (state IN ('published', 'withdrawn')),
  published_by uuid REFERENCES users(id),
  published_at timestamptz,
  withdrawn_by uuid REFERENCES users(id),
  withdrawn_at timestamptz,
  PRIMARY KEY (lesson_id, channel)
);

CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor_id uuid,
  actor text NOT NULL,
  entity text NOT NULL,
  entity_id text NOT NULL,
  action text NOT NULL,
  from_state text,
  to_state text,
  reason text,
  data jsonb
);
CREATE INDEX audit_entity ON audit_log (entity, entity_id);

-- results of background jobs already applied (a result applied twice changes nothing)
CREATE TABLE applied_job_results (
  result_key text PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);
