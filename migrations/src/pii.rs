//! Clients' personal data in the event log: sealed per client, opened where the log is read,
//! erasable by deleting a key (issue 8, "erasure without rewriting history").
//!
//! Four event types carry personal data. At version 2 each personal value in them (a *slot*)
//! is stored as an envelope instead of plain JSON:
//!
//! ```json
//! {"sealed": {"alg": "XChaCha20-Poly1305", "kid": "<client id>", "nonce": "<base64>", "ciphertext": "<base64>"}}
//! ```
//!
//! sealed with the client's own random 256-bit key (table `client_keys`, outside the log; the
//! key id is the client id). Version-1 events (the first release wrote plain JSON) are turned
//! into the version-2 shape when loaded by one upcaster per event type, which wraps each plain
//! value as `{"unsealed": {"kid": "<client id>", "value": …}}`: the same slots, marked as
//! never sealed.
//!
//! Opening ([`open`]) replaces every envelope with what it holds, or, when the client was
//! forgotten (the key is gone, or the client is marked forgotten for the plain version-1
//! values), with the erased value: name "Erased client", no email, phone or notes. Readers then
//! see the domain's own JSON shape either way; `BookingRequested` and `WaitlistJoined` also
//! gain a `client_id` beside the client, since an erased email no longer names the client.
//!
//! | event | slots | key id from |
//! |---|---|---|
//! | `ClientRegistered`, `ClientUpdated` | `details` | `id` |
//! | `BookingRequested` | `details.client`, `details.notes` | `details.client.email` |
//! | `WaitlistJoined` | `entry.client` | `entry.client.email` |

use crate::db::ReadDb;
use crate::log::StoredEvent;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use domain::ids::ClientId;
use domain::values::Email;
use rand::RngCore;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

/// What an erased client is called wherever their name was.
pub const ERASED_NAME: &str = "Erased client";
/// The AEAD every sealed value names.
pub const ALG: &str = "XChaCha20-Poly1305";
/// The version of the event types below whose personal values are envelopes.
pub const SEALED_VERSION: &str = "2";

/// A client's key: 32 random bytes.
pub type Key = [u8; 32];

/// A fresh random key.
pub fn new_key() -> Key {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    key
}

/// A personal value: its path in the event's body, and what it reads as once erased.
type Slot = (&'static [&'static str], fn() -> Value);

/// Where an event type keeps personal data.
struct Spec {
    event_type: &'static str,
    /// Where the client id is (`Id`) or the email it derives from (`Email`), in the body.
    kid: KidFrom,
    /// The personal values, each a path in the body, and what an erased one reads as.
    slots: &'static [Slot],
    /// Where an opened event names its client (`client_id`), beside the client.
    names_client_at: Option<&'static [&'static str]>,
}

enum KidFrom {
    Id(&'static [&'static str]),
    Email(&'static [&'static str]),
}

fn erased_details() -> Value {
    json!({"name": ERASED_NAME, "email": "", "phone": null, "notes": ""})
}

fn erased_contact() -> Value {
    json!({"name": ERASED_NAME, "email": "", "phone": ""})
}

fn erased_nothing() -> Value {
    Value::Null
}

const SPECS: &[Spec] = &[
    Spec {
        event_type: "ClientRegistered",
        kid: KidFrom::Id(&["id"]),
        slots: &[(&["details"], erased_details)],
        names_client_at: None,
    },
    Spec {
        event_type: "ClientUpdated",
        kid: KidFrom::Id(&["id"]),
        slots: &[(&["details"], erased_details)],
        names_client_at: None,
    },
    Spec {
        event_type: "BookingRequested",
        kid: KidFrom::Email(&["details", "client", "email"]),
        slots: &[
            (&["details", "client"], erased_contact),
            (&["details", "notes"], erased_nothing),
        ],
        names_client_at: Some(&["details"]),
    },
    Spec {
        event_type: "WaitlistJoined",
        kid: KidFrom::Email(&["entry", "client", "email"]),
        slots: &[(&["entry", "client"], erased_contact)],
        names_client_at: Some(&["entry"]),
    },
];

