//! `BreachReported::validate`: every rule documented on the message.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost_types::Timestamp;

use super::{
    ValidationError, Violations, first_duplicate, is_currency, is_e164, is_email, is_incident_id,
    is_url,
};
use crate::events::v1::{
    BreachReported, Compensation, CompensationKind, Contact, DataClass, PasswordResetScope,
};

/// Clock skew tolerated for `discovered_at` in the future.
const ALLOWED_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

fn is_before(earlier: &Timestamp, later: &Timestamp) -> bool {
    (earlier.seconds, earlier.nanos) < (later.seconds, later.nanos)
}

fn to_timestamp(time: SystemTime) -> Timestamp {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => Timestamp {
            seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
        },
        Err(_) => Timestamp::default(),
    }
}

impl BreachReported {
    /// Checks every rule documented on the message, as of `now` (for the
    /// "discovered_at not in the future" rule). Returns all violations, not
    /// just the first.
    pub fn validate(&self, now: SystemTime) -> Result<(), ValidationError> {
        let mut violations = Violations::default();

        if !is_incident_id(&self.incident_id) {
            violations.add(
                "incident_id",
                "must be 1..=64 characters of [a-z0-9._-], starting with a letter or digit",
            );
        }
        violations.line("title", &self.title, 1, 200);
        violations.text("summary", &self.summary, 1, 10_000);

        let occurred_at = violations.required_time("occurred_at", self.occurred_at.as_ref());
        let discovered_at = violations.required_time("discovered_at", self.discovered_at.as_ref());
        let occurred_until = match self.occurred_until.as_ref() {
            Some(until) => violations.required_time("occurred_until", Some(until)),
            None => None,
        };
        if let (Some(until), Some(occurred)) = (occurred_until, occurred_at)
            && is_before(until, occurred)
        {
            violations.add("occurred_until", "must not be before occurred_at");
        }
        if let (Some(occurred), Some(discovered)) = (occurred_at, discovered_at)
            && is_before(discovered, occurred)
        {
            violations.add("discovered_at", "must not be before occurred_at");
        }
        if let Some(discovered) = discovered_at
            && is_before(&to_timestamp(now + ALLOWED_CLOCK_SKEW), discovered)
        {
            violations.add("discovered_at", "must not be in the future");
        }

        self.validate_data_classes(&mut violations);
        violations.required_time(
            "affected_joined_before",
            self.affected_joined_before.as_ref(),
        );

        match PasswordResetScope::try_from(self.password_reset_scope) {
            Ok(PasswordResetScope::Unspecified) | Err(_) => violations.add(
                "password_reset_scope",
                "must be PASSWORD_RESET_SCOPE_AFFECTED, _ALL or _NONE",
            ),
            Ok(_) => {}
        }

        match &self.compensation {
            None => violations.add(
                "compensation",
                "required (use COMPENSATION_KIND_NONE for none)",
            ),
            Some(compensation) => validate_compensation(compensation, &mut violations),
        }

        if !(1..=20).contains(&self.measures_taken.len()) {
            violations.add("measures_taken", "must have 1..=20 entries");
        }
        for (index, measure) in self.measures_taken.iter().enumerate() {
            violations.text(&format!("measures_taken[{index}]"), measure, 1, 1000);
        }
        violations.distinct("measures_taken", &self.measures_taken, |measure| {
            measure.trim()
        });
        violations.text("likely_consequences", &self.likely_consequences, 0, 5000);
        if self.recommended_actions.len() > 10 {
            violations.add("recommended_actions", "must have 0..=10 entries");
        }
        for (index, action) in self.recommended_actions.iter().enumerate() {
            violations.text(&format!("recommended_actions[{index}]"), action, 1, 1000);
        }
        violations.distinct("recommended_actions", &self.recommended_actions, |action| {
            action.trim()
        });

        match &self.contact {
            None => violations.add("contact", "required (email or url)"),
            Some(contact) => validate_contact(contact, &mut violations),
        }

        if let Some(notified) = self.authority_notified_at.as_ref() {
            let notified = violations.required_time("authority_notified_at", Some(notified));
            if let (Some(notified), Some(discovered)) = (notified, discovered_at)
                && is_before(notified, discovered)
            {
                violations.add("authority_notified_at", "must not be before discovered_at");
            }
            if let Some(notified) = notified
                && is_before(&to_timestamp(now + ALLOWED_CLOCK_SKEW), notified)
            {
                violations.add("authority_notified_at", "must not be in the future");
            }
        }
        violations.text(
            "late_notification_reason",
            &self.late_notification_reason,
            0,
            2000,
        );

        violations.finish()
    }

