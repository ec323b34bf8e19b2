-- Read models of the first slice: accounts, intakes, clients; projector checkpoints;
-- server-side sign-in sessions.

CREATE TABLE projection_checkpoints (
  projector  text        NOT NULL,
  partition  integer     NOT NULL,
  position   bigint      NOT NULL,  -- next offset to read (the consumer position)
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projector, partition)
);

CREATE TABLE accounts (
  account_id    uuid PRIMARY KEY,
  email         text        NOT NULL UNIQUE,  -- normalized
  role          text        NOT NULL CHECK (role IN ('coach', 'client', 'admin')),
  display_name  text        NOT NULL,
  password_hash text,
  registered_at timestamptz NOT NULL
);

CREATE TABLE intakes (
  intake_id    uuid PRIMARY KEY,
  coach_id     uuid        NOT NULL,
  status       text        NOT NULL CHECK (status IN ('pending', 'accepted', 'declined')),
  name         text        NOT NULL,
  email        text        NOT NULL,
  phone        text,
  goals        text        NOT NULL,
  message      text        NOT NULL,
  notes        text,
  client_id    uuid,
  submitted_at timestamptz NOT NULL,
  decided_at   timestamptz
);
-- Serves GET /api/v1/intakes?status=…: a coach's intakes of one status, newest first, by cursor.
CREATE INDEX intakes_by_coach_status ON intakes (coach_id, status, submitted_at DESC, intake_id DESC);
-- Serves the same list without a status filter.
CREATE INDEX intakes_by_coach ON intakes (coach_id, submitted_at DESC, intake_id DESC);

CREATE TABLE clients (
  client_id  uuid PRIMARY KEY,
  coach_id   uuid        NOT NULL,
  account_id uuid        NOT NULL,
  intake_id  uuid,
  name       text        NOT NULL,
  email      text        NOT NULL,
  phone      text,
  goals      text        NOT NULL,
  created_at timestamptz NOT NULL
);
-- Serves GET /api/v1/clients: a coach's clients, oldest first, by cursor.
CREATE INDEX clients_by_coach ON clients (coach_id, created_at, client_id);
CREATE INDEX clients_by_account ON clients (account_id);

CREATE TABLE auth_sessions (
  token_hash      text PRIMARY KEY,  -- BLAKE2b-256 of the bearer/cookie token
  account_id      uuid        NOT NULL,
  role            text        NOT NULL,
  csrf_token      text        NOT NULL,
  user_agent      text        NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL,
  last_seen_at    timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL   -- absolute expiry
);
CREATE INDEX auth_sessions_by_account ON auth_sessions (account_id);

-- Process-wide settings generated at first start (e.g. the key that turns e-mail addresses
-- into account stream ids).
CREATE TABLE coachd_settings (
  name  text PRIMARY KEY,
  value text NOT NULL
);
