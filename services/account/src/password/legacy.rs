//! Imported legacy password hashes. They are never stored as received: the
//! legacy digest is wrapped with HMAC-SHA-256 under `LEGACY_HASH_KEY`, so a
//! stolen database alone does not give an attacker crackable SHA-1 or MD5
//! digests. At the member's next successful login the password is hashed
//! with argon2id and the wrapped hash is dropped.

use candor_proto::account::v1::LegacyHashAlgorithm;

use super::cost::{Argon2Ceiling, CostRejected, check_bcrypt_cost};
use hmac::{Hmac, Mac};
use md5::Md5;
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Longest legacy salt accepted, in characters.
const MAX_SALT_CHARS: usize = 256;
/// Longest hash string accepted (a PHC string is about 100).
const MAX_HASH_CHARS: usize = 512;
/// Length of the digest part of a bcrypt string (after "$2b$NN$" and the salt).
const BCRYPT_DIGEST_CHARS: usize = 31;
const BCRYPT_SALT_CHARS: usize = 22;

/// A wrapped legacy hash as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyHash {
    pub algorithm: i16,
    /// The salt as the old site stored it; for bcrypt "<cost>$<salt>".
    pub salt: String,
    /// Hex HMAC-SHA-256 of the legacy digest.
    pub wrapped: String,
}

/// What an import record's hash becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportedPassword {
    Legacy(LegacyHash),
    /// An argon2id PHC string, kept as is.
    Argon2(String),
}

/// Why a legacy hash cannot be imported; the text names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LegacyHashError {
    #[error("password_hash.algorithm: unknown or unspecified")]
    UnknownAlgorithm,
    #[error("password_hash.{field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    /// Parameters above the configured ceiling (argon2) or cost 14 (bcrypt).
    #[error("password_hash.hash: {0}")]
    TooCostly(CostRejected),
}

fn invalid(field: &'static str, reason: &'static str) -> LegacyHashError {
    LegacyHashError::Invalid { field, reason }
}

/// The server-side wrapping key.
#[derive(Clone)]
pub struct LegacyKey {
    key: SecretString,
}

impl std::fmt::Debug for LegacyKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("LegacyKey { .. }")
    }
}

impl LegacyKey {
    pub fn new(key: SecretString) -> Self {
        Self { key }
    }

    /// HMAC over the algorithm number and the digest, so a digest of one
    /// algorithm never verifies as another.
    fn mac(&self, algorithm: i16, digest: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this never fails; an empty
        // result would match nothing (fail closed).
        let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(self.key.expose_secret().as_bytes())
        else {
            return Vec::new();
        };
        mac.update(&algorithm.to_be_bytes());
        mac.update(digest);
        mac.finalize().into_bytes().to_vec()
    }

