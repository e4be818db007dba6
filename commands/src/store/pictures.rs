//! The stored pictures (`pictures`, migration 0012), written and read through the event store's
//! pool: content-addressed bytes that events name by their SHA-256. Not a read model: never
//! cleared and never replayed (see `crate::pictures`).

use super::Store;
use crate::pictures::Processed;

/// A stored picture's bytes and type, as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureBytes {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Store {
    /// Stores a processed picture under its hash; storing the same picture again changes
    /// nothing (the same hash is the same bytes).
    pub async fn save_picture(&self, p: &Processed) -> Result<(), sqlx::Error> {
        const SQL: &str =
            "INSERT INTO pictures (sha256, content_type, width, height, bytes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING";
        let at = chrono::Utc::now().to_rfc3339();
        on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(&p.picture.sha256)
                .bind(&p.picture.content_type)
                .bind(i64::from(p.picture.width))
                .bind(i64::from(p.picture.height))
                .bind(&p.bytes)
                .bind(at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The stored picture with this hash, if any.
    pub async fn picture(&self, sha256: &str) -> Result<Option<PictureBytes>, sqlx::Error> {
        const SQL: &str = "SELECT content_type, bytes FROM pictures WHERE sha256 = $1";
        let row: Option<(String, Vec<u8>)> = on_pool!(self, pool => {
            sqlx::query_as(SQL).bind(sha256).fetch_optional(pool).await?
        });
        Ok(row.map(|(content_type, bytes)| PictureBytes {
            content_type,
            bytes,
        }))
    }
}
