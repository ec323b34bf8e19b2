-- Every coachd process keeps the sessions it checked in memory for a few seconds
-- (gateway/session_cache.hpp). A session ended anywhere (sign-out, revocation, password change or
-- reset, in this process or another) is announced here, so every cache drops that account's
-- sessions at once instead of serving them until they age out.
CREATE FUNCTION coachd_auth_session_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('coachd_auth_session_ended', OLD.account_id::text);
  RETURN NULL;
END
$$;
CREATE TRIGGER auth_sessions_ended AFTER DELETE ON auth_sessions
  FOR EACH ROW EXECUTE FUNCTION coachd_auth_session_ended();
