//! The password policy (NIST SP 800-63B): length in bytes, not a common or
//! breached password, not containing the email's local part. No composition
//! rules: they make passwords harder to remember, not harder to guess.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Shortest accepted password, in bytes.
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Longest accepted password, in bytes (bounds the hashing input).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The most common passwords of public breach corpora (lower case); a
/// password equal to one of them, ignoring case, is refused.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
});

/// Why a new password is refused; the text is sent after "<field>: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    #[error("must be {MIN_PASSWORD_BYTES}..={MAX_PASSWORD_BYTES} bytes")]
    Length,
    #[error("is a commonly used password; choose a less common one")]
    Common,
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
    if COMMON_PASSWORDS.contains(lowered.as_str()) {
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
            check_new_password("aaaaaaaaaa", None),
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
