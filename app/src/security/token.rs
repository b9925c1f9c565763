//! Tokens for emailed links: 256 random bits as 64 hex digits in the link, only their SHA-256
//! hash in the database (a copy of the database opens no link).

use sha2::{Digest, Sha256};

use super::crypto::random_bytes;

pub fn new_token() -> String {
    hex::encode(random_bytes::<32>())
}

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_256_bits_in_hex_and_never_repeats() {
        let (first, second) = (new_token(), new_token());
        assert_eq!(first.len(), 64);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(first, second);
    }

    #[test]
    fn the_hash_is_sha256_and_not_the_token() {
        let token = new_token();
        assert_eq!(hash(&token).len(), 32);
        assert_eq!(hash(&token), hash(&token));
        assert_ne!(hash(&token), token.as_bytes());
    }
}
