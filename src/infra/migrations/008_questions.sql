-- online Q&A (issue 6): anonymous questions, teachers' answers, moderation
CREATE TABLE questions (
  id uuid PRIMARY KEY,
  stage text NOT NULL,
  subject text NOT NULL,
  lesson_id uuid REFERENCES lessons(id),
  text text NOT NULL,
  display_name text NOT NULL,
  -- [{type, width, height, bytes}], object n at qa/{id}/{n}.jpg
  images jsonb NOT NULL DEFAULT '[]',
  -- HMAC of the asker's address bucket: abuse tracing without keeping the address
  client_key text NOT NULL,
  -- visible answers and the time of the first one
  answer_count integer NOT NULL DEFAULT 0,
  answered_at timestamptz,
  hidden_at timestamptz,
  hidden_by uuid REFERENCES users(id),
  hidden_reason text,
  -- question and visible answers, lower-cased; bigrams for Chinese substring search (see 003)
  search_text text NOT NULL DEFAULT '',
  search_bigrams text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX questions_public_order ON questions (created_at DESC, id DESC) WHERE hidden_at IS NULL AND answer_count > 0;
CREATE INDEX questions_public_stage_subject ON questions (stage, subject, created_at DESC) WHERE hidden_at IS NULL AND answer_count > 0;
CREATE INDEX questions_public_bigrams ON questions USING gin (search_bigrams) WHERE hidden_at IS NULL AND answer_count > 0;
CREATE INDEX questions_open ON questions (stage, subject, created_at) WHERE hidden_at IS NULL AND answer_count = 0;
CREATE INDEX questions_lesson ON questions (lesson_id, created_at DESC) WHERE lesson_id IS NOT NULL;
CREATE INDEX questions_client ON questions (client_key, created_at DESC);

CREATE TABLE answers (
  id uuid PRIMARY KEY,
  question_id uuid NOT NULL REFERENCES questions(id),
  teacher_id uuid NOT NULL REFERENCES users(id),
  text text NOT NULL,
  edits integer NOT NULL DEFAULT 0,
  hidden_at timestamptz,
  hidden_by uuid REFERENCES users(id),
  hidden_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX answers_question ON answers (question_id, created_at, id);
CREATE INDEX answers_teacher ON answers (teacher_id, created_at DESC);
