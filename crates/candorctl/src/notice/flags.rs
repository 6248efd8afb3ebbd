//! Flags that fill in or override the notice file, so a short incident can
//! be reported without writing one.

use super::file::{CompensationEntry, ContactEntry, DataClassEntry, NoticeFile, TimeValue};

/// Notice fields as flags; each one overrides the file's value.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct NoticeFlags {
    /// Incident id (the idempotency key): 1..=64 of a-z 0-9 . _ -
    #[arg(long)]
    pub incident_id: Option<String>,
    /// Headline of the notice (1..=200 characters).
    #[arg(long)]
    pub title: Option<String>,
    /// What happened, in plain words.
    #[arg(long)]
    pub summary: Option<String>,
    /// When the breach happened (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub occurred_at: Option<String>,
    /// When it was discovered (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub discovered_at: Option<String>,
    /// Members who joined before this time are affected (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub affected_joined_before: Option<String>,
    /// Who must change their password: affected, all or none.
    #[arg(long)]
    pub password_reset_scope: Option<String>,
    /// A data class taken, e.g. email_address or password_hash (repeatable;
    /// replaces the file's list).
    #[arg(long = "data-class")]
    pub data_classes: Vec<String>,
    /// Compensation kind: none, lifetime_membership, paid_membership, account_credit.
    #[arg(long)]
    pub compensation_kind: Option<String>,
    /// Compensation value in minor units (2500 = $25.00).
    #[arg(long)]
    pub compensation_value: Option<i64>,
    /// ISO 4217 currency of the compensation value (USD).
    #[arg(long)]
    pub compensation_currency: Option<String>,
    /// A measure taken (repeatable; replaces the file's list).
    #[arg(long = "measure")]
    pub measures_taken: Vec<String>,
    /// Contact email for questions about the incident.
    #[arg(long)]
    pub contact_email: Option<String>,
    /// Contact web page for the incident.
    #[arg(long)]
    pub contact_url: Option<String>,
    /// When the supervisory authority was notified (RFC 3339 or
    /// YYYY-MM-DD); GDPR Art. 33's 72-hour clock runs from discovered_at.
    #[arg(long)]
    pub authority_notified_at: Option<String>,
    /// Why the authority is notified more than 72 hours after discovery
    /// (required when it is).
    #[arg(long)]
    pub late_notification_reason: Option<String>,
}

impl NoticeFlags {
    pub fn apply(&self, mut notice: NoticeFile) -> NoticeFile {
        let text = |value: &Option<String>| value.clone();
        let time = |value: &Option<String>| value.clone().map(TimeValue::Text);
        override_with(&mut notice.incident_id, text(&self.incident_id));
        override_with(&mut notice.title, text(&self.title));
        override_with(&mut notice.summary, text(&self.summary));
        override_with(&mut notice.occurred_at, time(&self.occurred_at));
        override_with(&mut notice.discovered_at, time(&self.discovered_at));
        override_with(
            &mut notice.affected_joined_before,
            time(&self.affected_joined_before),
        );
        override_with(
            &mut notice.authority_notified_at,
            time(&self.authority_notified_at),
        );
        override_with(
            &mut notice.late_notification_reason,
            text(&self.late_notification_reason),
        );
        override_with(
            &mut notice.password_reset_scope,
            text(&self.password_reset_scope),
        );
        if !self.data_classes.is_empty() {
            notice.data_classes = self
                .data_classes
                .iter()
                .map(|class| DataClassEntry {
                    data_class: class.clone(),
                    description: None,
                })
                .collect();
        }
        if !self.measures_taken.is_empty() {
            notice.measures_taken = self.measures_taken.clone();
        }
        if self.compensation_kind.is_some()
            || self.compensation_value.is_some()
            || self.compensation_currency.is_some()
        {
            let compensation = notice
                .compensation
                .get_or_insert_with(CompensationEntry::default);
            override_with(&mut compensation.kind, text(&self.compensation_kind));
            override_with(&mut compensation.value_minor_units, self.compensation_value);
            override_with(
                &mut compensation.currency,
                text(&self.compensation_currency),
            );
        }
        if self.contact_email.is_some() || self.contact_url.is_some() {
            let contact = notice.contact.get_or_insert_with(ContactEntry::default);
            override_with(&mut contact.email, text(&self.contact_email));
            override_with(&mut contact.url, text(&self.contact_url));
        }
        notice
    }
}

fn override_with<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}
