-- The event log. Columns as postgres-es names them (it lists its columns in every statement, so
-- the extra ones are invisible to it), plus:
--   position: global order (identity; NOT commit-ordered, may have holes after rollbacks)
--   txid:     the writer's transaction id. Readers take only rows whose txid is below the oldest
--             running transaction and order by (txid, position), so a late commit is never
--             skipped (ARCHITECTURE §3).
CREATE TABLE events (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    sequence       bigint NOT NULL CHECK (sequence >= 1),
    event_type     text   NOT NULL,
    event_version  text   NOT NULL,
    payload        jsonb  NOT NULL,
    metadata       jsonb  NOT NULL,
    position       bigint GENERATED ALWAYS AS IDENTITY,
    txid           xid8   NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX events_position ON events (position);
CREATE INDEX events_txid_position ON events (txid, position);
CREATE INDEX events_event_type ON events (event_type, position);

CREATE TABLE snapshots (
    aggregate_type   text   NOT NULL,
    aggregate_id     text   NOT NULL,
    last_sequence    bigint NOT NULL,
    current_snapshot bigint NOT NULL,
    payload          jsonb  NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);
