-- Scheduling: coach availability, session types, holds and sessions (projector "sessions"),
-- the viewer's time-zone preference, and due reminders (projector "reminders").

CREATE TABLE schedule_availability (
  coach_id                    uuid PRIMARY KEY,
  time_zone                   text        NOT NULL,
  weekly                      text[]      NOT NULL,  -- "mon 09:00-12:00" (aggregates/availability.hpp)
  overrides                   text[]      NOT NULL,  -- "2026-12-24 off" | "2026-12-24 10:00-12:00"
  blackouts                   text[]      NOT NULL,  -- "2026-12-20..2026-12-31"
  max_sessions_per_day        integer     NOT NULL,
  max_sessions_per_week       integer     NOT NULL,
  cancellation_notice_minutes integer     NOT NULL,
  late_cancellation           text        NOT NULL,
  updated_at                  timestamptz NOT NULL
);

CREATE TABLE session_types (
  session_type_id       uuid PRIMARY KEY,
  coach_id              uuid        NOT NULL,
  name                  text        NOT NULL,
  duration_minutes      integer     NOT NULL,
  buffer_before_minutes integer     NOT NULL,
  buffer_after_minutes  integer     NOT NULL,
  min_notice_minutes    integer     NOT NULL,
  horizon_days          integer     NOT NULL,
  slot_interval_minutes integer     NOT NULL,
  price_cents           bigint      NOT NULL,
  currency              text        NOT NULL,
  location              text        NOT NULL,
  defined_at            timestamptz NOT NULL
);
-- Serves GET /api/v1/coaches/{coach}/session-types.
CREATE INDEX session_types_by_coach ON session_types (coach_id, name, session_type_id);

CREATE TABLE slot_holds (
  hold_id               uuid PRIMARY KEY,
  coach_id              uuid        NOT NULL,
  session_type_id       uuid        NOT NULL,
  held_by               uuid        NOT NULL,
  start_at              timestamptz NOT NULL,
  end_at                timestamptz NOT NULL,
  buffer_before_minutes integer     NOT NULL,
  buffer_after_minutes  integer     NOT NULL,
  expires_at            timestamptz NOT NULL
);
-- Serves the slots query: a coach's active holds.
CREATE INDEX slot_holds_by_coach ON slot_holds (coach_id, expires_at);

CREATE TABLE sessions (
  session_id            uuid PRIMARY KEY,
  coach_id              uuid        NOT NULL,
  client_account_id     uuid        NOT NULL,
  session_type_id       uuid,
  title                 text        NOT NULL,
  start_at              timestamptz NOT NULL,
  end_at                timestamptz NOT NULL,
  buffer_before_minutes integer     NOT NULL,
  buffer_after_minutes  integer     NOT NULL,
  location              text        NOT NULL,
  status                text        NOT NULL CHECK (status IN ('booked', 'confirmed', 'completed', 'no_show', 'cancelled')),
  sequence              integer     NOT NULL DEFAULT 0,
  late_cancellation     boolean     NOT NULL DEFAULT false,
  booked_at             timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL
);
-- Serve GET /api/v1/sessions for a coach and for a client (by start, then id), and the
-- slots query (a coach's sessions in a time range).
CREATE INDEX sessions_by_coach ON sessions (coach_id, start_at, session_id);
CREATE INDEX sessions_by_client ON sessions (client_account_id, start_at, session_id);

-- Written by PUT /api/v1/me/preferences (not a projection: no projector owns it).
CREATE TABLE account_preferences (
  account_id uuid PRIMARY KEY,
  timezone   text        NOT NULL,
  updated_at timestamptz NOT NULL
);

-- Reminders due: one row per live session, replaced on reschedule, removed on cancellation;
-- sent_at is set in the transaction that queues the e-mail, so each is sent once.
CREATE TABLE session_reminders (
  session_id        uuid PRIMARY KEY,
  coach_id          uuid        NOT NULL,
  client_account_id uuid        NOT NULL,
  session_start     timestamptz NOT NULL,
  sequence          integer     NOT NULL,
  due_at            timestamptz NOT NULL,
  sent_at           timestamptz
);
-- Serves the dispatcher: unsent reminders by due time.
CREATE INDEX session_reminders_due ON session_reminders (due_at) WHERE sent_at IS NULL;

CREATE TABLE notifications (
  notification_id uuid PRIMARY KEY,
  account_id      uuid        NOT NULL,
  kind            text        NOT NULL,
  subject_id      uuid        NOT NULL,
  body            text        NOT NULL,
  created_at      timestamptz NOT NULL
);
CREATE INDEX notifications_by_account ON notifications (account_id, created_at DESC);
