//! Password hashing with argon2id on the blocking pool. Unknown users are checked
//! against a dummy hash so a refusal takes the same time either way.

use std::sync::OnceLock;

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use crate::error::AppError;

fn hasher() -> Argon2<'static> {
    // argon2id, 19 MiB, 2 passes, 1 lane: OWASP's recommended minimum.
    Argon2::default()
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hasher()
            .hash_password(b"not-a-real-password", &SaltString::generate(&mut OsRng))
            .expect("hashing the dummy password")
            .to_string()
    })
}

pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(AppError::Internal)
}

/// Checks `password` against `stored`, or against the dummy hash when there is
/// no stored hash (unknown user): same work, always `false`.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| dummy_hash().to_string());
        let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        Ok(hasher().verify_password(password.as_bytes(), &parsed).is_ok() && known)
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(AppError::Internal)
}

/// Italian message for a password that is too weak, or `None` when acceptable.
pub fn weakness(password: &str, email: &str) -> Option<&'static str> {
    let chars = password.chars().count();
    if chars < 10 {
        return Some("validation.password_short");
    }
    if chars > 128 {
        return Some("validation.password_long");
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|c| **c).count() < 3 {
        return Some("validation.password_classes");
    }
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if local.len() >= 4 && password.to_lowercase().contains(&local) {
        return Some("validation.password_contains_email");
    }
    None
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_verify_and_unknown_users_fail() {
        let h = super::hash("Corretto-Cavallo-9".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("Corretto-Cavallo-9".into(), Some(h.clone())).await.unwrap());
        assert!(!super::verify("sbagliata".into(), Some(h)).await.unwrap());
        assert!(!super::verify("not-a-real-password".into(), None).await.unwrap());
    }

    #[test]
    fn weak_passwords_are_named() {
        assert_eq!(super::weakness("corta", "a@b.it"), Some("validation.password_short"));
        assert_eq!(super::weakness("tuttominuscolo", "a@b.it"), Some("validation.password_classes"));
        assert_eq!(super::weakness("Mario.Rossi-2026", "mario.rossi@x.it"), Some("validation.password_contains_email"));
        assert_eq!(super::weakness("Corretto-Cavallo-9", "a@b.it"), None);
    }
}
