-- Sessions of the server-rendered faces (the partner's dashboard now, the owner's panel later).
-- Operational state, not a read model: never rebuilt from the log, never replayed. The cookie
-- holds a random session id; only its SHA-256 is stored, so a copy of the database opens no
-- session. `realm` keeps a dashboard session from opening the panel and back.
CREATE TABLE web_sessions (
    id_hash       TEXT   PRIMARY KEY,
    realm         TEXT   NOT NULL,
    subject       TEXT   NOT NULL,
    csrf_token    TEXT   NOT NULL,
    created_at    TEXT   NOT NULL,
    expires_epoch BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_epoch);
