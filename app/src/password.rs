//! Password hashing with Argon2id, off the async runtime and behind a limit of concurrent hashes,
//! so a flood of sign-ins queues instead of exhausting memory (each hash holds 19 MiB).

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// OWASP Password Storage Cheat Sheet: Argon2id, m = 19456 KiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

/// Argon2id with Portal's parameters (the benchmark measures its floor with the same).
pub fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .expect("OWASP's Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Verified against when the username is unknown, so that costs what a wrong password costs.
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// `concurrency` hashes may run at once (one per core is the default).
    pub fn new(concurrency: usize) -> Self {
        let dummy_hash = hash_blocking(&SecretString::from("portal dummy password"))
            .expect("hashing a constant password succeeds");
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy_hash.into(),
        }
    }

    pub async fn hash(&self, password: SecretString) -> Result<String, AppError> {
        self.run(move || hash_blocking(&password)).await
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown user) the dummy hash is
    /// verified all the same and the answer is no.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<bool, AppError> {
        let known = stored.is_some();
        let hash: Arc<str> = stored
            .map(Into::into)
            .unwrap_or_else(|| self.dummy_hash.clone());
        let matches = self
            .run(move || Ok(verify_blocking(&password, &hash)))
            .await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(AppError::internal)?
    }
}

fn hash_blocking(password: &SecretString) -> Result<String, AppError> {
    argon2()
        .hash_password(password.expose_secret().as_bytes())
        .map(|hash| hash.to_string())
        .map_err(AppError::internal)
}

fn verify_blocking(password: &SecretString, hash: &str) -> bool {
    argon2()
        .verify_password(password.expose_secret().as_bytes(), hash)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let passwords = Passwords::new(2);
        let hash = passwords.hash("correct horse".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            passwords
                .verify("correct horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("wrong horse".into(), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn two_hashes_of_one_password_differ_by_their_salt() {
        let passwords = Passwords::new(1);
        let first = passwords.hash("same password".into()).await.unwrap();
        let second = passwords.hash("same password".into()).await.unwrap();
        assert_ne!(first, second);
    }

    #[tokio::test]
    async fn an_unknown_user_is_refused_even_with_the_dummy_password() {
        let passwords = Passwords::new(1);
        assert!(
            !passwords
                .verify("portal dummy password".into(), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_is_a_refusal_not_a_panic() {
        let passwords = Passwords::new(1);
        assert!(
            !passwords
                .verify("x".into(), Some("not a hash".into()))
                .await
                .unwrap()
        );
    }
}
