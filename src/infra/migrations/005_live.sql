-- live lessons: the per-lesson stream key (hash for checks, ciphertext so the teacher can read it again)
CREATE TABLE live_keys (
  lesson_id uuid PRIMARY KEY REFERENCES lessons(id),
  key_hash text NOT NULL,
  key_cipher text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  rotated_at timestamptz
);

ALTER TABLE lessons ADD COLUMN live_stopped_at timestamptz;
ALTER TABLE lessons ADD COLUMN live_stopped_by uuid REFERENCES users(id);

-- one on-air period of a live lesson; survives publisher reconnects within the window
CREATE TABLE live_sessions (
  id uuid PRIMARY KEY,
  lesson_id uuid NOT NULL REFERENCES lessons(id),
  state text NOT NULL CHECK (state IN ('on_air', 'reconnecting', 'ended')),
  epoch integer NOT NULL DEFAULT 1,
  started_at timestamptz NOT NULL DEFAULT now(),
  disconnected_at timestamptz,
  ended_at timestamptz,
  end_reason text,
  asset_id uuid REFERENCES assets(id),
  publisher_addr text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX live_sessions_lesson ON live_sessions (lesson_id, started_at DESC);
CREATE UNIQUE INDEX live_sessions_one_open ON live_sessions (lesson_id) WHERE state <> 'ended';

-- where an asset's HLS lives (recordings of live sessions keep their live segments: no re-encode)
ALTER TABLE assets ADD COLUMN hls_root text;
