//! Secrets at rest: AES-256-GCM under the server key, each sealed with the account it belongs to
//! as associated data, so a ciphertext copied to another account does not open.

use aes_gcm::{
    Aes256Gcm, Key, Nonce,
    aead::{Aead, KeyInit, Payload},
};

const NONCE_BYTES: usize = 12;

/// Fills an array from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes
}

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a sealed secret did not open: wrong key, wrong account or tampered")]
pub struct OpenError;

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
        }
    }

    /// A random 96-bit nonce, then the ciphertext and its tag.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce = random_bytes::<NONCE_BYTES>();
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("AES-GCM seals any message of this size");
        [nonce.as_slice(), &ciphertext].concat()
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_BYTES {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_context_only() {
        let sealed_box = SecretBox::new(&[7; 32]);
        let sealed = sealed_box.seal(b"totp secret", b"user:1");
        assert!(!sealed.windows(11).any(|w| w == b"totp secret"));
        assert_eq!(sealed_box.open(&sealed, b"user:1").unwrap(), b"totp secret");
        assert_eq!(sealed_box.open(&sealed, b"user:2"), Err(OpenError));
        assert_eq!(
            SecretBox::new(&[8; 32]).open(&sealed, b"user:1"),
            Err(OpenError)
        );
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let sealed_box = SecretBox::new(&[7; 32]);
        assert_ne!(sealed_box.seal(b"x", b""), sealed_box.seal(b"x", b""));
    }

    #[test]
    fn tampering_or_truncation_is_detected() {
        let sealed_box = SecretBox::new(&[7; 32]);
        let mut sealed = sealed_box.seal(b"secret", b"");
        *sealed.last_mut().unwrap() ^= 1;
        assert_eq!(sealed_box.open(&sealed, b""), Err(OpenError));
        assert_eq!(sealed_box.open(&sealed[..5], b""), Err(OpenError));
    }
}
