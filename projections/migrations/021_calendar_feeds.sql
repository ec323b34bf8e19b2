-- Subscribable calendar feeds (GET /api/v1/calendar/{feed_token}.ics): at most one per account.
-- The URL's token is the only credential a calendar app can send, so it is 256-bit random and
-- stored only as its BLAKE2b-256 hash, like session tokens. Creating a feed again replaces the
-- row (the old URL stops working); revoking deletes it. Written by the gateway, not a projection
-- (like account_preferences). Erasing an account must delete its row (projections/
-- calendar_feed_queries.hpp: revoke_calendar_feed).
CREATE TABLE calendar_feeds (
  account_id   uuid PRIMARY KEY,
  token_hash   text        NOT NULL UNIQUE,  -- serves the feed lookup by token
  created_at   timestamptz NOT NULL,
  last_used_at timestamptz                   -- touched at most once a minute
);