    fn validate_data_classes(&self, violations: &mut Violations) {
        if !(1..=32).contains(&self.data_classes.len()) {
            violations.add("data_classes", "must have 1..=32 entries");
        }
        // What makes two entries the same: the class, and for
        // DATA_CLASS_OTHER also its (trimmed) description.
        let mut keys = Vec::with_capacity(self.data_classes.len());
        for (index, taken) in self.data_classes.iter().enumerate() {
            let field = format!("data_classes[{index}]");
            let description = taken.description.trim();
            let key = match DataClass::try_from(taken.data_class) {
                Ok(DataClass::Unspecified) | Err(_) => {
                    violations.add(
                        format!("{field}.data_class"),
                        "must be a known DATA_CLASS_* value",
                    );
                    None
                }
                Ok(DataClass::Other) if description.is_empty() => {
                    violations.add(
                        format!("{field}.description"),
                        "required for DATA_CLASS_OTHER",
                    );
                    None
                }
                Ok(DataClass::Other) => Some((DataClass::Other, description)),
                Ok(class) => Some((class, "")),
            };
            keys.push(key);
            if let Some(first) = first_duplicate(&keys, index) {
                let duplicated = if taken.data_class == DataClass::Other as i32 {
                    field.clone()
                } else {
                    format!("{field}.data_class")
                };
                violations.add(duplicated, format!("duplicate of data_classes[{first}]"));
            }
            violations.line(&format!("{field}.description"), &taken.description, 0, 200);
        }
    }
}

fn validate_compensation(compensation: &Compensation, violations: &mut Violations) {
    let kind =
        CompensationKind::try_from(compensation.kind).unwrap_or(CompensationKind::Unspecified);
    if kind == CompensationKind::Unspecified {
        violations.add(
            "compensation.kind",
            "must be a known COMPENSATION_KIND_* value",
        );
    }
    let value = compensation.value_minor_units;
    if value < 0 {
        violations.add("compensation.value_minor_units", "must be >= 0");
    }
    if kind == CompensationKind::None && value != 0 {
        violations.add(
            "compensation.value_minor_units",
            "must be 0 for COMPENSATION_KIND_NONE",
        );
    }
    if kind == CompensationKind::AccountCredit && value <= 0 {
        violations.add(
            "compensation.value_minor_units",
            "must be > 0 for COMPENSATION_KIND_ACCOUNT_CREDIT",
        );
    }
    if value > 0 && !is_currency(&compensation.currency) {
        violations.add(
            "compensation.currency",
            "must be an ISO 4217 code such as USD",
        );
    }
    if value <= 0 && !compensation.currency.is_empty() {
        violations.add(
            "compensation.currency",
            "must be empty when there is no value",
        );
    }
    let days = compensation.duration_days;
    if kind == CompensationKind::PaidMembership && !(1..=3650).contains(&days) {
        violations.add(
            "compensation.duration_days",
            "must be 1..=3650 for COMPENSATION_KIND_PAID_MEMBERSHIP",
        );
    }
    if kind != CompensationKind::PaidMembership && days != 0 {
        violations.add(
            "compensation.duration_days",
            "must be 0 unless COMPENSATION_KIND_PAID_MEMBERSHIP",
        );
    }
    violations.text(
        "compensation.description",
        &compensation.description,
        0,
        500,
    );
}

fn validate_contact(contact: &Contact, violations: &mut Violations) {
    if contact.email.is_empty() && contact.url.is_empty() {
        violations.add("contact", "needs an email or a url");
    }
    if !contact.email.is_empty() && !is_email(&contact.email) {
        violations.add(
            "contact.email",
            "must be an email address of 3..=254 characters",
        );
    }
    if !contact.url.is_empty() && !is_url(&contact.url) {
        violations.add(
            "contact.url",
            "must be an absolute https:// URL of at most 2048 characters",
        );
    }
    if !contact.phone.is_empty() && !is_e164(&contact.phone) {
        violations.add("contact.phone", "must be in E.164 form, e.g. +14155550100");
    }
}
