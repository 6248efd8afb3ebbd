//! Field rules shared by the RPCs and the event handlers.

use candor_platform::validation::TextRule;
use uuid::Uuid;

/// A UUID in any form `Uuid::parse_str` accepts; callers name the field.
pub fn parse_uuid(value: &str) -> Option<Uuid> {
    Uuid::parse_str(value.trim()).ok()
}

/// An ISO 4217 alphabetic code: three upper-case ASCII letters.
pub fn is_currency(value: &str) -> bool {
    value.len() == 3 && value.bytes().all(|byte| byte.is_ascii_uppercase())
}

/// An idempotency key: 1..=200 printable ASCII characters.
pub fn is_idempotency_key(value: &str) -> bool {
    (1..=200).contains(&value.len()) && value.bytes().all(|byte| (0x20..=0x7e).contains(&byte))
}

/// An incident id as GrantCredit and ListCredits take it (empty: none).
pub const OPTIONAL_INCIDENT_ID: TextRule = TextRule::single_line(0, 64);
/// An incident id to look up.
pub const INCIDENT_ID: TextRule = TextRule::single_line(1, 64);
/// A credit's reason: one line of 1..=500 characters.
pub const REASON: TextRule = TextRule::single_line(1, 500);
/// A UUID field (empty: none), bounded before it is parsed.
pub const OPTIONAL_UUID: TextRule = TextRule::single_line(0, 36);
/// A page token (empty: the first page).
pub const PAGE_TOKEN: TextRule = TextRule::single_line(0, 512);

/// The reason of the breach compensation entries of `incident_id`.
pub fn compensation_reason(incident_id: &str) -> String {
    format!("Compensation for incident {incident_id}")
}

/// The idempotency key a compensation entry is written under.
pub fn compensation_key(incident_id: &str, account_id: Uuid) -> String {
    format!("incident:{incident_id}:{account_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert!(is_currency("USD"));
        assert!(!is_currency("usd"));
        assert!(!is_currency("US"));
        assert!(!is_currency("USDT"));
    }

    #[test]
    fn idempotency_keys_are_printable_ascii_up_to_200() {
        assert!(is_idempotency_key("grant 42"));
        assert!(!is_idempotency_key(""));
        assert!(!is_idempotency_key("tab\there"));
        assert!(!is_idempotency_key(&"k".repeat(201)));
        assert!(!is_idempotency_key("café"));
    }
}
