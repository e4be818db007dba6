//! Signed links for clients, who have no account: the link to manage (cancel, move, pay) a
//! booking carries a MAC of the booking id under a server key. The key derives from
//! `SALON_SECRET_KEY` when set; otherwise the server makes one and keeps it in the database
//! (`server_secrets`), so every server on the same store signs alike and links survive restarts.

use domain::ids::{BookingId, WaitlistEntryId};
use hmac::{Hmac, Mac};
use migrations::db::ReadDb;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Bytes of MAC in a link (128 bits).
const TAG_BYTES: usize = 16;

#[derive(Clone)]
pub struct LinkSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(***)")
    }
}

impl LinkSigner {
    pub fn from_secret(secret: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"salon client links\0");
        hasher.update(secret.as_bytes());
        Self {
            key: hasher.finalize().into(),
        }
    }

    /// The key kept in the store, made on first use.
    pub async fn from_store(db: &ReadDb) -> Result<Self, sqlx::Error> {
        let mut fresh = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut fresh);
        sqlx::query(
            "INSERT INTO server_secrets (name, value) VALUES ('links', $1) ON CONFLICT (name) DO NOTHING",
        )
        .bind(hex::encode(fresh))
        .execute(db.pool())
        .await?;
        let stored: String =
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = 'links'")
                .fetch_one(db.pool())
                .await?;
        Ok(Self::from_secret(&stored))
    }

    fn mac(&self, purpose: &str, id: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(id.as_bytes());
        mac
    }

    fn tag(&self, purpose: &str, id: &str) -> String {
        hex::encode(&self.mac(purpose, id).finalize().into_bytes()[..TAG_BYTES])
    }

    fn check(&self, purpose: &str, id: &str, token: &str) -> bool {
        match hex::decode(token.trim()) {
            Ok(tag) if tag.len() == TAG_BYTES => {
                self.mac(purpose, id).verify_truncated_left(&tag).is_ok()
            }
            _ => false,
        }
    }

    /// The token that lets its holder manage `booking`.
    pub fn sign(&self, booking: BookingId) -> String {
        self.tag("manage", &booking.to_string())
    }

    /// Does `token` belong to `booking`? (Constant time.)
    pub fn verify(&self, booking: BookingId, token: &str) -> bool {
        self.check("manage", &booking.to_string(), token)
    }

    /// The token that lets a waiting client leave the waitlist.
    pub fn sign_waitlist(&self, entry: WaitlistEntryId) -> String {
        self.tag("waitlist", &entry.to_string())
    }

    pub fn verify_waitlist(&self, entry: WaitlistEntryId, token: &str) -> bool {
        self.check("waitlist", &entry.to_string(), token)
    }

    /// The token that lets the client of a completed `booking` review it (one review per
    /// booking). A purpose of its own: a manage link cannot post a review, nor the reverse.
    pub fn sign_review(&self, booking: BookingId) -> String {
        self.tag("review", &booking.to_string())
    }

    pub fn verify_review(&self, booking: BookingId, token: &str) -> bool {
        self.check("review", &booking.to_string(), token)
    }

    /// The booking site's page where the client reviews `booking`.
    pub fn review_url(&self, public_url: &str, booking: BookingId) -> String {
        format!(
            "{}/?review={booking}&token={}",
            public_url.trim_end_matches('/'),
            self.sign_review(booking)
        )
    }

    /// The client's page for `booking` on the booking site.
    pub fn manage_url(&self, public_url: &str, booking: BookingId) -> String {
        format!(
            "{}/?manage={booking}&token={}",
            public_url.trim_end_matches('/'),
            self.sign(booking)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_token_opens_its_own_booking_only() {
        let signer = LinkSigner::from_secret("a long enough secret for the tests here");
        let (a, b) = (
            BookingId::from_uuid(Uuid::from_u128(1)),
            BookingId::from_uuid(Uuid::from_u128(2)),
        );
        let token = signer.sign(a);
        assert_eq!(token.len(), 32);
        assert!(signer.verify(a, &token));
        assert!(!signer.verify(b, &token));
        assert!(!signer.verify(a, &token[..30]));
        assert!(!signer.verify(a, "not hex at all"));
        let other = LinkSigner::from_secret("another secret of the same sort, longer");
        assert!(!other.verify(a, &token));
        // A booking's token is not a waitlist token for the same id, and the reverse.
        let entry = WaitlistEntryId::from_uuid(Uuid::from_u128(1));
        assert!(!signer.verify_waitlist(entry, &token));
        assert!(signer.verify_waitlist(entry, &signer.sign_waitlist(entry)));
        assert!(!signer.verify(a, &signer.sign_waitlist(entry)));
        // Nor is a review token a manage token.
        assert!(signer.verify_review(a, &signer.sign_review(a)));
        assert!(!signer.verify_review(a, &token));
        assert!(!signer.verify(a, &signer.sign_review(a)));
        assert!(!signer.verify_review(b, &signer.sign_review(a)));
        assert!(signer
            .manage_url("https://salon.example/", a)
            .starts_with("https://salon.example/?manage="));
    }
}
