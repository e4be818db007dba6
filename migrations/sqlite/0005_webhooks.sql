-- Outgoing webhooks for integrators (issue 4): subscriptions, their signing secrets and the log
-- of delivery attempts. The deliveries themselves are outbox items of the `webhook` channel.

-- Read model (Webhooks projection): subscriptions as the API lists them. No secret here, only
-- the fingerprint the events carry.
CREATE TABLE rm_webhook_subscriptions (
    id                 TEXT    PRIMARY KEY,
    url                TEXT    NOT NULL,
    events_json        TEXT    NOT NULL,
    description        TEXT    NOT NULL,
    active             INTEGER NOT NULL,
    deleted            INTEGER NOT NULL DEFAULT 0,
    secret_fingerprint TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    created_position   BIGINT  NOT NULL
);

-- Operational state (never an event, never replayed): each subscription's signing secret,
-- `whsec_…` as is, or sealed (`v1:…`, XChaCha20-Poly1305) when SALON_SECRET_KEY is set.
CREATE TABLE webhook_secrets (
    subscription TEXT PRIMARY KEY,
    secret       TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- Operational state: one row per delivery attempt (the attempt number is the outbox item's,
-- unique because each attempt first claims the item).
CREATE TABLE webhook_deliveries (
    item         TEXT   NOT NULL,
    subscription TEXT   NOT NULL,
    attempt      BIGINT NOT NULL,
    event_type   TEXT   NOT NULL,
    at           TEXT   NOT NULL,
    status_code  BIGINT,
    duration_ms  BIGINT NOT NULL,
    error        TEXT,
    -- delivered | retry | gave up | dropped
    outcome      TEXT   NOT NULL,
    PRIMARY KEY (item, attempt)
);
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription, at);
