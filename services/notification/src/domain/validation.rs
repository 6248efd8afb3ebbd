//! Field rules of the NotificationService requests (proto comments); each
//! error names its field. The generic length and character rules come from
//! `candor_platform::validation`.

use candor_platform::grpc::InvalidField;
use candor_platform::validation::TextRule;
use uuid::Uuid;

/// A recipient's display name: one line, at most 64 characters as sent.
pub const DISPLAY_NAME: TextRule = TextRule::single_line(0, 64);
/// A recipient's address: one line, 3..=254 characters.
pub const ADDRESS: TextRule = TextRule::single_line(3, 254);
/// RenderBreachNotice's sample address (empty: a default).
pub const OPTIONAL_ADDRESS: TextRule = TextRule::single_line(0, 254);
/// A link in an email: one line, 1..=2048 characters.
const LINK: TextRule = TextRule::single_line(1, 2048);
/// RenderBreachNotice's sample thread link (empty: a default).
pub const OPTIONAL_LINK: TextRule = TextRule::single_line(0, 2048);
/// An incident id to look up.
pub const INCIDENT_ID: TextRule = TextRule::single_line(1, 64);
/// An incident id filter (empty: any).
pub const OPTIONAL_ID: TextRule = TextRule::single_line(0, 64);
/// A page token (empty: the first page).
pub const PAGE_TOKEN: TextRule = TextRule::single_line(0, 512);

/// An idempotency key: 1..=200 printable ASCII characters.
pub fn check_idempotency_key(key: &str) -> Result<(), InvalidField> {
    if key.is_empty() || key.len() > 200 || !key.bytes().all(|byte| (0x20..=0x7e).contains(&byte)) {
        return Err(InvalidField::new(
            "idempotency_key",
            "must be 1..=200 printable ASCII characters",
        ));
    }
    Ok(())
}

/// An optional UUID field (empty: none).
pub fn optional_uuid(field: &'static str, value: &str) -> Result<Option<Uuid>, InvalidField> {
    if value.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(value)
        .map(Some)
        .map_err(|_| InvalidField::new(field, "must be a UUID"))
}

/// An absolute http(s) link of at most 2048 characters, trimmed.
pub fn check_link(field: &'static str, value: &str) -> Result<String, InvalidField> {
    let value = InvalidField::check(field, value, LINK)?;
    if !(value.starts_with("https://") || value.starts_with("http://")) {
        return Err(InvalidField::new(field, "must be an absolute http(s) URL"));
    }
    Ok(value.to_owned())
}

/// `value`, or `default` when it is empty.
pub fn non_empty_or<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() { default } else { value }
}
