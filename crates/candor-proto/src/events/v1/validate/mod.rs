//! The validation rules documented on each event in `events.proto`, in one
//! place, so that every publisher and consumer agrees: candorctl (before
//! publishing), the account service (at intake), and the notification and
//! membership services (on every event they consume).
//!
//! - `breach_reported`: `BreachReported::validate`;
//! - `account_events`: `AccountsAffected`, `EnumerationCompleted`,
//!   `IncidentThreadOpened` and `AccountDeactivated`.

mod account_events;
mod breach_reported;

pub use account_events::{ACCOUNT_DATA_CLASSES, MAX_BATCH_ACCOUNTS};

use prost_types::Timestamp;

/// One broken rule: the field (protobuf field path, e.g.
/// `data_classes[1].description`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Field path in protobuf (snake_case) names.
    pub field: String,
    /// What is wrong, e.g. `must be 1..=200 characters`.
    pub description: String,
}

/// Every rule an event breaks. Displays as
/// `field: description; field: description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.violations.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; "))]
pub struct ValidationError {
    /// The violations, in field order; never empty.
    pub violations: Vec<FieldViolation>,
}

#[derive(Default)]
struct Violations(Vec<FieldViolation>);

impl Violations {
    /// `Ok` when no rule was broken.
    fn finish(self) -> Result<(), ValidationError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationError { violations: self.0 })
        }
    }

    fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Free text: at most `max` characters as sent (before trimming), at
    /// least `min` once trimmed, and no control character but LF, CR and TAB.
    /// (candor-platform's `validation` has the same rules for gRPC fields;
    /// this crate sits below it.)
    fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let raw_length = value.chars().count();
        let length = value.trim().chars().count();
        if raw_length > max || length < min {
            self.add(
                field,
                format!(
                    "must be {min}..={max} characters (is {raw_length} as sent, {length} trimmed)"
                ),
            );
        }
        if value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            self.add(
                field,
                "must not contain control characters other than line breaks and tabs",
            );
        }
    }

    /// A single line of text (titles, which become email subjects): the
    /// rules of [`Violations::text`] without any line break or tab.
    fn line(&mut self, field: &str, value: &str, min: usize, max: usize) {
        self.text(field, value, min, max);
        if value.contains(['\n', '\r', '\t', '\u{2028}', '\u{2029}']) {
            self.add(field, "must be a single line");
        }
    }

    /// Refuses each entry of the list `field` equal to an earlier one
    /// (`key` gives what is compared), naming both:
    /// `recommended_actions[3]: duplicate of recommended_actions[1]`.
    fn distinct<'a, T, K: PartialEq>(
        &mut self,
        field: &str,
        items: &'a [T],
        key: impl Fn(&'a T) -> K,
    ) {
        let keys: Vec<Option<K>> = items.iter().map(|item| Some(key(item))).collect();
        for index in 0..keys.len() {
            if let Some(first) = first_duplicate(&keys, index) {
                self.add(
                    format!("{field}[{index}]"),
                    format!("duplicate of {field}[{first}]"),
                );
            }
        }
    }

    fn required_time<'a>(
        &mut self,
        field: &str,
        value: Option<&'a Timestamp>,
    ) -> Option<&'a Timestamp> {
        match value {
            None => {
                self.add(field, "required (RFC 3339 timestamp)");
                None
            }
            Some(time) if !(0..1_000_000_000).contains(&time.nanos) => {
                self.add(field, "nanos must be 0..=999999999");
                None
            }
            Some(time) => Some(time),
        }
    }
}

/// The first entry before `index` whose key equals the key at `index`; an
/// entry without a key (one already refused for another reason) equals
/// nothing.
fn first_duplicate<K: PartialEq>(keys: &[Option<K>], index: usize) -> Option<usize> {
    let key = keys.get(index)?.as_ref()?;
    keys[..index]
        .iter()
        .position(|earlier| earlier.as_ref() == Some(key))
}

fn is_incident_id(value: &str) -> bool {
    let mut characters = value.chars();
    let first_ok = characters
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && value.len() <= 64
        && characters
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    (3..=254).contains(&value.chars().count())
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_url(value: &str) -> bool {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        && value.len() <= 2048
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_e164(value: &str) -> bool {
    value.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.chars().all(|c| c.is_ascii_digit())
    })
}

fn is_currency(value: &str) -> bool {
    value.len() == 3 && value.chars().all(|c| c.is_ascii_uppercase())
}
