//! The rules of the events that follow a `BreachReported` or concern one
//! account: `AccountsAffected`, `EnumerationCompleted`,
//! `IncidentThreadOpened`, `AccountDeactivated` and `NoticeUndelivered`.
//! Every consumer calls
//! these, so a batch is refused for the same reasons everywhere.
//!
//! Incident ids follow `BreachReported`'s rule: an event about an incident
//! that could never be reported would otherwise wait for it until it
//! expires.

use super::{ValidationError, Violations, is_email, is_incident_id, is_url};
use crate::events::v1::{
    AccountDeactivated, AccountsAffected, AffectedAccount, DataClass, EnumerationCompleted,
    IncidentThreadOpened, NoticeUndelivered, UndeliveredReason,
};

/// Most accounts one `AccountsAffected` batch may carry.
pub const MAX_BATCH_ACCOUNTS: usize = 1000;

/// The data classes the account service keeps about a member, and so the
/// only ones `AffectedAccount.held_data_classes` may list: what it held
/// about each affected member decides which of these the member's notice
/// claims were taken.
pub const ACCOUNT_DATA_CLASSES: [DataClass; 3] = [
    DataClass::EmailAddress,
    DataClass::DisplayName,
    DataClass::PasswordHash,
];

impl Violations {
    fn incident_id(&mut self, value: &str) {
        if !is_incident_id(value) {
            self.add(
                "incident_id",
                "must be 1..=64 characters of [a-z0-9._-], starting with a letter or digit",
            );
        }
    }

    /// `held_data_classes`: each one of [`ACCOUNT_DATA_CLASSES`], at most
    /// once; the email address listed when the account has one and never
    /// when it has none (an empty list means "not known").
    fn held_data_classes(&mut self, account_field: &str, account: &AffectedAccount) {
        let field = format!("{account_field}.held_data_classes");
        let held = &account.held_data_classes;
        for (index, class) in held.iter().enumerate() {
            let known = DataClass::try_from(*class)
                .is_ok_and(|class| ACCOUNT_DATA_CLASSES.contains(&class));
            if !known {
                self.add(
                    format!("{field}[{index}]"),
                    "must be DATA_CLASS_EMAIL_ADDRESS, DATA_CLASS_DISPLAY_NAME or DATA_CLASS_PASSWORD_HASH",
                );
            }
        }
        self.distinct(&field, held, |class| *class);
        let lists_email = held.contains(&(DataClass::EmailAddress as i32));
        let has_email = !account.email.trim().is_empty();
        if !held.is_empty() && has_email && !lists_email {
            self.add(
                field.clone(),
                "must include DATA_CLASS_EMAIL_ADDRESS (the account has an email address)",
            );
        }
        if !has_email && lists_email {
            self.add(
                field,
                "must not include DATA_CLASS_EMAIL_ADDRESS (the account has no email address)",
            );
        }
    }

    /// A UUID in any form `uuid` parses (surrounding blanks ignored).
    fn uuid(&mut self, field: &str, value: &str) -> Option<uuid::Uuid> {
        let parsed = uuid::Uuid::parse_str(value.trim()).ok();
        if parsed.is_none() {
            self.add(field, "must be a UUID");
        }
        parsed
    }
}

impl AccountsAffected {
    /// Checks the batch: a reported-style incident id, a sequence of
    /// 1..=2147483647, 1..=1000 accounts with distinct UUIDs and an email
    /// address each or none (surrounding blanks ignored; an account without
    /// one is affected too), and held data classes among
    /// [`ACCOUNT_DATA_CLASSES`], each at most once.
    ///
    /// Display names are deliberately not checked here: a batch is refused
    /// as a whole, and one member's name (an imported one, say) must not
    /// hold back the breach notices of everyone else in the batch. The
    /// notice builder refuses a name that cannot go into a header (line
    /// breaks, control characters) for that one notice, which fails alone.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut violations = Violations::default();
        violations.incident_id(&self.incident_id);
        if self.batch_sequence < 1 || i32::try_from(self.batch_sequence).is_err() {
            violations.add("batch_sequence", "must be 1..=2147483647");
        }
        if self.accounts.is_empty() || self.accounts.len() > MAX_BATCH_ACCOUNTS {
            violations.add(
                "accounts",
                format!(
                    "must hold 1..={MAX_BATCH_ACCOUNTS} entries, got {}",
                    self.accounts.len()
                ),
            );
        }
        let mut ids = Vec::with_capacity(self.accounts.len());
        for (index, account) in self.accounts.iter().enumerate() {
            let field = format!("accounts[{index}]");
            if let Some(id) = violations.uuid(&format!("{field}.account_id"), &account.account_id) {
                ids.push(id);
            }
            let email = account.email.trim();
            if !email.is_empty() && !is_email(email) {
                violations.add(
                    format!("{field}.email"),
                    "must be empty or an email address of 3..=254 characters",
                );
            }
            violations.held_data_classes(&field, account);
        }
        ids.sort_unstable();
        let parsed = ids.len();
        ids.dedup();
        if ids.len() != parsed {
            violations.add("accounts", "holds the same account_id twice");
        }
        violations.finish()
    }
}

impl EnumerationCompleted {
    /// Checks the totals: a reported-style incident id, counts that fit the
    /// stores (`affected_accounts` as a signed 64-bit, `batch_count` as a
    /// signed 32-bit number), and no batches exactly when nobody is affected.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut violations = Violations::default();
        violations.incident_id(&self.incident_id);
        if i64::try_from(self.affected_accounts).is_err() {
            violations.add("affected_accounts", "is out of range");
        }
        if i32::try_from(self.batch_count).is_err() {
            violations.add("batch_count", "is out of range");
        }
        if (self.affected_accounts == 0) != (self.batch_count == 0) {
            violations.add(
                "batch_count",
                "must be 0 exactly when affected_accounts is 0",
            );
        }
        violations.finish()
    }
}

impl IncidentThreadOpened {
    /// Checks the thread: a reported-style incident id, a UUID thread id and
    /// an absolute http(s) URL of at most 2048 characters (surrounding blanks
    /// ignored).
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut violations = Violations::default();
        violations.incident_id(&self.incident_id);
        violations.uuid("thread_id", &self.thread_id);
        if !is_url(self.url.trim()) {
            violations.add(
                "url",
                "must be an absolute http(s) URL of at most 2048 characters",
            );
        }
        violations.finish()
    }
}

impl AccountDeactivated {
    /// Checks the account id (a UUID).
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut violations = Violations::default();
        violations.uuid("account_id", &self.account_id);
        violations.finish()
    }
}

impl NoticeUndelivered {
    /// Checks the report: a reported-style incident id, a UUID account id,
    /// a known reason and a time.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut violations = Violations::default();
        violations.incident_id(&self.incident_id);
        violations.uuid("account_id", &self.account_id);
        match UndeliveredReason::try_from(self.reason) {
            Ok(UndeliveredReason::Unspecified) | Err(_) => violations.add(
                "reason",
                "must be UNDELIVERED_REASON_FAILED, _SUPPRESSED, _BOUNCED or _NO_EMAIL_ADDRESS",
            ),
            Ok(_) => {}
        }
        if self.occurred_at.is_none() {
            violations.add("occurred_at", "required");
        }
        violations.finish()
    }
}
