-- Deposits on the bookings read model, and the operational state of the reactors that act on
-- the world (hold expiry, mail, refunds, outgoing webhooks). Reactor state is not a read model:
-- a replay of the read models never touches it, so nothing is sent twice.

ALTER TABLE rm_bookings ADD COLUMN checkout_url TEXT;
ALTER TABLE rm_bookings ADD COLUMN cancelled_by TEXT;
-- requested | refunded | failed | kept (a paid deposit forfeited by a late cancellation or no-show)
ALTER TABLE rm_bookings ADD COLUMN refund_status TEXT;

-- Where each reactor has read the log to.
CREATE TABLE reactor_checkpoints (
    name       TEXT   PRIMARY KEY,
    txid       BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    updated_at TEXT   NOT NULL
);

-- Work the reactors derived from events, each row once (its id is derived from the event), done
-- no earlier than `due_epoch` (seconds), retried with backoff until `done_at` is set.
CREATE TABLE outbox (
    id          TEXT   PRIMARY KEY,
    channel     TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    booking     TEXT,
    payload     TEXT   NOT NULL,
    position    BIGINT NOT NULL,
    created_at  TEXT   NOT NULL,
    due_epoch   BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT,
    done_at     TEXT,
    outcome     TEXT
);
CREATE INDEX outbox_pending ON outbox (channel, due_epoch) WHERE done_at IS NULL;
CREATE INDEX outbox_booking ON outbox (booking);

-- Every Stripe webhook event received, by Stripe's event id: a redelivery is recognised and
-- acknowledged without acting twice; events that arrive before what they depend on wait here.
CREATE TABLE stripe_events (
    id          TEXT   PRIMARY KEY,
    type        TEXT   NOT NULL,
    booking     TEXT,
    outcome     TEXT   NOT NULL,
    received_at TEXT   NOT NULL,
    payload     TEXT   NOT NULL
);
CREATE INDEX stripe_events_booking ON stripe_events (booking, outcome);

-- Which booking a Stripe payment (PaymentIntent) paid, for refunds and charge events.
CREATE TABLE stripe_payments (
    payment TEXT PRIMARY KEY,
    booking TEXT NOT NULL
);

-- Keys the server makes for itself when none is configured (signed client links).
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- A booking being moved to another day holds time on both days within one commit: the
-- availability read model keys reservations by booking and day.
CREATE TABLE rm_reservations_v2 (
    booking     TEXT   NOT NULL,
    stylist     TEXT   NOT NULL,
    day         TEXT   NOT NULL,
    start_epoch BIGINT NOT NULL,
    end_epoch   BIGINT NOT NULL,
    PRIMARY KEY (booking, day)
);
INSERT INTO rm_reservations_v2 (booking, stylist, day, start_epoch, end_epoch)
    SELECT booking, stylist, day, start_epoch, end_epoch FROM rm_reservations;
DROP TABLE rm_reservations;
ALTER TABLE rm_reservations_v2 RENAME TO rm_reservations;
CREATE INDEX rm_reservations_stylist ON rm_reservations (stylist, start_epoch);

-- When each API token was last used (operational, written at most once a minute per token;
-- not an event: using a token is not a change to anything).
CREATE TABLE token_usage (
    token        TEXT PRIMARY KEY,
    last_used_at TEXT NOT NULL
);
