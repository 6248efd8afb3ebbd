//! How a re-reported incident differs from the one recorded, field by
//! field, named as the notice file names them (`title`,
//! `compensation.value_minor_units`, `data_classes[1].description`) and
//! with values written as the file writes them (enum values in lower case
//! without their prefix, times in RFC 3339).

use std::fmt;

use candor_proto::descriptor_pool;
use candor_proto::events::v1::BreachReported;
use candor_proto::prost::{Message as _, Name as _};
use prost_reflect::{DynamicMessage, Kind, ReflectMessage, Value};

use crate::timefmt;

/// Longest value shown whole; longer ones are cut around the first change.
const SHOWN_CHARACTERS: usize = 100;

/// One field whose value differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// The field's path in the notice (`compensation.currency`).
    pub field: String,
    /// The recorded value, or `None` when the field is not set there.
    pub recorded: Option<String>,
    /// The reported value, or `None` when the field is not set there.
    pub reported: Option<String>,
}

impl fmt::Display for FieldChange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (recorded, reported) = shown(self.recorded.as_deref(), self.reported.as_deref());
        writeln!(formatter, "  {}:", self.field)?;
        writeln!(formatter, "    recorded:    {recorded}")?;
        write!(formatter, "    this notice: {reported}")
    }
}

/// Whether the services would take `reported` as the incident they
/// recorded: they compare the encoded messages byte for byte.
pub fn same_content(recorded: &BreachReported, reported: &BreachReported) -> bool {
    recorded.encode_to_vec() == reported.encode_to_vec()
}

/// Every field whose value differs, in the contract's field order.
pub fn differences(recorded: &BreachReported, reported: &BreachReported) -> Vec<FieldChange> {
    let recorded = fields(recorded);
    let reported = fields(reported);
    let mut changes = Vec::new();
    for (field, value) in &recorded {
        let other = lookup(&reported, field);
        if other != Some(value.as_str()) {
            changes.push(FieldChange {
                field: field.clone(),
                recorded: Some(value.clone()),
                reported: other.map(str::to_owned),
            });
        }
    }
    for (field, value) in &reported {
        if lookup(&recorded, field).is_none() {
            changes.push(FieldChange {
                field: field.clone(),
                recorded: None,
                reported: Some(value.clone()),
            });
        }
    }
    changes
}

fn lookup<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
}

/// Every set leaf field of the incident as (path, value). Empty when the
/// embedded descriptor set is unusable (a broken build, which its own
/// tests catch); the caller still knows the contents differ.
fn fields(incident: &BreachReported) -> Vec<(String, String)> {
    let Some(descriptor) = descriptor_pool()
        .ok()
        .and_then(|pool| pool.get_message_by_name(&BreachReported::full_name()))
    else {
        return Vec::new();
    };
    let Ok(message) = DynamicMessage::decode(descriptor, incident.encode_to_vec().as_slice())
    else {
        return Vec::new();
    };
    let mut fields = Vec::new();
    flatten(&message, "", &mut fields);
    fields
}

fn flatten(message: &DynamicMessage, prefix: &str, out: &mut Vec<(String, String)>) {
    for field in message.descriptor().fields() {
        if !message.has_field(&field) {
            continue;
        }
        let path = format!("{prefix}{}", field.name());
        match message.get_field(&field).as_ref() {
            Value::List(items) => {
                for (index, item) in items.iter().enumerate() {
                    leaf(&field.kind(), item, &format!("{path}[{index}]"), out);
                }
            }
            value => leaf(&field.kind(), value, &path, out),
        }
    }
}

fn leaf(kind: &Kind, value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    let text = match (kind, value) {
        (_, Value::Message(message))
            if message.descriptor().full_name() == "google.protobuf.Timestamp" =>
        {
            let seconds = message
                .get_field_by_name("seconds")
                .and_then(|value| value.as_i64());
            let nanos = message
                .get_field_by_name("nanos")
                .and_then(|value| value.as_i32());
            timefmt::rfc3339(&prost_types::Timestamp {
                seconds: seconds.unwrap_or_default(),
                nanos: nanos.unwrap_or_default(),
            })
        }
        (_, Value::Message(message)) => {
            flatten(message, &format!("{path}."), out);
            return;
        }
        (Kind::Enum(descriptor), Value::EnumNumber(number)) => {
            let prefix = format!("{}_", screaming_snake(descriptor.name()));
            match descriptor.get_value(*number) {
                Some(value) => value
                    .name()
                    .strip_prefix(&prefix)
                    .unwrap_or(value.name())
                    .to_ascii_lowercase(),
                None => number.to_string(),
            }
        }
        (_, Value::String(text)) => format!("{text:?}"),
        (_, Value::Bool(value)) => value.to_string(),
        (_, Value::I32(value)) => value.to_string(),
        (_, Value::I64(value)) => value.to_string(),
        (_, Value::U32(value)) => value.to_string(),
        (_, Value::U64(value)) => value.to_string(),
        (_, other) => format!("{other:?}"),
    };
    out.push((path.to_owned(), text));
}

