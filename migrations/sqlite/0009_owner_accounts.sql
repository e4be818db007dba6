-- The owner's panel accounts (`/admin`). Credentials, not business state: like web_sessions
-- they are never rebuilt from the log and never exported with it, so a password hash never
-- reaches an integrator or an analyst. What an owner does once logged in is in the log, with
-- `owner:<email>` as the actor. `password_hash` is an argon2id PHC string (salt inside).
CREATE TABLE owner_accounts (
    email         TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
