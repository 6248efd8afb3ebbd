//! argon2id at the OWASP parameters, off the async runtime and with bounded
//! concurrency: a login storm queues on the semaphore instead of starving
//! health checks and cheap RPCs such as ValidateSession.

use std::sync::Arc;

use anyhow::Context as _;
use argon2::{Algorithm, Argon2, PasswordHasher as _, PasswordVerifier as _, Version};
use tokio::sync::Semaphore;

use super::cost::{self, Argon2Ceiling};
use super::legacy::{LegacyHash, LegacyKey};
use crate::metrics::PasswordHashMetrics;

/// What is stored for an account's password.
#[derive(Debug, Clone)]
pub enum StoredPassword {
    /// An argon2id PHC string.
    Argon2(String),
    /// An imported legacy hash, wrapped.
    Legacy(LegacyHash),
    /// No usable password (unknown email, imported without a hash).
    None,
}

/// The outcome of checking a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// The password matches; `upgraded` is the policy argon2id hash that
    /// replaces a legacy one or an argon2 hash at other parameters.
    Valid {
        upgraded: Option<String>,
    },
    Invalid,
}

/// The shared hashing pool.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Verified when there is nothing to verify, so an unknown email costs
    /// what a wrong password costs.
    dummy_hash: Arc<str>,
    legacy_key: LegacyKey,
    ceiling: Argon2Ceiling,
    /// Jobs waiting and running, and how long each took.
    metrics: PasswordHashMetrics,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PasswordHasher { .. }")
    }
}

fn argon2() -> anyhow::Result<Argon2<'static>> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        cost::policy_params()?,
    ))
}

fn hash_blocking(password: &[u8]) -> anyhow::Result<String> {
    let hash = argon2()?
        .hash_password(password)
        .map_err(|error| anyhow::anyhow!("argon2id hashing failed: {error}"))?;
    Ok(hash.to_string())
}

/// True when `password` matches the PHC string; a malformed string is a
/// mismatch (it cannot be anyone's password).
fn verify_blocking(password: &[u8], phc: &str) -> bool {
    argon2().is_ok_and(|argon2| argon2.verify_password(password, phc).is_ok())
}

impl PasswordHasher {
    /// `concurrency` 0 means one permit per CPU core. `ceiling` bounds the
    /// argon2 hashes this service did not compute.
    pub fn new(
        concurrency: usize,
        legacy_key: LegacyKey,
        ceiling: Argon2Ceiling,
        metrics: PasswordHashMetrics,
    ) -> anyhow::Result<Self> {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        } else {
            concurrency
        };
        let dummy_hash = hash_blocking(b"candor dummy password, never valid")?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            dummy_hash: dummy_hash.into(),
            legacy_key,
            ceiling,
            metrics,
        })
    }

    /// The key that wraps legacy hashes at import.
    pub fn legacy_key(&self) -> &LegacyKey {
        &self.legacy_key
    }

    /// The bound on argon2 hashes not computed here.
    pub fn ceiling(&self) -> Argon2Ceiling {
        self.ceiling
    }

    async fn run<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> anyhow::Result<T> + Send + 'static,
    {
        let waiting = self.metrics.waiting();
        let _permit = self
            .permits
            .acquire()
            .await
            .context("the hashing pool is closed")?;
        drop(waiting);
        let _running = self.metrics.running();
        let timer = self.metrics.time_job();
        tokio::task::spawn_blocking(move || {
            let _timer = timer;
            work()
        })
        .await
        .context("the hashing task failed")?
    }

    /// A fresh argon2id PHC string for a new password.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = password.as_bytes().to_vec();
        self.run(move || hash_blocking(&password)).await
    }

    /// Checks `password` against what is stored, at the same cost whatever
    /// is stored: one argon2id verification (or hash) every time.
    pub async fn verify(&self, password: &str, stored: StoredPassword) -> anyhow::Result<Verified> {
        let password = password.as_bytes().to_vec();
        let dummy = Arc::clone(&self.dummy_hash);
        let key = self.legacy_key.clone();
        let ceiling = self.ceiling;
        self.run(move || match stored {
            StoredPassword::Argon2(phc) => {
                if let Err(reason) = ceiling.check(&phc) {
                    // Stored before the ceiling existed (or lowered since):
                    // never evaluated; the member resets the password.
                    tracing::warn!(%reason, "stored argon2 hash over the ceiling, not verified");
                    verify_blocking(&password, &dummy);
                    return Ok(Verified::Invalid);
                }
                if !verify_blocking(&password, &phc) {
                    return Ok(Verified::Invalid);
                }
                let upgraded = if cost::needs_rehash(&phc) {
                    Some(hash_blocking(&password)?)
                } else {
                    None
                };
                Ok(Verified::Valid { upgraded })
            }
            StoredPassword::Legacy(legacy) => {
                if key.verify(&legacy, &password) {
                    let upgraded = hash_blocking(&password)?;
                    Ok(Verified::Valid {
                        upgraded: Some(upgraded),
                    })
                } else {
                    verify_blocking(&password, &dummy);
                    Ok(Verified::Invalid)
                }
            }
            StoredPassword::None => {
                verify_blocking(&password, &dummy);
                Ok(Verified::Invalid)
            }
        })
        .await
    }

    /// Whether `password` equals the stored one, for "the new password may
    /// not equal the old one".
    pub async fn matches(&self, password: &str, stored: StoredPassword) -> anyhow::Result<bool> {
        Ok(matches!(
            self.verify(password, stored).await?,
            Verified::Valid { .. }
        ))
    }
}
