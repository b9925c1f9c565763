//! Password hashing with Argon2id, off the async runtime and behind a limit of concurrent hashes,
//! so a flood of sign-ins queues instead of exhausting memory (each hash holds 19 MiB).

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher as _, Version};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
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
    /// One Argon2 work area a permit, allocated once and reused: no 19 MiB allocation (and its
    /// page faults) per sign-in, and memory bounded by the number of permits.
    workspaces: Arc<std::sync::Mutex<Vec<Vec<Block>>>>,
    /// Verified against when the username is unknown, so that costs what a wrong password costs.
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// `concurrency` hashes may run at once (one per core is the default).
    pub fn new(concurrency: usize) -> Self {
        let dummy_hash = hash_blocking(&SecretString::from("portal dummy password"))
            .expect("hashing a constant password succeeds");
        let blocks = argon2().params().block_count();
        let workspaces = (0..concurrency.max(1))
            .map(|_| vec![Block::default(); blocks])
            .collect();
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            workspaces: Arc::new(std::sync::Mutex::new(workspaces)),
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
        let _permit = self.permits.acquire().await?;
        let mut workspace = self
            .workspaces
            .lock()
            .map_err(AppError::internal)?
            .pop()
            .unwrap_or_default();
        let (matches, workspace) = tokio::task::spawn_blocking(move || {
            let matches = verify_in(&password, &hash, &mut workspace);
            (matches, workspace)
        })
        .await?;
        self.workspaces
            .lock()
            .map_err(AppError::internal)?
            .push(workspace);
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self.permits.acquire().await?;
        tokio::task::spawn_blocking(work).await?
    }
}

fn hash_blocking(password: &SecretString) -> Result<String, AppError> {
    argon2()
        .hash_password(password.expose_secret().as_bytes())
        .map(|hash| hash.to_string())
        .map_err(AppError::internal)
}

/// Verifies against a PHC string in `workspace`, grown if the hash asks for more memory than
/// Portal's parameters (a hash made under older parameters).
fn verify_in(password: &SecretString, hash: &str, workspace: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let Some(version) = hash
        .version
        .and_then(|version| Version::try_from(version).ok())
    else {
        return false;
    };
    if hash.algorithm != argon2::ARGON2ID_IDENT {
        return false;
    }
    let blocks = params.block_count();
    if workspace.len() < blocks {
        workspace.resize(blocks, Block::default());
    }
    let mut output = vec![0u8; expected.as_ref().len()];
    let computed = Argon2::new(Algorithm::Argon2id, version, params)
        .hash_password_into_with_memory(
            password.expose_secret().as_bytes(),
            salt.as_ref(),
            &mut output,
            &mut workspace[..blocks],
        );
    computed.is_ok() && bool::from(output.ct_eq(expected.as_ref()))
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
    async fn a_hash_made_under_other_parameters_still_verifies() {
        use argon2::PasswordHasher as _;
        let older = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(65_536, 3, 1, None).unwrap(),
        );
        let hash = older.hash_password(b"old password").unwrap().to_string();
        let passwords = Passwords::new(1);
        assert!(
            passwords
                .verify("old password".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(!passwords.verify("other".into(), Some(hash)).await.unwrap());
        // The work area grew for it and is reused.
        assert!(passwords.verify("x".into(), None).await.is_ok());
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
