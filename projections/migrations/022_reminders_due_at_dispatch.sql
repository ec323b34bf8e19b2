-- Reminders are due `lead` before the session, and the lead is the dispatcher's setting
-- (--reminder-lead-minutes), read when it looks for due rows: a changed setting applies to every
-- pending reminder at once instead of only to sessions booked after it. So the projector keeps
-- only the session's start, and the dispatcher's query is served by unsent rows by start.
DROP INDEX session_reminders_due;
ALTER TABLE session_reminders DROP COLUMN due_at;
CREATE INDEX session_reminders_unsent ON session_reminders (session_start) WHERE sent_at IS NULL;
