//! Passwords: the policy for new ones, argon2id hashing, legacy imports.

pub mod hasher;
pub mod legacy;
pub mod policy;

pub use hasher::{PasswordHasher, StoredPassword, Verified};
pub use legacy::{ImportedPassword, LegacyHash, LegacyKey};
pub use policy::check_new_password;
