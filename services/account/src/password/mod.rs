//! Passwords: the policy for new ones, argon2id hashing, legacy imports.

pub mod corpus;
pub mod cost;
pub mod hasher;
pub mod legacy;
pub mod policy;
pub mod pwned;

pub use hasher::{PasswordHasher, StoredPassword, Verified};
pub use legacy::{ImportedPassword, LegacyHash, LegacyKey};
pub use policy::PasswordPolicy;
