//! Credentials at rest: sealed with XChaCha20-Poly1305 under a key derived from
//! `SALON_SECRET_KEY`, so the event log (and any export of it) holds only ciphertext. The key
//! never leaves the process and is never logged; a sealed value names its format version.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

const PREFIX: &str = "v1:";
/// Shorter keys are refused: the key is the only thing between a stolen database and the
/// owner's calendar passwords.
pub const MIN_KEY_CHARS: usize = 32;

#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<key hidden>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("SALON_SECRET_KEY must be at least {MIN_KEY_CHARS} characters")]
    WeakKey,
    #[error("stored credentials are unreadable (wrong SALON_SECRET_KEY, or damaged)")]
    Unreadable,
}

impl Sealer {
    /// A sealer for `secret` (any string of at least 32 characters, e.g. 64 hex digits from
    /// `openssl rand -hex 32`); the cipher key is its SHA-256.
    pub fn new(secret: &str) -> Result<Self, SealError> {
        if secret.trim().chars().count() < MIN_KEY_CHARS {
            return Err(SealError::WeakKey);
        }
        let key = Sha256::digest(secret.trim().as_bytes());
        let cipher = XChaCha20Poly1305::new_from_slice(&key).map_err(|_| SealError::WeakKey)?;
        Ok(Self { cipher })
    }

    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce cannot fail for in-memory input.
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{PREFIX}{}", hex::encode(bytes))
    }

    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let raw = sealed
            .strip_prefix(PREFIX)
            .and_then(|h| hex::decode(h).ok())
            .ok_or(SealError::Unreadable)?;
        if raw.len() < 24 + 16 {
            return Err(SealError::Unreadable);
        }
        let (nonce, body) = raw.split_at(24);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), body)
            .map_err(|_| SealError::Unreadable)?;
        String::from_utf8(plain).map_err(|_| SealError::Unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_key_and_tampering() {
        let a = Sealer::new("0123456789abcdef0123456789abcdef").unwrap();
        let b = Sealer::new("fedcba9876543210fedcba9876543210").unwrap();
        let sealed = a.seal("app-specific password");
        assert!(!sealed.contains("password"));
        assert_ne!(
            sealed,
            a.seal("app-specific password"),
            "fresh nonce each time"
        );
        assert_eq!(a.open(&sealed).unwrap(), "app-specific password");
        assert_eq!(b.open(&sealed), Err(SealError::Unreadable));
        let mut tampered = sealed.clone();
        tampered.replace_range(sealed.len() - 2.., "00");
        assert_eq!(a.open(&tampered), Err(SealError::Unreadable));
        assert_eq!(a.open("plain"), Err(SealError::Unreadable));
        assert_eq!(Sealer::new("short").unwrap_err(), SealError::WeakKey);
        assert_eq!(format!("{a:?}"), "Sealer(<key hidden>)");
    }
}
