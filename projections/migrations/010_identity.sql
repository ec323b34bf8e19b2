-- Identity and access (issue 3): session ids and client addresses, credentials and second
-- factors (projected from the account events), single-use link tokens, MFA enrollments in
-- progress, and the security audit trail.

-- Sessions get a public id (what GET /api/v1/auth/sessions shows and DELETE takes); the token
-- itself is only ever stored hashed.
ALTER TABLE auth_sessions ADD COLUMN session_id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE auth_sessions ADD COLUMN ip_address text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX auth_sessions_by_id ON auth_sessions (session_id);
-- Serves the caller's session list (newest first).
CREATE INDEX auth_sessions_by_account_created ON auth_sessions (account_id, created_at DESC);

-- What sign-in checks, kept by the identity projector from the account events.
CREATE TABLE account_credentials (
  account_id     uuid PRIMARY KEY,
  password_hash  text,
  email_verified boolean     NOT NULL DEFAULT false,
  mfa_enabled    boolean     NOT NULL DEFAULT false,
  totp_secret    text,                   -- base32, while MFA is on
  recovery_codes text[]      NOT NULL DEFAULT '{}',  -- hashes of the unused codes
  updated_at     timestamptz NOT NULL
);

-- Single-use e-mail verification links (the token only as its BLAKE2b-256 hash).
CREATE TABLE email_verifications (
  token_hash text PRIMARY KEY,
  account_id uuid        NOT NULL,
  expires_at timestamptz NOT NULL
);

-- Single-use password-reset links, valid for one hour (hashed like session tokens).
CREATE TABLE password_resets (
  token_hash text PRIMARY KEY,
  account_id uuid        NOT NULL,
  email      text        NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX password_resets_by_account ON password_resets (account_id);

-- A TOTP secret handed out but not yet confirmed with a code.
CREATE TABLE mfa_enrollments (
  account_id uuid PRIMARY KEY,
  secret     text        NOT NULL,
  created_at timestamptz NOT NULL
);

-- The security audit trail (GET /api/v1/admin/audit), projected from the account events.
CREATE TABLE audit_events (
  event_id    text PRIMARY KEY,
  type        text        NOT NULL,
  account_id  uuid        NOT NULL,
  occurred_at timestamptz NOT NULL,
  partition   integer     NOT NULL,
  log_offset  bigint      NOT NULL,
  details     jsonb       NOT NULL DEFAULT '{}'
);
-- Serve the audit list: everything, one account's, or one type's, newest first, by cursor.
CREATE INDEX audit_events_by_time ON audit_events (occurred_at DESC, event_id DESC);
CREATE INDEX audit_events_by_account ON audit_events (account_id, occurred_at DESC, event_id DESC);
CREATE INDEX audit_events_by_type ON audit_events (type, occurred_at DESC, event_id DESC);

-- OpenID Connect sign-ins in progress: the state (hashed), the nonce and the PKCE verifier,
-- single use, valid ten minutes.
CREATE TABLE oidc_flows (
  state_hash    text PRIMARY KEY,
  nonce         text        NOT NULL,
  code_verifier text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
