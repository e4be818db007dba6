-- Read models. Each is fed from the log by a projection that commits its rows and its
-- checkpoint in one transaction. Types are kept to what both stores and sqlx's Any driver
-- share: TEXT and BIGINT (booleans are 0/1); instants are RFC 3339 UTC text plus epoch seconds where ranges
-- are queried.
CREATE TABLE projection_checkpoints (
    name       TEXT   PRIMARY KEY,
    txid       BIGINT NOT NULL DEFAULT 0,
    position   BIGINT NOT NULL DEFAULT 0,
    updated_at TEXT   NOT NULL
);

CREATE TABLE rm_salon (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    time_zone   TEXT NOT NULL,
    currency    TEXT NOT NULL,
    policy_json TEXT NOT NULL
);

CREATE TABLE rm_services (
    id                    TEXT    PRIMARY KEY,
    name                  TEXT    NOT NULL,
    description           TEXT    NOT NULL,
    duration_minutes      BIGINT  NOT NULL,
    buffer_before_minutes BIGINT  NOT NULL,
    buffer_after_minutes  BIGINT  NOT NULL,
    price_cents           BIGINT  NOT NULL,
    deposit_cents         BIGINT  NOT NULL,
    currency              TEXT    NOT NULL,
    active                BIGINT  NOT NULL,
    created_position      BIGINT  NOT NULL
);

CREATE TABLE rm_stylists (
    id               TEXT    PRIMARY KEY,
    name             TEXT    NOT NULL,
    bio              TEXT    NOT NULL,
    services_json    TEXT    NOT NULL,
    hours_json       TEXT    NOT NULL,
    time_off_json    TEXT    NOT NULL,
    active           BIGINT  NOT NULL,
    created_position BIGINT  NOT NULL
);

CREATE TABLE rm_bookings (
    id              TEXT   PRIMARY KEY,
    status          TEXT   NOT NULL,
    deposit_status  TEXT   NOT NULL,
    service         TEXT   NOT NULL,
    stylist         TEXT   NOT NULL,
    start_at        TEXT   NOT NULL,
    end_at          TEXT   NOT NULL,
    start_epoch     BIGINT NOT NULL,
    client_name     TEXT   NOT NULL,
    client_email    TEXT   NOT NULL,
    client_phone    TEXT   NOT NULL,
    notes           TEXT,
    price_cents     BIGINT NOT NULL,
    deposit_cents   BIGINT NOT NULL,
    currency        TEXT   NOT NULL,
    hold_expires_at TEXT,
    created_at      TEXT   NOT NULL,
    updated_at      TEXT   NOT NULL
);
CREATE INDEX rm_bookings_start ON rm_bookings (start_epoch, id);
CREATE INDEX rm_bookings_stylist ON rm_bookings (stylist, start_epoch);

CREATE TABLE rm_reservations (
    booking     TEXT   PRIMARY KEY,
    stylist     TEXT   NOT NULL,
    day         TEXT   NOT NULL,
    start_epoch BIGINT NOT NULL,
    end_epoch   BIGINT NOT NULL
);
CREATE INDEX rm_reservations_stylist ON rm_reservations (stylist, start_epoch);

CREATE TABLE rm_audit_log (
    position       BIGINT PRIMARY KEY,
    recorded_at    TEXT   NOT NULL,
    actor          TEXT   NOT NULL,
    source         TEXT   NOT NULL,
    aggregate_type TEXT   NOT NULL,
    aggregate_id   TEXT   NOT NULL,
    event_type     TEXT   NOT NULL,
    summary        TEXT   NOT NULL,
    reason         TEXT,
    request_id     TEXT,
    correlation_id TEXT,
    causation_id   TEXT
);
CREATE INDEX rm_audit_log_recorded ON rm_audit_log (recorded_at);

CREATE TABLE rm_api_tokens (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    scope        TEXT    NOT NULL,
    secret_hash  TEXT    NOT NULL UNIQUE,
    revoked      BIGINT  NOT NULL,
    created_at   TEXT    NOT NULL,
    last_used_at TEXT
);
