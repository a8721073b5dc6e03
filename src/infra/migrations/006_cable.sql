-- cable VOD delivery: ADI Asset_IDs are minted once per lesson and asset class from a sequence and
-- never reused; every delivery or withdrawal is one package folder in the cable outbox
CREATE SEQUENCE cable_asset_id_seq START 1;

CREATE TABLE cable_titles (
  lesson_id uuid PRIMARY KEY REFERENCES lessons(id),
  adi_package text NOT NULL UNIQUE,
  adi_title text NOT NULL UNIQUE,
  adi_movie text NOT NULL UNIQUE,
  adi_poster text NOT NULL UNIQUE,
  version_major integer NOT NULL DEFAULT 0,
  version_minor integer NOT NULL DEFAULT 0,
  delivered_asset_id uuid REFERENCES assets(id),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cable_packages (
  id text PRIMARY KEY,
  lesson_id uuid NOT NULL REFERENCES lessons(id),
  asset_id uuid NOT NULL REFERENCES assets(id),
  verb text NOT NULL CHECK (verb IN ('deliver', 'delete')),
  version_major integer NOT NULL,
  version_minor integer NOT NULL,
  state text NOT NULL CHECK (state IN ('packaging', 'delivered', 'failed', 'withdrawn')),
  error text,
  files jsonb,
  run_time_s double precision,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cable_packages_updated ON cable_packages (updated_at, id);
CREATE INDEX cable_packages_lesson ON cable_packages (lesson_id, created_at);