    /// Validates an import record's hash (argon2 parameters within
    /// `ceiling`, bcrypt cost at most 14) and wraps it.
    pub fn wrap_import(
        &self,
        algorithm: i32,
        salt: &str,
        hash: &str,
        ceiling: &Argon2Ceiling,
    ) -> Result<ImportedPassword, LegacyHashError> {
        if hash.len() > MAX_HASH_CHARS {
            return Err(invalid("hash", "must be at most 512 characters"));
        }
        let algorithm = LegacyHashAlgorithm::try_from(algorithm)
            .map_err(|_| LegacyHashError::UnknownAlgorithm)?;
        if salt.chars().count() > MAX_SALT_CHARS {
            return Err(invalid("salt", "must be at most 256 characters"));
        }
        let code = algorithm as i16;
        match algorithm {
            LegacyHashAlgorithm::Unspecified => Err(LegacyHashError::UnknownAlgorithm),
            LegacyHashAlgorithm::SaltedSha1 | LegacyHashAlgorithm::SaltedMd5 => {
                if salt.is_empty() {
                    return Err(invalid("salt", "required for salted algorithms"));
                }
                let digits = if algorithm == LegacyHashAlgorithm::SaltedSha1 {
                    40
                } else {
                    32
                };
                let digest = decode_hex(hash, digits)?;
                Ok(self.legacy(code, salt.to_owned(), &digest))
            }
            LegacyHashAlgorithm::Md5 => {
                if !salt.is_empty() {
                    return Err(invalid("salt", "must be empty for unsalted MD5"));
                }
                let digest = decode_hex(hash, 32)?;
                Ok(self.legacy(code, String::new(), &digest))
            }
            LegacyHashAlgorithm::Bcrypt => {
                if !salt.is_empty() {
                    return Err(invalid("salt", "must be empty for bcrypt (it is embedded)"));
                }
                let parts: bcrypt::HashParts = hash
                    .parse()
                    .map_err(|_| invalid("hash", "not a bcrypt modular-crypt string"))?;
                let valid_prefix = ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p));
                if hash.len() != 60 || !valid_prefix {
                    return Err(invalid("hash", "not a 60-character $2a$/$2b$/$2y$ string"));
                }
                check_bcrypt_cost(parts.get_cost()).map_err(LegacyHashError::TooCostly)?;
                let digest = &hash[hash.len() - BCRYPT_DIGEST_CHARS..];
                let stored_salt = format!("{}${}", parts.get_cost(), parts.get_salt());
                Ok(self.legacy(code, stored_salt, digest.as_bytes()))
            }
            LegacyHashAlgorithm::Argon2id => {
                let parsed = argon2::password_hash::phc::PasswordHash::new(hash)
                    .map_err(|_| invalid("hash", "not an argon2id PHC string"))?;
                if parsed.algorithm.as_str() != "argon2id" {
                    return Err(invalid("hash", "not an argon2id PHC string"));
                }
                if !salt.is_empty() {
                    return Err(invalid(
                        "salt",
                        "must be empty for argon2id (it is embedded)",
                    ));
                }
                ceiling.check(hash).map_err(|reason| match reason {
                    CostRejected::Unreadable => invalid("hash", "not an argon2id PHC string"),
                    too_costly => LegacyHashError::TooCostly(too_costly),
                })?;
                Ok(ImportedPassword::Argon2(hash.to_owned()))
            }
        }
    }

    fn legacy(&self, algorithm: i16, salt: String, digest: &[u8]) -> ImportedPassword {
        ImportedPassword::Legacy(LegacyHash {
            algorithm,
            salt,
            wrapped: hex::encode(self.mac(algorithm, digest)),
        })
    }

    /// Recomputes the legacy digest of `password` and compares its wrapping
    /// in constant time. Blocking (bcrypt): call from the hashing pool.
    pub fn verify(&self, stored: &LegacyHash, password: &[u8]) -> bool {
        let Some(digest) = legacy_digest(stored, password) else {
            return false;
        };
        let Ok(expected) = hex::decode(&stored.wrapped) else {
            return false;
        };
        self.mac(stored.algorithm, &digest).ct_eq(&expected).into()
    }
}

fn legacy_digest(stored: &LegacyHash, password: &[u8]) -> Option<Vec<u8>> {
    let algorithm = LegacyHashAlgorithm::try_from(i32::from(stored.algorithm)).ok()?;
    let salted = |password: &[u8]| [stored.salt.as_bytes(), password].concat();
    match algorithm {
        LegacyHashAlgorithm::SaltedSha1 => Some(Sha1::digest(salted(password)).to_vec()),
        LegacyHashAlgorithm::SaltedMd5 => Some(Md5::digest(salted(password)).to_vec()),
        LegacyHashAlgorithm::Md5 => Some(Md5::digest(password).to_vec()),
        LegacyHashAlgorithm::Bcrypt => {
            let (cost, salt) = stored.salt.split_once('$')?;
            if salt.len() != BCRYPT_SALT_CHARS {
                return None;
            }
            let cost: u32 = cost.parse().ok()?;
            // Imported before the bound existed: never evaluated.
            check_bcrypt_cost(cost).ok()?;
            let salt_bytes: [u8; 16] = bcrypt_salt(salt)?;
            let parts = bcrypt::hash_with_salt(password, cost, salt_bytes).ok()?;
            let formatted = parts.format_for_version(bcrypt::Version::TwoB);
            Some(formatted.as_bytes()[formatted.len() - BCRYPT_DIGEST_CHARS..].to_vec())
        }
        LegacyHashAlgorithm::Unspecified | LegacyHashAlgorithm::Argon2id => None,
    }
}

