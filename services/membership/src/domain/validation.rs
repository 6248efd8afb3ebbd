//! Field rules shared by the RPCs and the event handlers.

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

/// An incident id as GrantCredit takes it: 0..=64 characters.
pub fn is_optional_incident_id(value: &str) -> bool {
    value.chars().count() <= 64
}

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
