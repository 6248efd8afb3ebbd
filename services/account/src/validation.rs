//! Field rules shared by several RPCs; errors name the field.

/// An email address rule broken; the text follows "<field>: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailRejected {
    #[error("must be 3..=254 characters")]
    Length,
    #[error("must contain exactly one '@' with text on both sides")]
    Shape,
    #[error("must not contain spaces or control characters")]
    Characters,
    #[error("domain must contain a dot-separated name")]
    Domain,
}

/// Trims and lower-cases the domain (the local part is kept as typed; the
/// uniqueness check is case-insensitive).
pub fn normalize_email(raw: &str) -> Result<String, EmailRejected> {
    let email = raw.trim();
    if !(3..=254).contains(&email.chars().count()) {
        return Err(EmailRejected::Length);
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(EmailRejected::Characters);
    }
    let (local, domain) = email.rsplit_once('@').ok_or(EmailRejected::Shape)?;
    if local.is_empty() || domain.is_empty() || local.contains('@') || local.len() > 64 {
        return Err(EmailRejected::Shape);
    }
    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Err(EmailRejected::Domain);
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

/// The part before '@', for the password policy.
pub fn local_part(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(local, _)| local)
}

/// Trims a display name and checks 1..=64 characters without control
/// characters; the error text follows "display_name: ".
pub fn normalize_display_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if !(1..=64).contains(&name.chars().count()) {
        return Err("must be 1..=64 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_domains_lower_cased() {
        assert_eq!(
            normalize_email("  Ann@Example.COM ").unwrap(),
            "Ann@example.com"
        );
        assert_eq!(normalize_email("no-at-sign"), Err(EmailRejected::Shape));
        assert_eq!(normalize_email("a@"), Err(EmailRejected::Length));
        assert_eq!(normalize_email("a b@x.org"), Err(EmailRejected::Characters));
        assert_eq!(normalize_email("ab@.org"), Err(EmailRejected::Domain));
    }

    #[test]
    fn display_names_are_bounded() {
        assert_eq!(normalize_display_name(" Ann ").unwrap(), "Ann");
        assert!(normalize_display_name("  ").is_err());
        assert!(normalize_display_name(&"x".repeat(65)).is_err());
        assert!(normalize_display_name("a\u{7}b").is_err());
    }
}
