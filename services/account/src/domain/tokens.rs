//! Bearer secrets (session, password change, reset, deactivation tokens):
//! 256 random bits as 43 characters of unpadded base64url. Only their SHA-256
//! is stored, so a database leak yields no usable token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

/// A freshly issued token: the secret for the client, the hash for storage.
pub struct IssuedToken {
    pub secret: String,
    pub hash: Vec<u8>,
}

/// Issues a new random token.
pub fn issue() -> IssuedToken {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&secret);
    IssuedToken { secret, hash }
}

/// The stored form of a token.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_43_characters_and_distinct() {
        let first = super::issue();
        let second = super::issue();
        assert_eq!(first.secret.len(), 43);
        assert_ne!(first.secret, second.secret);
        assert_eq!(super::hash(&first.secret), first.hash);
    }
}
