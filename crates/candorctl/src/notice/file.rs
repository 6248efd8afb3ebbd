//! The notice file's shape (TOML, snake_case keys named like the
//! `BreachReported` fields) and its conversion to the event.

use candor_proto::events::v1::{
    BreachReported, Compensation, CompensationKind, Contact, DataClass, DataClassTaken,
    PasswordResetScope,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

/// A breach notice as an operator writes it. Times are TOML datetimes or
/// RFC 3339 strings (a bare date means midnight UTC); enum values are the
/// short lower-case names (`email_address`, `lifetime_membership`, `all`)
/// or the full protobuf names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeFile {
    pub incident_id: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub occurred_at: Option<TimeValue>,
    pub occurred_until: Option<TimeValue>,
    pub discovered_at: Option<TimeValue>,
    pub affected_joined_before: Option<TimeValue>,
    pub password_reset_scope: Option<String>,
    #[serde(default)]
    pub data_classes: Vec<DataClassEntry>,
    pub compensation: Option<CompensationEntry>,
    #[serde(default)]
    pub measures_taken: Vec<String>,
    pub likely_consequences: Option<String>,
    #[serde(default)]
    pub recommended_actions: Vec<String>,
    pub contact: Option<ContactEntry>,
    pub authority_notified_at: Option<TimeValue>,
    pub late_notification_reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataClassEntry {
    pub data_class: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompensationEntry {
    pub kind: Option<String>,
    pub value_minor_units: Option<i64>,
    pub currency: Option<String>,
    pub duration_days: Option<u32>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactEntry {
    pub email: Option<String>,
    pub url: Option<String>,
    pub phone: Option<String>,
}

/// A time as TOML gives it: a native datetime or a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TimeValue {
    Native(toml::value::Datetime),
    Text(String),
}

impl TimeValue {
    fn parse(&self) -> Result<DateTime<Utc>, String> {
        let text = match self {
            TimeValue::Native(datetime) => datetime.to_string(),
            TimeValue::Text(text) => text.clone(),
        };
        parse_time(&text)
    }
}

/// RFC 3339 (`2011-11-01T00:00:00Z`) or a bare date (midnight UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(datetime) = DateTime::parse_from_rfc3339(text) {
        return Ok(datetime.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(midnight) = date.and_hms_opt(0, 0, 0)
    {
        return Ok(midnight.and_utc());
    }
    Err(format!(
        "{text:?} is not an RFC 3339 time with an offset (2011-11-01T00:00:00Z) or a date (2011-11-01)"
    ))
}

type Problems = Vec<(String, String)>;

impl NoticeFile {
    /// Converts to the event and lists every conversion problem as
    /// `(field, message)`. A value that does not convert is left unset in
    /// the event, so the event's own validation (lengths, order of times)
    /// still runs on everything else: all problems are reported at once.
    pub fn into_event(self) -> (BreachReported, Problems) {
        let mut problems = Problems::new();
        let mut time = |field: &str, value: &Option<TimeValue>| {
            value.as_ref().and_then(|value| match value.parse() {
                Ok(time) => Some(timestamp(time)),
                Err(message) => {
                    problems.push((field.to_owned(), message));
                    None
                }
            })
        };
        let occurred_at = time("occurred_at", &self.occurred_at);
        let occurred_until = time("occurred_until", &self.occurred_until);
        let discovered_at = time("discovered_at", &self.discovered_at);
        let affected_joined_before = time("affected_joined_before", &self.affected_joined_before);
        let authority_notified_at = time("authority_notified_at", &self.authority_notified_at);

        let password_reset_scope = match &self.password_reset_scope {
            None => PasswordResetScope::Unspecified,
            Some(name) => enum_value(
                &mut problems,
                "password_reset_scope",
                name,
                "candor.events.v1.PasswordResetScope",
                PasswordResetScope::from_str_name,
            )
            .unwrap_or(PasswordResetScope::Unspecified),
        };
        let data_classes = self
            .data_classes
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let field = format!("data_classes[{index}].data_class");
                let class = enum_value(
                    &mut problems,
                    &field,
                    &entry.data_class,
                    "candor.events.v1.DataClass",
                    DataClass::from_str_name,
                )
                .unwrap_or(DataClass::Unspecified);
                DataClassTaken {
                    data_class: class as i32,
                    description: entry.description.clone().unwrap_or_default(),
                }
            })
            .collect();
        let compensation = self.compensation.map(|entry| {
            let kind = entry
                .kind
                .as_deref()
                .and_then(|name| {
                    enum_value(
                        &mut problems,
                        "compensation.kind",
                        name,
                        "candor.events.v1.CompensationKind",
                        CompensationKind::from_str_name,
                    )
                })
                .unwrap_or(CompensationKind::Unspecified);
            Compensation {
                kind: kind as i32,
                value_minor_units: entry.value_minor_units.unwrap_or_default(),
                currency: entry.currency.unwrap_or_default(),
                duration_days: entry.duration_days.unwrap_or_default(),
                description: entry.description.unwrap_or_default(),
            }
        });
        let contact = self.contact.map(|entry| Contact {
            email: entry.email.unwrap_or_default(),
            url: entry.url.unwrap_or_default(),
            phone: entry.phone.unwrap_or_default(),
        });
        let event = BreachReported {
            incident_id: self.incident_id.unwrap_or_default(),
            title: self.title.unwrap_or_default(),
            summary: self.summary.unwrap_or_default(),
            occurred_at,
            occurred_until,
            discovered_at,
            data_classes,
            affected_joined_before,
            password_reset_scope: password_reset_scope as i32,
            compensation,
            measures_taken: self.measures_taken,
            likely_consequences: self.likely_consequences.unwrap_or_default(),
            recommended_actions: self.recommended_actions,
            contact,
            authority_notified_at,
            late_notification_reason: self.late_notification_reason.unwrap_or_default(),
        };
        (event, problems)
    }
}

/// Looks an enum value up by its short name (`email_address`) or full name
/// (`DATA_CLASS_EMAIL_ADDRESS`); an unknown one is a problem that lists the
/// valid short names of `enum_name` (`candor.events.v1.DataClass`).
fn enum_value<E>(
    problems: &mut Problems,
    field: &str,
    name: &str,
    enum_name: &str,
    lookup: impl Fn(&str) -> Option<E>,
) -> Option<E> {
    let prefix = candor_proto::enum_value_prefix(enum_name);
    let upper = name.trim().to_ascii_uppercase().replace('-', "_");
    let full = if upper.starts_with(&prefix) {
        upper
    } else {
        format!("{prefix}{upper}")
    };
    let found = lookup(&full).filter(|_| !full.ends_with("_UNSPECIFIED"));
    if found.is_none() {
        problems.push((
            field.to_owned(),
            format!(
                "unknown value {name:?}; valid values: {}",
                candor_proto::enum_value_names(enum_name).join(", ")
            ),
        ));
    }
    found
}

pub use candor_platform::time::timestamp;
