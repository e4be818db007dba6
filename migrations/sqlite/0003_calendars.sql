-- External calendars (issue 3).

-- Read model (Availability projection): busy time from external calendars, per stylist-day and
-- source, as the StylistDay aggregates hold it.
CREATE TABLE rm_external_busy (
    stylist     TEXT   NOT NULL,
    day         TEXT   NOT NULL,
    source      TEXT   NOT NULL,
    start_epoch BIGINT NOT NULL,
    end_epoch   BIGINT NOT NULL
);
CREATE INDEX rm_external_busy_stylist ON rm_external_busy (stylist, start_epoch);
CREATE INDEX rm_external_busy_day ON rm_external_busy (stylist, day, source);

-- Read model (Calendars projection): the sources as the API and the panel list them. No
-- credentials here, not even sealed ones.
CREATE TABLE rm_calendar_sources (
    id               TEXT    PRIMARY KEY,
    stylist          TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    url              TEXT,
    username         TEXT,
    calendar_id      TEXT,
    has_credentials  INTEGER NOT NULL,
    sync_minutes     INTEGER NOT NULL,
    write_back       INTEGER NOT NULL,
    removed          INTEGER NOT NULL DEFAULT 0,
    busy_count       INTEGER NOT NULL DEFAULT 0,
    window_start     TEXT,
    window_end       TEXT,
    last_changed_at  TEXT,
    failing_error    TEXT,
    failing_since    TEXT,
    created_at       TEXT    NOT NULL,
    created_position BIGINT  NOT NULL
);
CREATE INDEX rm_calendar_sources_stylist ON rm_calendar_sources (stylist);

-- Operational state of the sync job (not a read model: not rebuilt from the log, never
-- replayed). When each source was last tried and last answered, for staleness.
CREATE TABLE calendar_sync_status (
    source               TEXT    PRIMARY KEY,
    last_attempt_at      TEXT    NOT NULL,
    last_success_at      TEXT,
    last_error           TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0
);

-- Operational state of calendar write-back: which booking events salon has written into which
-- source's calendar, at which path, with which content (a fingerprint), and how many times.
CREATE TABLE calendar_writeback (
    source      TEXT    NOT NULL,
    booking     TEXT    NOT NULL,
    href        TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    sequence    INTEGER NOT NULL,
    start_epoch BIGINT  NOT NULL,
    written_at  TEXT    NOT NULL,
    PRIMARY KEY (source, booking)
);
