-- The event log. Columns as cqrs-es names them, plus `position`: the global order projections
-- read in. SQLite serialises writers, so AUTOINCREMENT order is commit order, with no gaps that
-- a reader could skip. The unique key on (type, id, sequence) is the optimistic-concurrency
-- check: a second append of the same sequence fails with SQLITE_CONSTRAINT_UNIQUE (2067).
CREATE TABLE events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    sequence       INTEGER NOT NULL CHECK (sequence >= 1),
    event_type     TEXT    NOT NULL,
    event_version  TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    metadata       TEXT    NOT NULL,
    UNIQUE (aggregate_type, aggregate_id, sequence)
);
CREATE INDEX events_event_type ON events (event_type, position);

CREATE TABLE snapshots (
    aggregate_type   TEXT    NOT NULL,
    aggregate_id     TEXT    NOT NULL,
    last_sequence    INTEGER NOT NULL,
    current_snapshot INTEGER NOT NULL,
    payload          TEXT    NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);
