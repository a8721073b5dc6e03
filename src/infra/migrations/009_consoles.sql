-- edits of a lesson's public text after a reviewer approved it: pending until the school's reviewer
-- decides (the public keeps the approved text meanwhile); one pending edit per lesson
CREATE TABLE lesson_edits (
  id uuid PRIMARY KEY,
  lesson_id uuid NOT NULL REFERENCES lessons(id),
  state text NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'superseded')),
  -- field -> new value, and field -> the value it replaces (the diff the reviewer sees)
  changes jsonb NOT NULL,
  previous jsonb NOT NULL,
  proposed_by uuid NOT NULL REFERENCES users(id),
  proposed_at timestamptz NOT NULL DEFAULT now(),
  decided_by uuid REFERENCES users(id),
  decided_at timestamptz,
  reason text
);
CREATE UNIQUE INDEX lesson_edits_one_pending ON lesson_edits (lesson_id) WHERE state = 'pending';
CREATE INDEX lesson_edits_lesson ON lesson_edits (lesson_id, proposed_at DESC);
CREATE INDEX lesson_edits_decider ON lesson_edits (decided_by, decided_at DESC);

-- an admin can disable a school: its staff can no longer sign in, their tokens stop working
ALTER TABLE schools ADD COLUMN disabled boolean NOT NULL DEFAULT false;
