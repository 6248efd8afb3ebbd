//! What a password hash may cost. Hashes this service computes use the
//! policy below; hashes it did not compute (imported ones) carry whatever
//! parameters the old system chose, and one login against an imported
//! `m=1048576` argon2 hash would hold a hashing slot and a GiB of memory.
//! So imported parameters are bounded at import (the row is rejected), a
//! stored hash over the bounds is never evaluated at login, and a hash
//! weaker (or merely other) than the policy is replaced by a policy hash at
//! the next successful login.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Params, Version};

/// The argon2id policy (OWASP: m = 19 MiB, t = 2, p = 1).
pub const POLICY_MEMORY_KIB: u32 = 19_456;
/// See [`POLICY_MEMORY_KIB`].
pub const POLICY_ITERATIONS: u32 = 2;
/// See [`POLICY_MEMORY_KIB`].
pub const POLICY_PARALLELISM: u32 = 1;

/// Highest bcrypt cost accepted at import: 2^14 rounds take about a second
/// of one core, the most a login may cost.
pub const BCRYPT_MAX_COST: u32 = 14;

/// The most an argon2 hash not computed here may cost
/// (`ARGON2_MAX_MEMORY_KIB`, `ARGON2_MAX_ITERATIONS`, `ARGON2_MAX_PARALLELISM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Ceiling {
    /// Memory, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Ceiling {
    /// OWASP's most memory-hungry recommended setting (m = 46 MiB, t = 1)
    /// and its cheapest-memory one (t = 5) bound memory and passes; one lane.
    fn default() -> Self {
        Self {
            memory_kib: 47_104,
            iterations: 5,
            parallelism: 1,
        }
    }
}

/// Why an argon2 hash is over the ceiling; the text follows "password_hash.hash: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostRejected {
    #[error("argon2 memory m={actual} KiB is above the ceiling of {max} KiB")]
    Memory { actual: u32, max: u32 },
    #[error("argon2 iterations t={actual} are above the ceiling of {max}")]
    Iterations { actual: u32, max: u32 },
    #[error("argon2 parallelism p={actual} is above the ceiling of {max}")]
    Parallelism { actual: u32, max: u32 },
    #[error("bcrypt cost {actual} is above the ceiling of {BCRYPT_MAX_COST}")]
    Bcrypt { actual: u32 },
    #[error("not an argon2 PHC string with valid parameters")]
    Unreadable,
}

impl Argon2Ceiling {
    /// The parameters of `phc` if they are within the ceiling.
    pub fn check(&self, phc: &str) -> Result<Params, CostRejected> {
        let parsed = PasswordHash::new(phc).map_err(|_| CostRejected::Unreadable)?;
        let params = Params::try_from(&parsed).map_err(|_| CostRejected::Unreadable)?;
        if params.m_cost() > self.memory_kib {
            return Err(CostRejected::Memory {
                actual: params.m_cost(),
                max: self.memory_kib,
            });
        }
        if params.t_cost() > self.iterations {
            return Err(CostRejected::Iterations {
                actual: params.t_cost(),
                max: self.iterations,
            });
        }
        if params.p_cost() > self.parallelism {
            return Err(CostRejected::Parallelism {
                actual: params.p_cost(),
                max: self.parallelism,
            });
        }
        Ok(params)
    }
}

/// Checks a bcrypt cost against [`BCRYPT_MAX_COST`].
pub fn check_bcrypt_cost(cost: u32) -> Result<(), CostRejected> {
    if cost > BCRYPT_MAX_COST {
        return Err(CostRejected::Bcrypt { actual: cost });
    }
    Ok(())
}

/// The policy's parameters.
pub fn policy_params() -> anyhow::Result<Params> {
    Params::new(
        POLICY_MEMORY_KIB,
        POLICY_ITERATIONS,
        POLICY_PARALLELISM,
        None,
    )
    .map_err(|error| anyhow::anyhow!("argon2 parameters: {error}"))
}

/// Whether a stored PHC string is anything but an argon2id v0x13 hash at
/// exactly the policy's parameters (weaker, stronger within the ceiling, or
/// another variant): such a hash is replaced after a successful login.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    let algorithm_is_policy = parsed.algorithm.as_str() == Algorithm::Argon2id.as_str();
    let version_is_policy = parsed
        .version
        .is_none_or(|version| version == Version::V0x13 as u32);
    !(algorithm_is_policy
        && version_is_policy
        && params.m_cost() == POLICY_MEMORY_KIB
        && params.t_cost() == POLICY_ITERATIONS
        && params.p_cost() == POLICY_PARALLELISM)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{Argon2, PasswordHasher as _};

    fn hash_with(memory_kib: u32, iterations: u32, parallelism: u32) -> String {
        let params = Params::new(memory_kib, iterations, parallelism, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"correct horse")
            .unwrap()
            .to_string()
    }

    #[test]
    fn the_ceiling_bounds_each_parameter() {
        let ceiling = Argon2Ceiling::default();
        assert!(ceiling.check(&hash_with(19_456, 2, 1)).is_ok());
        let costly = "$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHQxMjM0$\
                      MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
        assert_eq!(
            ceiling.check(costly),
            Err(CostRejected::Memory {
                actual: 1_048_576,
                max: 47_104
            })
        );
        let slow = "$argon2id$v=19$m=8192,t=50,p=1$c29tZXNhbHQxMjM0$\
                    MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
        assert!(matches!(
            ceiling.check(slow),
            Err(CostRejected::Iterations { actual: 50, .. })
        ));
        let wide = "$argon2id$v=19$m=8192,t=2,p=8$c29tZXNhbHQxMjM0$\
                    MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
        assert!(matches!(
            ceiling.check(wide),
            Err(CostRejected::Parallelism { actual: 8, .. })
        ));
        assert_eq!(check_bcrypt_cost(14), Ok(()));
        assert_eq!(
            check_bcrypt_cost(15),
            Err(CostRejected::Bcrypt { actual: 15 })
        );
    }

    #[test]
    fn only_policy_hashes_are_kept() {
        assert!(!needs_rehash(&hash_with(19_456, 2, 1)));
        assert!(needs_rehash(&hash_with(4096, 1, 1)), "weaker");
        assert!(needs_rehash(&hash_with(19_456, 3, 1)), "other");
        assert!(needs_rehash("not a hash"));
    }
}
