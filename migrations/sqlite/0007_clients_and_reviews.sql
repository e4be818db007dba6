-- Clients and reviews (issues 6 and 7). Read models only: the events live in the log.

-- Clients projection: one row per client, registered by hand or learned from bookings (the id
-- is a UUID v5 of the normalised email either way). Personal data sits in name, email, phone
-- and notes only. `version` is the Client aggregate's sequence (0 while only learned from
-- bookings), for ETags. The figures are recomputed from rm_client_bookings on every change.
CREATE TABLE rm_clients (
    id                 TEXT   PRIMARY KEY,
    email_key          TEXT   NOT NULL,
    name               TEXT   NOT NULL,
    email              TEXT   NOT NULL,
    phone              TEXT,
    notes              TEXT   NOT NULL DEFAULT '',
    registered         BIGINT NOT NULL DEFAULT 0,
    archived           BIGINT NOT NULL DEFAULT 0,
    version            BIGINT NOT NULL DEFAULT 0,
    created_at         TEXT   NOT NULL,
    updated_at         TEXT   NOT NULL,
    created_position   BIGINT NOT NULL,
    bookings_count     BIGINT NOT NULL DEFAULT 0,
    upcoming           BIGINT NOT NULL DEFAULT 0,
    completed          BIGINT NOT NULL DEFAULT 0,
    no_shows           BIGINT NOT NULL DEFAULT 0,
    cancellations      BIGINT NOT NULL DEFAULT 0,
    first_visit_at     TEXT,
    first_visit_epoch  BIGINT,
    last_visit_at      TEXT,
    last_visit_epoch   BIGINT,
    total_spent_cents  BIGINT NOT NULL DEFAULT 0,
    currency           TEXT   NOT NULL DEFAULT 'USD'
);
CREATE INDEX rm_clients_email ON rm_clients (email_key);
CREATE INDEX rm_clients_created ON rm_clients (created_position, id);
CREATE INDEX rm_clients_last_visit ON rm_clients (last_visit_epoch, id);

-- Clients projection: each booking's client and where it stands, from which the figures above
-- are computed.
CREATE TABLE rm_client_bookings (
    booking      TEXT   PRIMARY KEY,
    client       TEXT   NOT NULL,
    status       TEXT   NOT NULL,
    start_at     TEXT   NOT NULL,
    start_epoch  BIGINT NOT NULL,
    price_cents  BIGINT NOT NULL,
    kept_cents   BIGINT NOT NULL DEFAULT 0,
    currency     TEXT   NOT NULL
);
CREATE INDEX rm_client_bookings_client ON rm_client_bookings (client, start_epoch);

-- Reviews projection. The reviewer is named by client id only (contact details stay in
-- rm_clients); `display_name` is the name the client chose to show.
CREATE TABLE rm_reviews (
    id               TEXT   PRIMARY KEY,
    booking          TEXT,
    stylist          TEXT   NOT NULL,
    service          TEXT,
    client           TEXT,
    rating           BIGINT NOT NULL,
    text             TEXT   NOT NULL,
    display_name     TEXT   NOT NULL,
    status           TEXT   NOT NULL,
    reply            TEXT,
    replied_at       TEXT,
    archived         BIGINT NOT NULL DEFAULT 0,
    version          BIGINT NOT NULL,
    created_at       TEXT   NOT NULL,
    updated_at       TEXT   NOT NULL,
    created_position BIGINT NOT NULL
);
CREATE INDEX rm_reviews_status ON rm_reviews (status, created_position);
CREATE INDEX rm_reviews_stylist ON rm_reviews (stylist, created_position);
