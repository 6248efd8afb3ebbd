//! What a breach notice says about an incident, worded once per incident
//! from its `BreachReported` (dates, data taken, compensation, steps).

use candor_proto::events::v1::{
    BreachReported, CompensationKind, DataClass, DataClassTaken, PasswordResetScope,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The incident part of the notice's template context.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentNotice {
    pub title: String,
    pub summary_paragraphs: Vec<String>,
    /// When it happened, e.g. "14 May 2025, 02:10 UTC" or a range.
    pub occurred: String,
    pub discovered_at: String,
    pub data_classes: Vec<String>,
    pub likely_consequences: String,
    pub measures_taken: Vec<String>,
    /// The offer in words; `None` when nothing is offered.
    pub compensation: Option<String>,
    pub password_steps: Vec<String>,
    pub recommended_actions: Vec<String>,
    pub contact: ContactNotice,
}

/// The contact point (GDPR Art. 34(2)).
#[derive(Debug, Clone, Serialize)]
pub struct ContactNotice {
    pub email: String,
    pub url: String,
    pub phone: String,
}

impl IncidentNotice {
    /// Words the notice for a validated incident.
    pub fn from_report(report: &BreachReported) -> Self {
        let occurred_at = format_time(report.occurred_at.as_ref());
        let occurred = match report.occurred_until.as_ref() {
            Some(until) => format!("from {occurred_at} to {}", format_time(Some(until))),
            None => occurred_at,
        };
        let contact = report.contact.clone().unwrap_or_default();
        Self {
            title: report.title.trim().to_owned(),
            summary_paragraphs: report
                .summary
                .split("\n\n")
                .map(|paragraph| paragraph.trim().to_owned())
                .filter(|paragraph| !paragraph.is_empty())
                .collect(),
            occurred,
            discovered_at: format_time(report.discovered_at.as_ref()),
            data_classes: report.data_classes.iter().map(data_class_wording).collect(),
            likely_consequences: likely_consequences(report),
            measures_taken: trimmed(&report.measures_taken),
            compensation: compensation_wording(report),
            password_steps: password_steps(report),
            recommended_actions: trimmed(&report.recommended_actions),
            contact: ContactNotice {
                email: contact.email,
                url: contact.url,
                phone: contact.phone,
            },
        }
    }
}

fn trimmed(lines: &[String]) -> Vec<String> {
    lines.iter().map(|line| line.trim().to_owned()).collect()
}

/// "14 May 2025, 02:10 UTC".
pub fn format_time(timestamp: Option<&prost_types::Timestamp>) -> String {
    timestamp
        .and_then(|time| {
            let nanos = u32::try_from(time.nanos).unwrap_or_default();
            DateTime::<Utc>::from_timestamp(time.seconds, nanos)
        })
        .map(|time| time.format("%-d %B %Y, %H:%M UTC").to_string())
        .unwrap_or_else(|| "an unknown time".to_owned())
}

fn data_class_label(class: DataClass) -> &'static str {
    match class {
        DataClass::Unspecified | DataClass::Other => "Other information",
        DataClass::EmailAddress => "Your email address",
        DataClass::PasswordHash => "Your password hash",
        DataClass::DisplayName => "Your display name",
        DataClass::RealName => "Your real name",
        DataClass::PostalAddress => "Your postal address",
        DataClass::PhoneNumber => "Your telephone number",
        DataClass::DateOfBirth => "Your date of birth",
        DataClass::IpAddress => "IP addresses you used",
        DataClass::PaymentCard => "Payment card data",
        DataClass::SessionToken => "Session or API tokens",
        DataClass::PrivateMessages => "Your private messages",
        DataClass::ActivityHistory => "Your catalogue and activity history",
    }
}

fn data_class_wording(taken: &DataClassTaken) -> String {
    let class = DataClass::try_from(taken.data_class).unwrap_or(DataClass::Other);
    let description = taken.description.trim();
    match (class, description.is_empty()) {
        (DataClass::Other, false) => description.to_owned(),
        (_, true) => data_class_label(class).to_owned(),
        (_, false) => format!("{} ({description})", data_class_label(class)),
    }
}

fn has_class(report: &BreachReported, wanted: DataClass) -> bool {
    report
        .data_classes
        .iter()
        .any(|taken| taken.data_class == wanted as i32)
}

fn likely_consequences(report: &BreachReported) -> String {
    let given = report.likely_consequences.trim();
    if !given.is_empty() {
        return given.to_owned();
    }
    let mut sentences = Vec::new();
    if has_class(report, DataClass::PasswordHash) || has_class(report, DataClass::SessionToken) {
        sentences.push("Someone may try to sign in to your account, or to other sites where you used the same password.");
    }
    if has_class(report, DataClass::EmailAddress) {
        sentences.push("You may receive phishing emails that look as if they come from us.");
    }
    if has_class(report, DataClass::PaymentCard) {
        sentences.push("Your payment card may be used for purchases you did not make.");
    }
    if sentences.is_empty() {
        sentences.push("The information taken could be used to impersonate you or to contact you.");
    }
    sentences.join(" ")
}

fn money(minor_units: i64, currency: &str) -> String {
    format!(
        "{currency} {}.{:02}",
        minor_units / 100,
        (minor_units % 100).abs()
    )
}

fn compensation_wording(report: &BreachReported) -> Option<String> {
    let compensation = report.compensation.as_ref()?;
    let kind = CompensationKind::try_from(compensation.kind).unwrap_or(CompensationKind::None);
    if kind == CompensationKind::None || kind == CompensationKind::Unspecified {
        return None;
    }
    let description = compensation.description.trim();
    if !description.is_empty() {
        return Some(description.to_owned());
    }
    let worth = (compensation.value_minor_units > 0).then(|| {
        format!(
            " (worth {})",
            money(compensation.value_minor_units, &compensation.currency)
        )
    });
    let worth = worth.unwrap_or_default();
    Some(match kind {
        CompensationKind::LifetimeMembership => {
            format!("a free upgrade to a lifetime membership{worth}")
        }
        CompensationKind::PaidMembership => {
            format!(
                "{} days of paid membership{worth}",
                compensation.duration_days
            )
        }
        CompensationKind::AccountCredit => format!(
            "a credit of {} to your account",
            money(compensation.value_minor_units, &compensation.currency)
        ),
        CompensationKind::None | CompensationKind::Unspecified => return None,
    })
}

fn password_steps(report: &BreachReported) -> Vec<String> {
    let scope = PasswordResetScope::try_from(report.password_reset_scope)
        .unwrap_or(PasswordResetScope::Affected);
    match scope {
        PasswordResetScope::Affected
        | PasswordResetScope::All
        | PasswordResetScope::Unspecified => vec![
            "Your old password no longer works and you have been signed out everywhere. Choose a new password with the reset link below.".to_owned(),
            "If you used the same password on another site, change it there too.".to_owned(),
        ],
        PasswordResetScope::None => vec![
            "You do not have to change your password, but you can at any time with the reset link below. We have signed you out everywhere as a precaution.".to_owned(),
        ],
    }
}
