//! The password policy (NIST SP 800-63B): length in bytes, not a common or
//! breached password (the bundled corpus of 100,000, then optionally the
//! Pwned Passwords range API), not containing the email's local part. No
//! composition rules: they make passwords harder to remember, not harder to
//! guess.

use std::collections::HashSet;
use std::time::Duration;

use super::corpus;
use super::pwned::PwnedRange;

/// Shortest accepted password, in bytes.
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Longest accepted password, in bytes (bounds the hashing input).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The policy with its optional range API, shared by the RPCs that set a
/// password.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    range: Option<PwnedRange>,
}

impl PasswordPolicy {
    /// Loads the bundled corpus (so a damaged one stops the service at
    /// start) and configures the range API when `pwned_passwords_url` is set.
    pub fn new(pwned_passwords_url: Option<&str>, timeout: Duration) -> anyhow::Result<Self> {
        let entries = corpus::preload()?;
        tracing::debug!(entries, "common-password corpus loaded");
        Ok(Self {
            range: pwned_passwords_url.map(|url| PwnedRange::new(url, timeout)),
        })
    }

    /// [`check_new_password`], then the range API if one is configured.
    pub async fn check(
        &self,
        password: &str,
        email_local_part: Option<&str>,
    ) -> Result<(), PasswordRejected> {
        check_new_password(password, email_local_part)?;
        if let Some(range) = &self.range
            && range.seen(password).await
        {
            return Err(PasswordRejected::Breached);
        }
        Ok(())
    }
}

/// Why a new password is refused; the text is sent after "<field>: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    #[error("must be {MIN_PASSWORD_BYTES}..={MAX_PASSWORD_BYTES} bytes")]
    Length,
    #[error("is a commonly used password; choose a less common one")]
    Common,
    #[error("appears in a known data breach; choose another one")]
    Breached,
    #[error("must not contain the email address")]
    ContainsEmail,
    #[error("is too repetitive; choose a less predictable one")]
    Repetitive,
}

/// Checks a new password against the policy. `email_local_part` is the part
/// before '@' of the account's address, when it has one.
pub fn check_new_password(
    password: &str,
    email_local_part: Option<&str>,
) -> Result<(), PasswordRejected> {
    if !(MIN_PASSWORD_BYTES..=MAX_PASSWORD_BYTES).contains(&password.len()) {
        return Err(PasswordRejected::Length);
    }
    let lowered = password.to_lowercase();
    if corpus::contains(&lowered) {
        return Err(PasswordRejected::Common);
    }
    let distinct: HashSet<char> = lowered.chars().collect();
    if distinct.len() < 3 {
        return Err(PasswordRejected::Repetitive);
    }
    if let Some(local) = email_local_part {
        let local = local.to_lowercase();
        if local.chars().count() >= 3 && lowered.contains(&local) {
            return Err(PasswordRejected::ContainsEmail);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_accepts_a_passphrase_and_refuses_weak_ones() {
        assert_eq!(
            check_new_password("correct horse battery", Some("ann")),
            Ok(())
        );
        assert_eq!(
            check_new_password("short", None),
            Err(PasswordRejected::Length)
        );
        assert_eq!(
            check_new_password("Password123", None),
            Err(PasswordRejected::Common)
        );
        assert_eq!(
            check_new_password("qwqwqqwwqwqw", None),
            Err(PasswordRejected::Repetitive)
        );
        assert_eq!(
            check_new_password("my-name-is-annabel!", Some("Annabel")),
            Err(PasswordRejected::ContainsEmail)
        );
        let long = "x".repeat(1025);
        assert_eq!(
            check_new_password(&long, None),
            Err(PasswordRejected::Length)
        );
    }
}