fn bcrypt_salt(salt: &str) -> Option<[u8; 16]> {
    use base64::Engine as _;
    bcrypt::BASE_64.decode(salt).ok()?.try_into().ok()
}

fn decode_hex(hash: &str, digits: usize) -> Result<Vec<u8>, LegacyHashError> {
    if hash.len() != digits {
        return Err(invalid("hash", "wrong number of hexadecimal digits"));
    }
    hex::decode(hash).map_err(|_| invalid("hash", "not hexadecimal"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LegacyKey {
        LegacyKey::new("unit-test-legacy-key-0123456789abcdef".into())
    }

    #[test]
    fn each_legacy_format_verifies_the_right_password_only() {
        let key = key();
        let sha1 = hex::encode(Sha1::digest(b"saltcorrect horse"));
        let md5_salted = hex::encode(Md5::digest(b"saltcorrect horse")).to_uppercase();
        let md5 = hex::encode(Md5::digest(b"correct horse"));
        let bcrypt = bcrypt::hash("correct horse", 4).unwrap();
        for (algorithm, salt, hash) in [
            (LegacyHashAlgorithm::SaltedSha1, "salt", sha1.as_str()),
            (LegacyHashAlgorithm::SaltedMd5, "salt", md5_salted.as_str()),
            (LegacyHashAlgorithm::Md5, "", md5.as_str()),
            (LegacyHashAlgorithm::Bcrypt, "", bcrypt.as_str()),
        ] {
            let ImportedPassword::Legacy(stored) = key
                .wrap_import(algorithm as i32, salt, hash, &Argon2Ceiling::default())
                .unwrap()
            else {
                panic!("{algorithm:?} must be wrapped");
            };
            assert!(
                !stored.wrapped.contains(&hash.to_lowercase()),
                "{algorithm:?} stored as received"
            );
            assert!(key.verify(&stored, b"correct horse"), "{algorithm:?}");
            assert!(!key.verify(&stored, b"wrong horse"), "{algorithm:?}");
            let other = LegacyKey::new("another-legacy-key-0123456789abcdefgh".into());
            assert!(
                !other.verify(&stored, b"correct horse"),
                "{algorithm:?} key ignored"
            );
        }
    }

    #[test]
    fn malformed_legacy_hashes_are_refused() {
        let key = key();
        assert_eq!(
            key.wrap_import(0, "", "x", &Argon2Ceiling::default()),
            Err(LegacyHashError::UnknownAlgorithm)
        );
        assert_eq!(
            key.wrap_import(99, "", "x", &Argon2Ceiling::default()),
            Err(LegacyHashError::UnknownAlgorithm)
        );
        assert!(
            key.wrap_import(1, "", &"a".repeat(40), &Argon2Ceiling::default())
                .is_err(),
            "salt required"
        );
        assert!(
            key.wrap_import(1, "s", &"g".repeat(40), &Argon2Ceiling::default())
                .is_err(),
            "not hex"
        );
        assert!(
            key.wrap_import(3, "", &"a".repeat(31), &Argon2Ceiling::default())
                .is_err(),
            "too short"
        );
        assert!(
            key.wrap_import(4, "", "$2b$10$short", &Argon2Ceiling::default())
                .is_err()
        );
        // A cost-4 hash relabelled as cost 15: the bound is checked before
        // anything is computed.
        let costly_bcrypt = bcrypt::hash("x", 4).unwrap().replacen("$04$", "$15$", 1);
        assert!(matches!(
            key.wrap_import(4, "", &costly_bcrypt, &Argon2Ceiling::default()),
            Err(LegacyHashError::TooCostly(CostRejected::Bcrypt {
                actual: 15
            }))
        ));
        let costly_argon2 = "$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHQxMjM0$\
                             MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
        assert!(matches!(
            key.wrap_import(5, "", costly_argon2, &Argon2Ceiling::default()),
            Err(LegacyHashError::TooCostly(CostRejected::Memory { .. }))
        ));
    }
}