fn spec(event_type: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.event_type == event_type)
}

/// Whether events of this type carry personal data (and are sealed from version 2 on).
pub fn is_personal(event_type: &str) -> bool {
    spec(event_type).is_some()
}

fn at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn at_mut<'v>(v: &'v mut Value, path: &[&str]) -> Option<&'v mut Value> {
    path.iter().try_fold(v, |v, k| v.get_mut(*k))
}

/// The body of an externally tagged event payload (`{"BookingRequested": {…}}`).
fn body_mut<'v>(event_type: &str, payload: &'v mut Value) -> Option<&'v mut Value> {
    payload.get_mut(event_type)
}

/// The client id a plain body names (its id, or the id of its email).
fn plain_kid(spec: &Spec, body: &Value) -> Option<String> {
    match spec.kid {
        KidFrom::Id(path) => at(body, path)?.as_str().map(str::to_string),
        KidFrom::Email(path) => {
            let email = Email::parse(at(body, path)?.as_str()?).ok()?;
            Some(ClientId::for_email(&email).to_string())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Upcasters: version 1 (plain) → version 2 (envelopes), one per event type.

/// Wraps each plain slot of a version-1 body as `{"unsealed": {"kid", "value"}}`.
fn wrap_unsealed(spec: &Spec, mut payload: Value) -> Value {
    let Some(body) = body_mut(spec.event_type, &mut payload) else {
        return payload;
    };
    let kid = plain_kid(spec, body).map_or(Value::Null, Value::String);
    for (path, _) in spec.slots {
        if let Some(slot) = at_mut(body, path) {
            if slot.is_null() {
                continue;
            }
            let value = slot.take();
            *slot = json!({"unsealed": {"kid": kid, "value": value}});
        }
    }
    payload
}

/// `ClientRegistered` v1 → v2: `details` becomes an unsealed envelope keyed by `id`.
pub fn upcast_client_registered_v1(payload: Value) -> Value {
    wrap_unsealed(&SPECS[0], payload)
}

/// `ClientUpdated` v1 → v2: `details` becomes an unsealed envelope keyed by `id`.
pub fn upcast_client_updated_v1(payload: Value) -> Value {
    wrap_unsealed(&SPECS[1], payload)
}

/// `BookingRequested` v1 → v2: `details.client` and `details.notes` become unsealed envelopes
/// keyed by the id of the client's email.
pub fn upcast_booking_requested_v1(payload: Value) -> Value {
    wrap_unsealed(&SPECS[2], payload)
}

/// `WaitlistJoined` v1 → v2: `entry.client` becomes an unsealed envelope keyed by the id of
/// the client's email.
pub fn upcast_waitlist_joined_v1(payload: Value) -> Value {
    wrap_unsealed(&SPECS[3], payload)
}

/// The upcaster from `version` of `event_type` to the next version, if there is one.
pub fn upcaster(event_type: &str, version: &str) -> Option<fn(Value) -> Value> {
    match (event_type, version) {
        ("ClientRegistered", "1") => Some(upcast_client_registered_v1),
        ("ClientUpdated", "1") => Some(upcast_client_updated_v1),
        ("BookingRequested", "1") => Some(upcast_booking_requested_v1),
        ("WaitlistJoined", "1") => Some(upcast_waitlist_joined_v1),
        _ => None,
    }
}

/// Brings a stored event to the newest shape of its type.
pub fn upcast(event_type: &str, version: &mut String, payload: &mut Value) {
    while let Some(up) = upcaster(event_type, version) {
        *payload = up(payload.take());
        let next = version.parse::<u32>().map_or(0, |v| v + 1);
        *version = next.to_string();
    }
}

// ---------------------------------------------------------------------------------------------
// Sealing (the write side, before append).

#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("personal data of a {0} event names no client")]
    NoClient(String),
    #[error("personal data cannot be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

fn aad(kid: &str, event_type: &str, path: &[&str]) -> Vec<u8> {
    format!("salon-pii/2|{kid}|{event_type}|{}", path.join(".")).into_bytes()
}

/// The client whose key seals this plain (domain-shaped) event, if it is a personal one.
pub fn sealing_kid(event_type: &str, payload: &Value) -> Result<Option<String>, PiiError> {
    let Some(spec) = spec(event_type) else {
        return Ok(None);
    };
    let body = payload.get(event_type).unwrap_or(&Value::Null);
    if !needs_sealing(spec, body) {
        return Ok(None);
    }
    plain_kid(spec, body)
        .map(Some)
        .ok_or_else(|| PiiError::NoClient(event_type.to_string()))
}

fn is_envelope(v: &Value) -> bool {
    v.get("sealed").is_some() || v.get("unsealed").is_some()
}

fn needs_sealing(spec: &Spec, body: &Value) -> bool {
    spec.slots
        .iter()
        .any(|(path, _)| at(body, path).is_some_and(|v| !v.is_null() && !is_envelope(v)))
}

/// Seals every plain personal value of the event with `key` (the client `kid`'s).
pub fn seal(event_type: &str, payload: &mut Value, kid: &str, key: &Key) -> Result<(), PiiError> {
    let Some(spec) = spec(event_type) else {
        return Ok(());
    };
    let Some(body) = body_mut(event_type, payload) else {
        return Ok(());
    };
    let cipher = XChaCha20Poly1305::new(key.into());
    for (path, _) in spec.slots {
        let Some(slot) = at_mut(body, path) else {
            continue;
        };
        if slot.is_null() || is_envelope(slot) {
            continue;
        }
        let plain = serde_json::to_vec(slot)?;
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = aad(kid, event_type, path);
        // Encryption with a valid key and nonce cannot fail for in-memory input.
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        *slot = json!({"sealed": {
            "alg": ALG,
            "kid": kid,
            "nonce": B64.encode(nonce),
            "ciphertext": B64.encode(ciphertext),
        }});
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Opening (wherever the log is read).

/// What readers know of some clients' keys.
#[derive(Debug, Default, Clone)]
pub struct KeyRing {
    entries: HashMap<String, (Option<Key>, bool)>,
}

impl KeyRing {
    /// Records client `kid`'s key (`None`: deleted or never made) and whether the client was
    /// forgotten.
    pub fn insert(&mut self, kid: String, key: Option<Key>, forgotten: bool) {
        self.entries.insert(kid, (key, forgotten));
    }
    fn key(&self, kid: &str) -> Option<&Key> {
        self.entries.get(kid).and_then(|(k, _)| k.as_ref())
    }
    fn forgotten(&self, kid: &str) -> bool {
        self.entries.get(kid).is_some_and(|(_, f)| *f)
    }
}

/// A key as stored (hex), or `None` when unreadable.
pub fn key_from_hex(text: &str) -> Option<Key> {
    hex::decode(text).ok()?.try_into().ok()
}

pub fn key_to_hex(key: &Key) -> String {
    hex::encode(key)
}

/// The client ids an event's envelopes name (after [`upcast`]).
pub fn kids(event_type: &str, payload: &Value) -> Vec<String> {
    let Some(spec) = spec(event_type) else {
        return Vec::new();
    };
    let Some(body) = payload.get(event_type) else {
        return Vec::new();
    };
    spec.slots
        .iter()
        .filter_map(|(path, _)| envelope_kid(at(body, path)?))
        .collect()
}

fn envelope_kid(v: &Value) -> Option<String> {
    v.get("sealed")
        .or_else(|| v.get("unsealed"))?
        .get("kid")?
        .as_str()
        .map(str::to_string)
}

fn open_sealed(sealed: &Value, key: &Key, event_type: &str, path: &[&str]) -> Option<Value> {
    let kid = sealed.get("kid")?.as_str()?;
    if sealed.get("alg")?.as_str()? != ALG {
        return None;
    }
    let nonce = B64.decode(sealed.get("nonce")?.as_str()?).ok()?;
    let ciphertext = B64.decode(sealed.get("ciphertext")?.as_str()?).ok()?;
    if nonce.len() != 24 {
        return None;
    }
    let aad = aad(kid, event_type, path);
    let plain = XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad: &aad,
            },
        )
        .ok()?;
    serde_json::from_slice(&plain).ok()
}

/// Replaces every envelope of an (upcast) event with what it holds, or with the erased value
/// when the client's key is gone or the client was forgotten.
pub fn open(event_type: &str, payload: &mut Value, ring: &KeyRing) {
    let Some(spec) = spec(event_type) else {
        return;
    };
    let Some(body) = body_mut(event_type, payload) else {
        return;
    };
    let mut named = None;
    for (path, erased) in spec.slots {
        let Some(slot) = at_mut(body, path) else {
            continue;
        };
        let opened = if let Some(sealed) = slot.get("sealed") {
            let kid = sealed.get("kid").and_then(Value::as_str).unwrap_or("");
            named = Some(kid.to_string());
            ring.key(kid)
                .and_then(|key| open_sealed(sealed, key, event_type, path))
                .unwrap_or_else(erased)
        } else if let Some(unsealed) = slot.get_mut("unsealed") {
            let kid = unsealed
                .get("kid")
                .and_then(Value::as_str)
                .map(str::to_string);
            let value = unsealed
                .get_mut("value")
                .map(Value::take)
                .unwrap_or(Value::Null);
            match kid {
                Some(kid) if ring.forgotten(&kid) => {
                    named = Some(kid);
                    erased()
                }
                Some(kid) => {
                    named = Some(kid);
                    value
                }
                None => value,
            }
        } else {
            continue;
        };
        *slot = opened;
    }
    if let (Some(place), Some(kid)) = (spec.names_client_at, named) {
        if let Some(Value::Object(o)) = at_mut(body, place) {
            o.insert("client_id".into(), Value::String(kid));
        }
    }
}

/// Erases the personal values of an opened event body (the inside of the tagged payload, as
/// webhook deliveries carry it) when it names client `kid`. Answers whether it did.
pub fn erase_opened(event_type: &str, body: &mut Value, kid: &str) -> bool {
    let Some(spec) = spec(event_type) else {
        return false;
    };
    let names = match spec.names_client_at {
        Some(place) => at(body, place)
            .and_then(|p| p.get("client_id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| plain_kid(spec, body)),
        None => plain_kid(spec, body),
    };
    if names.as_deref() != Some(kid) {
        return false;
    }
    for (path, erased) in spec.slots {
        if let Some(slot) = at_mut(body, path) {
            *slot = erased();
        }
    }
    true
}

/// Upcasts and opens events in place, reading the keys they need from `db` in one query.
pub async fn open_all(
    db: &ReadDb,
    events: Vec<(&str, &mut String, &mut Value)>,
) -> Result<(), sqlx::Error> {
    let mut wanted = BTreeSet::new();
    let mut personal = Vec::new();
    for (event_type, version, payload) in events {
        if !is_personal(event_type) {
            continue;
        }
        upcast(event_type, version, payload);
        wanted.extend(kids(event_type, payload));
        personal.push((event_type, payload));
    }
    if personal.is_empty() {
        return Ok(());
    }
    let ring = key_ring(db, &wanted).await?;
    for (event_type, payload) in personal {
        open(event_type, payload, &ring);
    }
    Ok(())
}

/// [`open_all`] for events read from the log.
pub async fn open_stored(db: &ReadDb, events: &mut [StoredEvent]) -> Result<(), sqlx::Error> {
    open_all(
        db,
        events
            .iter_mut()
            .map(|e| (e.event_type.as_str(), &mut e.event_version, &mut e.payload))
            .collect(),
    )
    .await
}

/// The SQL that reads keys: `client_id`, `key` (hex or NULL), `forgotten` (0/1).
pub fn key_ring_sql(count: usize) -> String {
    let marks: Vec<String> = (1..=count).map(|i| format!("${i}")).collect();
    format!(
        "SELECT client_id, key, CAST(CASE WHEN forgotten_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS forgotten \
         FROM client_keys WHERE client_id IN ({})",
        marks.join(", ")
    )
}

/// Clients asked about at once (well under both stores' parameter limits).
pub const KEY_CHUNK: usize = 500;

/// The keys of `kids` as stored now.
pub async fn key_ring(db: &ReadDb, kids: &BTreeSet<String>) -> Result<KeyRing, sqlx::Error> {
    use sqlx::Row;
    let mut ring = KeyRing::default();
    let kids: Vec<&String> = kids.iter().collect();
    for chunk in kids.chunks(KEY_CHUNK) {
        let sql = key_ring_sql(chunk.len());
        let mut q = sqlx::query(&sql);
        for k in chunk {
            q = q.bind((*k).clone());
        }
        for row in q.fetch_all(db.pool()).await? {
            let kid: String = row.try_get("client_id")?;
            let key: Option<String> = row.try_get("key")?;
            let forgotten: i64 = row.try_get("forgotten")?;
            ring.insert(kid, key.as_deref().and_then(key_from_hex), forgotten != 0);
        }
    }
    Ok(ring)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada_id() -> String {
        ClientId::for_email(&Email::parse("ada@example.com").unwrap()).to_string()
    }

    fn booking_v1() -> Value {
        json!({"BookingRequested": {"id": "b1", "details": {
            "client": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+12125550142"},
            "notes": "fixture", "price_cents": 9500, "currency": "USD"}}})
    }

    #[test]
    fn booking_requested_v1_becomes_v2_envelopes() {
        let kid = ada_id();
        assert_eq!(
            upcast_booking_requested_v1(booking_v1()),
            json!({"BookingRequested": {"id": "b1", "details": {
                "client": {"unsealed": {"kid": kid, "value":
                    {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+12125550142"}}},
                "notes": {"unsealed": {"kid": kid, "value": "fixture"}},
                "price_cents": 9500, "currency": "USD"}}})
        );
    }

    #[test]
    fn booking_requested_v1_without_notes_keeps_null() {
        let mut v1 = booking_v1();
        v1["BookingRequested"]["details"]["notes"] = Value::Null;
        let v2 = upcast_booking_requested_v1(v1);
        assert_eq!(v2["BookingRequested"]["details"]["notes"], Value::Null);
        assert_eq!(
            v2["BookingRequested"]["details"]["client"]["unsealed"]["kid"],
            json!(ada_id())
        );
    }

    #[test]
    fn client_registered_and_updated_v1_become_v2_envelopes() {
        let details =
            json!({"name": "Ada", "email": "ada@example.com", "phone": null, "notes": "x"});
        for (up, t) in [
            (
                upcast_client_registered_v1 as fn(Value) -> Value,
                "ClientRegistered",
            ),
            (upcast_client_updated_v1, "ClientUpdated"),
        ] {
            let v1 = json!({t: {"id": "c1", "details": details}});
            assert_eq!(
                up(v1),
                json!({t: {"id": "c1", "details": {"unsealed": {"kid": "c1", "value": details}}}})
            );
        }
    }

    #[test]
    fn waitlist_joined_v1_becomes_v2_envelope() {
        let client = json!({"name": "Ada", "email": "ada@example.com", "phone": "+1212"});
        let v1 = json!({"WaitlistJoined": {"date": "2027-01-02", "entry": {"id": "e1", "client": client}}});
        assert_eq!(
            upcast_waitlist_joined_v1(v1),
            json!({"WaitlistJoined": {"date": "2027-01-02", "entry": {"id": "e1",
                "client": {"unsealed": {"kid": ada_id(), "value": client}}}}})
        );
    }

    #[test]
    fn other_events_and_versions_are_left_alone() {
        let mut version = "1".to_string();
        let mut p = json!({"BookingConfirmed": {"id": "b1"}});
        upcast("BookingConfirmed", &mut version, &mut p);
        assert_eq!(
            (version.as_str(), p),
            ("1", json!({"BookingConfirmed": {"id": "b1"}}))
        );
        let mut version = "2".to_string();
        let mut p = booking_v1();
        upcast("BookingRequested", &mut version, &mut p);
        assert_eq!(p, booking_v1());
    }

    fn sealed_booking(key: &Key) -> Value {
        let mut p = booking_v1();
        let kid = sealing_kid("BookingRequested", &p).unwrap().unwrap();
        assert_eq!(kid, ada_id());
        seal("BookingRequested", &mut p, &kid, key).unwrap();
        p
    }

    #[test]
    fn sealed_values_hold_no_plaintext_and_open_with_the_key() {
        let key = new_key();
        let p = sealed_booking(&key);
        let text = p.to_string();
        for secret in ["Ada", "ada@example.com", "5550142", "fixture"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(
            p["BookingRequested"]["details"]["client"]["sealed"]["kid"],
            json!(ada_id())
        );
        assert_eq!(p["BookingRequested"]["details"]["price_cents"], json!(9500));
        let mut ring = KeyRing::default();
        ring.insert(ada_id(), Some(key), false);
        let mut opened = p.clone();
        open("BookingRequested", &mut opened, &ring);
        let mut expected = booking_v1();
        expected["BookingRequested"]["details"]["client_id"] = json!(ada_id());
        assert_eq!(opened, expected);
        // Sealing again changes nothing (already envelopes).
        assert_eq!(sealing_kid("BookingRequested", &p).unwrap(), None);
    }

    #[test]
    fn without_the_key_or_with_another_the_client_reads_as_erased() {
        let p = sealed_booking(&new_key());
        for ring in [KeyRing::default(), {
            let mut r = KeyRing::default();
            r.insert(ada_id(), Some(new_key()), false);
            r
        }] {
            let mut opened = p.clone();
            open("BookingRequested", &mut opened, &ring);
            let d = &opened["BookingRequested"]["details"];
            assert_eq!(d["client"], erased_contact());
            assert_eq!(d["notes"], Value::Null);
            assert_eq!(d["client_id"], json!(ada_id()));
            assert_eq!(d["price_cents"], json!(9500));
        }
    }

    #[test]
    fn plain_version_1_values_are_redacted_for_forgotten_clients_only() {
        let mut version = "1".to_string();
        let mut p = booking_v1();
        upcast("BookingRequested", &mut version, &mut p);
        assert_eq!(version, "2");
        let mut kept = p.clone();
        open("BookingRequested", &mut kept, &KeyRing::default());
        assert_eq!(
            kept["BookingRequested"]["details"]["client"]["name"],
            "Ada Lovelace"
        );
        let mut ring = KeyRing::default();
        ring.insert(ada_id(), None, true);
        open("BookingRequested", &mut p, &ring);
        assert_eq!(p["BookingRequested"]["details"]["client"], erased_contact());
        assert!(!p.to_string().contains("Ada Lovelace"));
    }

    #[test]
    fn a_sealed_value_moved_to_another_client_does_not_open() {
        let key = new_key();
        let mut p = sealed_booking(&key);
        // Someone relabels the envelope with another client's id: the AAD no longer matches.
        p["BookingRequested"]["details"]["client"]["sealed"]["kid"] = json!("someone-else");
        let mut ring = KeyRing::default();
        ring.insert("someone-else".into(), Some(key), false);
        open("BookingRequested", &mut p, &ring);
        assert_eq!(p["BookingRequested"]["details"]["client"], erased_contact());
    }
}
