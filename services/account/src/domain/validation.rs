//! Field rules shared by several RPCs; errors name the field. The generic
//! length and character rules come from `candor_platform::validation`.

use candor_platform::grpc::InvalidField;
use candor_platform::validation::{TextRejected, TextRule, single_line};

/// Longest session, reset, change or deactivation token accepted, in
/// characters (issued ones are 43).
pub const TOKEN: TextRule = TextRule::single_line(1, 256);
/// An incident id as the RPCs take it for a lookup (the event's own rule is
/// stricter; an id that breaks it is simply not found).
pub const INCIDENT_ID: TextRule = TextRule::single_line(1, 64);

/// The `incident_id` of a lookup request, checked against [`INCIDENT_ID`].
pub fn incident_id(incident_id: String) -> Result<String, InvalidField> {
    INCIDENT_ID
        .check_verbatim(&incident_id)
        .map_err(|reason| InvalidField::new("incident_id", reason))?;
    Ok(incident_id)
}

/// An email address rule broken; the text follows "<field>: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailRejected {
    #[error("must be 3..=254 characters")]
    Length,
    #[error("{0}")]
    Text(TextRejected),
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
    let email = single_line(raw, 0, 254).map_err(EmailRejected::Text)?;
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

/// Checks a display name (a single line, at most 64 characters as sent, at
/// least one once trimmed) and returns it trimmed; the error text follows
/// "display_name: ".
pub fn normalize_display_name(raw: &str) -> Result<String, TextRejected> {
    single_line(raw, 1, 64).map(str::to_owned)
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
        assert!(matches!(
            normalize_email("ann@example.org\r\nBcc: x@y.org"),
            Err(EmailRejected::Text(TextRejected::LineBreak))
        ));
        let padded = format!("{}a@b.org", " ".repeat(250));
        assert!(matches!(
            normalize_email(&padded),
            Err(EmailRejected::Text(TextRejected::TooLong { .. }))
        ));
    }

    #[test]
    fn display_names_are_bounded() {
        assert_eq!(normalize_display_name(" Ann ").unwrap(), "Ann");
        assert!(normalize_display_name("  ").is_err());
        assert!(normalize_display_name(&"x".repeat(65)).is_err());
        assert!(normalize_display_name("a\u{7}b").is_err());
        assert_eq!(
            normalize_display_name("Ann\r\nBcc: x@y.org"),
            Err(TextRejected::LineBreak)
        );
        let padded = format!("{}Ann{}", " ".repeat(40), " ".repeat(40));
        assert!(matches!(
            normalize_display_name(&padded),
            Err(TextRejected::TooLong { max: 64, .. })
        ));
    }
}
