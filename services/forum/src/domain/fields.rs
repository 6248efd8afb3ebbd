//! Request fields several forum RPCs share: ids, lookup keys and page
//! tokens, each error naming its field.

use candor_platform::validation::{InvalidField, TextRule};
use uuid::Uuid;

/// A board or incident id as a lookup key: one line of 1..=64 characters.
const LOOKUP_ID: TextRule = TextRule::single_line(1, 64);
/// A page token: empty (the first page) or one line of at most 512.
const PAGE_TOKEN: TextRule = TextRule::single_line(0, 512);

/// A UUID request field.
pub fn parse_uuid(field: &'static str, value: &str) -> Result<Uuid, InvalidField> {
    Uuid::parse_str(value).map_err(|_| InvalidField::new(field, "must be a UUID"))
}

/// An optional UUID request field (empty means none).
pub fn parse_optional_uuid(field: &'static str, value: &str) -> Result<Option<Uuid>, InvalidField> {
    if value.is_empty() {
        Ok(None)
    } else {
        parse_uuid(field, value).map(Some)
    }
}

/// A board or incident id request field, checked as sent.
pub fn check_lookup_id(field: &'static str, value: &str) -> Result<(), InvalidField> {
    InvalidField::check_verbatim(field, value, LOOKUP_ID)
}

/// A page token request field, checked as sent before it is decoded.
pub fn check_page_token(value: &str) -> Result<(), InvalidField> {
    InvalidField::check_verbatim("page_token", value, PAGE_TOKEN)
}
