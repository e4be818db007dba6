//! Owner accounts: an email, a name and an argon2id hash of the password, in `owner_accounts`
//! (migration 0009). Credentials are not business state: they stay out of the event log, so
//! no export or replay ever carries a hash. Hashing and checking run on the blocking pool
//! (argon2 is deliberately slow).

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use projections::ReadDb;
use sqlx::Row;

/// The shortest password an owner may choose.
pub const MIN_PASSWORD: usize = 10;

/// One owner account, without its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub email: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// An email as accounts keep it: trimmed and lower-cased, so logins do not depend on case.
pub fn normal_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn check_email(email: &str) -> Result<(), AccountError> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.starts_with('.'))
        && !email.contains(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(AccountError::Invalid(format!(
            "{email:?} is not an email address"
        )))
    }
}

/// An argon2id PHC string for `password` (a fresh random salt inside).
pub async fn hash_password(password: String) -> Result<String, AccountError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AccountError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| AccountError::Hash(e.to_string()))?
}

/// Does `password` match the stored PHC string? A malformed hash matches nothing.
pub async fn password_matches(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash no password matches, checked against when the email is unknown, so a wrong email
/// costs as long as a wrong password and timing does not tell which accounts exist.
fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        Argon2::default()
            .hash_password(crate::auth::random_token().as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Creates the account, or sets the name and password of the one with this email. Returns
/// whether it was created.
pub async fn upsert(
    db: &ReadDb,
    email: &str,
    name: &str,
    password: &str,
) -> Result<bool, AccountError> {
    let email = normal_email(email);
    check_email(&email)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AccountError::Invalid(
            "the name must be 1 to 100 characters".into(),
        ));
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(AccountError::Invalid(format!(
            "the password must be at least {MIN_PASSWORD} characters"
        )));
    }
    let hash = hash_password(password.to_string()).await?;
    let now = chrono::Utc::now().to_rfc3339();
    let updated = sqlx::query(
        "UPDATE owner_accounts SET name = $1, password_hash = $2, updated_at = $3 WHERE email = $4",
    )
    .bind(name.to_string())
    .bind(hash.clone())
    .bind(now.clone())
    .bind(email.clone())
    .execute(db.pool())
    .await?
    .rows_affected();
    if updated > 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO owner_accounts (email, name, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(email)
    .bind(name.to_string())
    .bind(hash)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(true)
}

/// The account when `email` and `password` match one; `None` otherwise (same cost either way).
pub async fn authenticate(
    db: &ReadDb,
    email: &str,
    password: &str,
) -> Result<Option<Account>, AccountError> {
    let email = normal_email(email);
    let row = sqlx::query("SELECT email, name, password_hash FROM owner_accounts WHERE email = $1")
        .bind(email)
        .fetch_optional(db.pool())
        .await?;
    let (account, stored) = match row {
        Some(r) => (
            Some(Account {
                email: r.try_get("email")?,
                name: r.try_get("name")?,
            }),
            r.try_get::<String, _>("password_hash")?,
        ),
        None => (None, decoy().to_string()),
    };
    let ok = password_matches(password.to_string(), stored).await;
    Ok(account.filter(|_| ok))
}

/// The account with this email.
pub async fn find(db: &ReadDb, email: &str) -> Result<Option<Account>, AccountError> {
    let row = sqlx::query("SELECT email, name FROM owner_accounts WHERE email = $1")
        .bind(normal_email(email))
        .fetch_optional(db.pool())
        .await?;
    Ok(match row {
        Some(r) => Some(Account {
            email: r.try_get("email")?,
            name: r.try_get("name")?,
        }),
        None => None,
    })
}

/// Every account, by email.
pub async fn list(db: &ReadDb) -> Result<Vec<Account>, AccountError> {
    let rows = sqlx::query("SELECT email, name FROM owner_accounts ORDER BY email")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Account {
                email: r.try_get("email")?,
                name: r.try_get("name")?,
            })
        })
        .collect()
}

/// How many accounts exist (none: the login page says how to make one).
pub async fn count(db: &ReadDb) -> Result<i64, AccountError> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM owner_accounts")
        .fetch_one(db.pool())
        .await?
        .try_get("n")?)
}

/// Removes an account and its sessions. Returns whether it existed.
pub async fn remove(db: &ReadDb, email: &str) -> Result<bool, AccountError> {
    let email = normal_email(email);
    let gone = sqlx::query("DELETE FROM owner_accounts WHERE email = $1")
        .bind(email.clone())
        .execute(db.pool())
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM web_sessions WHERE realm = 'admin' AND subject = $1")
        .bind(email)
        .execute(db.pool())
        .await?;
    Ok(gone > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_matches_its_password_only() {
        let h = hash_password("correct horse battery".into())
            .await
            .expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(password_matches("correct horse battery".into(), h.clone()).await);
        assert!(!password_matches("correct horse battery!".into(), h).await);
        assert!(!password_matches("x".into(), "not a hash".into()).await);
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normal_email("  Owner@Example.COM "), "owner@example.com");
        assert!(check_email("owner@example.com").is_ok());
        for bad in ["", "owner", "@example.com", "a@b", "a b@c.d"] {
            assert!(check_email(bad).is_err(), "{bad} accepted");
        }
    }
}
