-- Pictures (issue 19, part 5): the salon's logo, stylists' photos and services' pictures.
--
-- `pictures` holds the re-encoded bytes, content-addressed: the key is the SHA-256 (64 hex
-- digits) of the stored bytes, so the same picture uploaded twice is stored once and a stored
-- row never changes (it is served as immutable). It is written through the event store's pool
-- before the `PictureSet` event that names it, so every server on the database can serve it.
-- It is not a read model: never cleared, never replayed. Rows stay when a picture is replaced
-- or removed, since older events still name them.
CREATE TABLE pictures (
    sha256       TEXT   PRIMARY KEY,
    content_type TEXT   NOT NULL,
    width        BIGINT NOT NULL,
    height       BIGINT NOT NULL,
    bytes        BLOB   NOT NULL,
    created_at   TEXT   NOT NULL
);

-- The read model: which picture each subject shows now (`logo`, `stylist:<id>`,
-- `service:<id>`); `file` is the name it is served under (`<sha256>.<ext>`).
CREATE TABLE rm_pictures (
    subject      TEXT   PRIMARY KEY,
    sha256       TEXT   NOT NULL,
    content_type TEXT   NOT NULL,
    width        BIGINT NOT NULL,
    height       BIGINT NOT NULL,
    file         TEXT   NOT NULL,
    version      BIGINT NOT NULL
);