/// `PasswordResetScope` → `PASSWORD_RESET_SCOPE`, the prefix of its values.
fn screaming_snake(name: &str) -> String {
    let mut snake = String::with_capacity(name.len() + 4);
    for (index, character) in name.chars().enumerate() {
        if index > 0 && character.is_ascii_uppercase() {
            snake.push('_');
        }
        snake.push(character.to_ascii_uppercase());
    }
    snake
}

/// Both values as shown: whole when short, otherwise the part around the
/// first character that differs, so a one-word change in a long summary
/// is visible.
fn shown(recorded: Option<&str>, reported: Option<&str>) -> (String, String) {
    const NOT_SET: &str = "(not set)";
    let (Some(recorded), Some(reported)) = (recorded, reported) else {
        return (
            recorded.map_or_else(|| NOT_SET.to_owned(), |value| cut(value, 0)),
            reported.map_or_else(|| NOT_SET.to_owned(), |value| cut(value, 0)),
        );
    };
    let first_difference = recorded
        .chars()
        .zip(reported.chars())
        .take_while(|(a, b)| a == b)
        .count();
    (
        cut(recorded, first_difference),
        cut(reported, first_difference),
    )
}

/// At most [`SHOWN_CHARACTERS`] of `value`, starting a little before the
/// character at `around`; `…` marks what was left out.
fn cut(value: &str, around: usize) -> String {
    let characters: Vec<char> = value.chars().collect();
    if characters.len() <= SHOWN_CHARACTERS {
        return value.to_owned();
    }
    let start = around.saturating_sub(SHOWN_CHARACTERS / 4);
    let end = (start + SHOWN_CHARACTERS).min(characters.len());
    let start = end.saturating_sub(SHOWN_CHARACTERS);
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    shown.extend(&characters[start..end]);
    if end < characters.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use candor_proto::events::v1::{Compensation, DataClass, DataClassTaken, PasswordResetScope};

    use super::*;

    fn incident() -> BreachReported {
        BreachReported {
            incident_id: "2025-05-member-backup".to_owned(),
            title: "Member email addresses were stolen".to_owned(),
            summary: "x".repeat(300),
            occurred_at: Some(prost_types::Timestamp {
                seconds: 1_747_188_600,
                nanos: 0,
            }),
            data_classes: vec![DataClassTaken {
                data_class: DataClass::EmailAddress as i32,
                description: String::new(),
            }],
            password_reset_scope: PasswordResetScope::All as i32,
            compensation: Some(Compensation {
                value_minor_units: 2500,
                currency: "USD".to_owned(),
                ..Compensation::default()
            }),
            ..BreachReported::default()
        }
    }

    #[test]
    fn an_identical_incident_has_no_difference() {
        assert!(same_content(&incident(), &incident()));
        assert!(differences(&incident(), &incident()).is_empty());
    }

    #[test]
    fn each_changed_field_is_named_as_the_notice_names_it() {
        let mut changed = incident();
        changed.title = "Changed".to_owned();
        changed.password_reset_scope = PasswordResetScope::Affected as i32;
        changed.compensation = Some(Compensation {
            value_minor_units: 500,
            currency: "USD".to_owned(),
            ..Compensation::default()
        });
        changed.data_classes.push(DataClassTaken {
            data_class: DataClass::PasswordHash as i32,
            description: "salted SHA-1".to_owned(),
        });
        changed.occurred_at = None;
        assert!(!same_content(&incident(), &changed));
        let changes = differences(&incident(), &changed);
        let summary: Vec<(&str, Option<&str>, Option<&str>)> = changes
            .iter()
            .map(|change| {
                (
                    change.field.as_str(),
                    change.recorded.as_deref(),
                    change.reported.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "title",
                    Some("\"Member email addresses were stolen\""),
                    Some("\"Changed\"")
                ),
                ("occurred_at", Some("2025-05-14T02:10:00Z"), None),
                ("password_reset_scope", Some("all"), Some("affected")),
                ("compensation.value_minor_units", Some("2500"), Some("500")),
                ("data_classes[1].data_class", None, Some("password_hash")),
                (
                    "data_classes[1].description",
                    None,
                    Some("\"salted SHA-1\"")
                ),
            ]
        );
    }

    #[test]
    fn a_long_value_is_shown_around_its_first_change() {
        let mut changed = incident();
        changed.summary = format!("{}CHANGED{}", "x".repeat(200), "x".repeat(93));
        let change = differences(&incident(), &changed).remove(0);
        assert_eq!(change.field, "summary");
        let shown = change.to_string();
        assert!(shown.contains("CHANGED"), "{shown}");
        assert!(shown.contains('…'), "{shown}");
        assert!(
            shown.lines().all(|line| line.chars().count() < 130),
            "{shown}"
        );
    }
}
