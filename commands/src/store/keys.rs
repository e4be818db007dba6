//! Clients' keys (`client_keys`, migration 0010): made when a client's first personal event is
//! sealed, read when events are opened, deleted when the client is forgotten. Never in the log.

use super::Store;
use migrations::pii::{self, Key, KeyRing};
use sqlx::Row;
use std::collections::{BTreeSet, HashMap};

impl Store {
    /// The key of each client in `kids`, made now for those that have none (a forgotten client
    /// who comes back gets a new key: what was sealed with the old one stays unreadable).
    pub async fn client_keys(
        &self,
        kids: &BTreeSet<String>,
    ) -> Result<HashMap<String, Key>, sqlx::Error> {
        // One statement per client: makes the key unless one exists, and answers the one kept.
        const SQL: &str =
            "INSERT INTO client_keys (client_id, key, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id) DO UPDATE SET key = COALESCE(client_keys.key, excluded.key) \
             RETURNING key";
        let now = chrono::Utc::now().to_rfc3339();
        let mut out = HashMap::new();
        for kid in kids {
            let fresh = pii::key_to_hex(&pii::new_key());
            let stored: Option<String> = on_pool!(self, pool => {
                sqlx::query_scalar(SQL)
                    .bind(kid.clone())
                    .bind(fresh)
                    .bind(now.clone())
                    .fetch_one(pool)
                    .await?
            });
            let key = stored
                .as_deref()
                .and_then(pii::key_from_hex)
                .ok_or_else(|| sqlx::Error::Protocol(format!("client key of {kid} unreadable")))?;
            out.insert(kid.clone(), key);
        }
        Ok(out)
    }

    /// What readers need to open events naming `kids` (as `migrations::pii::key_ring`).
    pub async fn key_ring(&self, kids: &BTreeSet<String>) -> Result<KeyRing, sqlx::Error> {
        let mut ring = KeyRing::default();
        let kids: Vec<&String> = kids.iter().collect();
        for chunk in kids.chunks(pii::KEY_CHUNK) {
            let sql = pii::key_ring_sql(chunk.len());
            on_pool!(self, pool => {
                let mut q = sqlx::query(&sql);
                for k in chunk {
                    q = q.bind((*k).clone());
                }
                for row in q.fetch_all(pool).await? {
                    let kid: String = row.try_get("client_id")?;
                    let key: Option<String> = row.try_get("key")?;
                    let forgotten: i64 = row.try_get("forgotten")?;
                    ring.insert(kid, key.as_deref().and_then(pii::key_from_hex), forgotten != 0);
                }
            });
        }
        Ok(ring)
    }

    /// Deletes client `kid`'s key and marks the client forgotten. Idempotent.
    pub async fn forget_client_key(&self, kid: &str) -> Result<(), sqlx::Error> {
        const SQL: &str = "INSERT INTO client_keys (client_id, key, created_at, forgotten_at) \
             VALUES ($1, NULL, $2, $2) ON CONFLICT (client_id) DO UPDATE SET key = NULL, \
             forgotten_at = COALESCE(client_keys.forgotten_at, excluded.forgotten_at)";
        let now = chrono::Utc::now().to_rfc3339();
        on_pool!(self, pool => {
            sqlx::query(SQL).bind(kid.to_string()).bind(now).execute(pool).await?;
        });
        Ok(())
    }

    /// Rewrites the outgoing-webhook items (pending or delivered) that carry client `kid`'s
    /// personal data, opened when they were planned, as erased. Answers how many changed.
    pub async fn scrub_outbox(&self, kid: &str) -> Result<u64, sqlx::Error> {
        const SELECT: &str = "SELECT id, kind, payload FROM outbox \
             WHERE kind IN ('BookingRequested', 'WaitlistJoined')";
        const UPDATE: &str = "UPDATE outbox SET payload = $2 WHERE id = $1";
        let rows: Vec<(String, String, String)> = on_pool!(self, pool => {
            sqlx::query_as(SELECT).fetch_all(pool).await?
        });
        let mut changed = 0;
        for (id, kind, payload) in rows {
            let Ok(mut payload) = serde_json::from_str::<serde_json::Value>(&payload) else {
                continue;
            };
            let Some(data) = payload.get_mut("data") else {
                continue;
            };
            if !pii::erase_opened(&kind, data, kid) {
                continue;
            }
            let text = payload.to_string();
            on_pool!(self, pool => {
                sqlx::query(UPDATE).bind(id).bind(text).execute(pool).await?;
            });
            changed += 1;
        }
        Ok(changed)
    }

    /// Seals the personal data of `events` (plain, as serialized from the domain) with their
    /// clients' keys, making keys as needed. Events without personal data are left alone.
    pub async fn seal(
        &self,
        events: &mut [cqrs_es::persist::SerializedEvent],
    ) -> Result<(), SealFailed> {
        let mut kids = Vec::with_capacity(events.len());
        for e in events.iter() {
            kids.push(pii::sealing_kid(&e.event_type, &e.payload)?);
        }
        let wanted: BTreeSet<String> = kids.iter().flatten().cloned().collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let keys = self.client_keys(&wanted).await?;
        for (e, kid) in events.iter_mut().zip(kids) {
            if let Some(kid) = kid {
                pii::seal(&e.event_type, &mut e.payload, &kid, &keys[&kid])?;
            }
        }
        Ok(())
    }

    /// Upcasts and opens events read from the store (an aggregate's), in place.
    pub async fn open(
        &self,
        events: &mut [cqrs_es::persist::SerializedEvent],
    ) -> Result<(), sqlx::Error> {
        let mut wanted = BTreeSet::new();
        let mut any = false;
        for e in events.iter_mut() {
            if pii::is_personal(&e.event_type) {
                pii::upcast(&e.event_type, &mut e.event_version, &mut e.payload);
                wanted.extend(pii::kids(&e.event_type, &e.payload));
                any = true;
            }
        }
        if !any {
            return Ok(());
        }
        let ring = self.key_ring(&wanted).await?;
        for e in events.iter_mut() {
            pii::open(&e.event_type, &mut e.payload, &ring);
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealFailed {
    #[error(transparent)]
    Pii(#[from] pii::PiiError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}
