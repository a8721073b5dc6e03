-- timetables (issue 6): a school's or a district's week of lessons, drafted then published in versions
CREATE TABLE timetables (
  id uuid PRIMARY KEY,
  scope text NOT NULL CHECK (scope IN ('school', 'district')),
  school_id uuid REFERENCES schools(id),
  district_id uuid NOT NULL REFERENCES districts(id),
  -- Monday of the week (Asia/Shanghai)
  week_start date NOT NULL,
  title text NOT NULL,
  status text NOT NULL CHECK (status IN ('draft', 'published')),
  -- latest published version; 0 while a draft
  version integer NOT NULL DEFAULT 0,
  created_by uuid NOT NULL REFERENCES users(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((scope = 'school') = (school_id IS NOT NULL))
);
CREATE UNIQUE INDEX timetables_one_per_school_week ON timetables (school_id, week_start) WHERE scope = 'school';
CREATE UNIQUE INDEX timetables_one_per_district_week ON timetables (district_id, week_start) WHERE scope = 'district';
CREATE INDEX timetables_district_week ON timetables (district_id, week_start DESC);

-- the working copy of a timetable's lines; a live lesson's time is the lesson's own schedule
CREATE TABLE timetable_entries (
  id uuid PRIMARY KEY,
  timetable_id uuid NOT NULL REFERENCES timetables(id),
  lesson_id uuid NOT NULL REFERENCES lessons(id),
  audience text NOT NULL DEFAULT '',
  note text NOT NULL DEFAULT '',
  -- release time of a recorded lesson (NULL for live lessons)
  starts_at timestamptz,
  ends_at timestamptz,
  cancelled_at timestamptz,
  cancel_reason text,
  -- as of the latest published version (NULL: never published), read by the public schedule
  published_state text CHECK (published_state IN ('scheduled', 'cancelled')),
  published_audience text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (timetable_id, lesson_id)
);
CREATE INDEX timetable_entries_lesson ON timetable_entries (lesson_id);

-- every publication: what was published (resolved lines) and how it differs from the version before
CREATE TABLE timetable_versions (
  timetable_id uuid NOT NULL REFERENCES timetables(id),
  version integer NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now(),
  published_by uuid NOT NULL REFERENCES users(id),
  -- the first lesson (version 1) or the earliest lesson the changes touch (later versions)
  concerns_at timestamptz NOT NULL,
  lead_hours double precision NOT NULL,
  late boolean NOT NULL,
  late_reason text,
  note text,
  entries jsonb NOT NULL,
  changes jsonb NOT NULL,
  PRIMARY KEY (timetable_id, version),
  CHECK (NOT late OR late_reason IS NOT NULL)
);
CREATE INDEX timetable_versions_late ON timetable_versions (published_at DESC) WHERE late;

-- what subscribed calendars were last told about a live lesson: SEQUENCE grows with every change
CREATE TABLE schedule_events (
  lesson_id uuid PRIMARY KEY REFERENCES lessons(id),
  sequence integer NOT NULL DEFAULT 0,
  fingerprint text NOT NULL,
  status text NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
  created_at timestamptz NOT NULL DEFAULT now(),
  changed_at timestamptz NOT NULL DEFAULT now()
);

-- the public schedule reads live lessons by time
CREATE INDEX lessons_live_schedule ON lessons (scheduled_start, id) WHERE kind = 'live';
