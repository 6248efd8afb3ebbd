//! What a breach notice says about an incident, worded from its
//! `BreachReported` (dates, data taken, compensation, steps) for the data
//! held about one member: a member is told only of the classes of data
//! that were held about them, and given the password steps only when they
//! had a password.

use candor_proto::events::v1::{
    ACCOUNT_DATA_CLASSES, BreachReported, CompensationKind, DataClass, DataClassTaken,
    PasswordResetScope,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The incident part of the notice's template context, for one kind of
/// member.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentNotice {
    pub title: String,
    pub summary_paragraphs: Vec<String>,
    /// When it happened, e.g. "14 May 2025, 02:10 UTC" or a range.
    pub occurred: String,
    pub discovered_at: String,
    /// The classes of data taken that were held about this member; empty
    /// when none was (the notice then says so).
    pub data_classes: Vec<String>,
    pub likely_consequences: String,
    pub measures_taken: Vec<String>,
    /// The offer in words; `None` when nothing is offered.
    pub compensation: Option<String>,
    /// Whether the member had a password: the notice then tells them what
    /// became of it and links the reset page.
    pub had_password: bool,
    /// Empty unless `had_password`.
    pub password_steps: Vec<String>,
    /// The operator's advice, without an entry the password steps already
    /// give.
    pub recommended_actions: Vec<String>,
    pub contact: ContactNotice,
}

/// What the account service held about one member
/// (`AffectedAccount.held_data_classes`): `DataClass` numbers, sorted and
/// distinct. A member it did not say anything about has none of these
/// (`Option::None` wherever one is expected) and is told of every class.
/// Stored as a breach notice job's content, `{"held_data_classes": [1, 2]}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HeldData {
    held_data_classes: Vec<i32>,
}

impl HeldData {
    /// The held classes an event lists; `None` when it lists none (a
    /// publisher older than the field: not known).
    pub fn from_event(classes: &[i32]) -> Option<Self> {
        let mut classes = classes.to_vec();
        classes.sort_unstable();
        classes.dedup();
        (!classes.is_empty()).then_some(Self {
            held_data_classes: classes,
        })
    }

    /// The `DataClass` numbers held.
    pub fn classes(&self) -> &[i32] {
        &self.held_data_classes
    }

    /// Whether the notice may say `class` was taken from this member: the
    /// account service held it, or it is not one the account service keeps
    /// (and so cannot say anything about).
    fn covers(&self, class: DataClass) -> bool {
        !ACCOUNT_DATA_CLASSES.contains(&class) || self.held_data_classes.contains(&(class as i32))
    }
}

/// Whether `class` was held about a member (`None`: not known, so yes).
fn held(member: Option<&HeldData>, class: DataClass) -> bool {
    member.is_none_or(|held| held.covers(class))
}

/// The contact point (GDPR Art. 34(2)).
#[derive(Debug, Clone, Serialize)]
pub struct ContactNotice {
    pub email: String,
    pub url: String,
    pub phone: String,
}

impl IncidentNotice {
    /// Words the notice of a validated incident for a member about whom
    /// `member` was held (`None`: not known, every class).
    pub fn for_member(report: &BreachReported, member: Option<&HeldData>) -> Self {
        let taken: Vec<&DataClassTaken> = report
            .data_classes
            .iter()
            .filter(|taken| held(member, data_class(taken)))
            .collect();
        let had_password = held(member, DataClass::PasswordHash);
        let password_steps = if had_password {
            password_steps(report)
        } else {
            Vec::new()
        };
        let recommended_actions = trimmed(&report.recommended_actions)
            .into_iter()
            .filter(|action| !password_steps.contains(action))
            .collect();
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
            data_classes: taken
                .iter()
                .map(|taken| data_class_wording(taken))
                .collect(),
            likely_consequences: likely_consequences(report, &taken),
            measures_taken: trimmed(&report.measures_taken),
            compensation: compensation_wording(report),
            had_password,
            password_steps,
            recommended_actions,
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

fn data_class(taken: &DataClassTaken) -> DataClass {
    DataClass::try_from(taken.data_class).unwrap_or(DataClass::Other)
}

fn data_class_wording(taken: &DataClassTaken) -> String {
    let class = data_class(taken);
    let description = taken.description.trim();
    match (class, description.is_empty()) {
        (DataClass::Other, false) => description.to_owned(),
        (_, true) => data_class_label(class).to_owned(),
        (_, false) => format!("{} ({description})", data_class_label(class)),
    }
}

/// The operator's words, or a statement derived from the classes taken
/// from this member.
fn likely_consequences(report: &BreachReported, taken: &[&DataClassTaken]) -> String {
    let given = report.likely_consequences.trim();
    if !given.is_empty() {
        return given.to_owned();
    }
    let has_class = |wanted: DataClass| taken.iter().any(|taken| data_class(taken) == wanted);
    let mut sentences = Vec::new();
    if has_class(DataClass::PasswordHash) || has_class(DataClass::SessionToken) {
        sentences.push("Someone may try to sign in to your account, or to other sites where you used the same password.");
    }
    if has_class(DataClass::EmailAddress) {
        sentences.push("You may receive phishing emails that look as if they come from us.");
    }
    if has_class(DataClass::PaymentCard) {
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
