-- A rebuild (coachctl projections rebuild) drops the indexes that only queries read while it
-- loads a projector's emptied tables, and builds each once at the end from the loaded rows
-- (projector::query_only_indexes). Their definitions wait here, written in the transaction that
-- drops them: a rebuild that dies half-way leaves them to the projector's next start (coachd, a
-- catch-up or another rebuild), which builds them before it applies anything.
CREATE TABLE projection_deferred_indexes (
  projector  text NOT NULL,
  index_name text NOT NULL,
  definition text NOT NULL,
  PRIMARY KEY (projector, index_name)
);
