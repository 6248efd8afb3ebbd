//! The question before a publish that emails every affected member and may
//! force tens of thousands of password changes: who is emailed (the account
//! service's dry-run count), who must change their password (the scope in
//! words) and what everyone receives. Asked on the terminal; a run without
//! one must say `--yes`.

use std::io::{BufRead, IsTerminal, Write};

use candor_proto::account::v1::CountAffectedAccountsResponse;
use candor_proto::events::v1::{BreachReported, CompensationKind, PasswordResetScope};

use crate::timefmt;

/// Whether the operator can be asked: standard input is a terminal.
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal()
}

/// What publishing `breach` will do, one line per consequence.
pub fn summary(breach: &BreachReported, count: &CountAffectedAccountsResponse) -> String {
    let cutoff = breach
        .affected_joined_before
        .as_ref()
        .map(timefmt::rfc3339)
        .unwrap_or_default();
    let mut emailed = format!(
        "{} affected members (joined before {cutoff}, active)",
        count.affected_accounts
    );
    if count.without_email > 0 {
        emailed.push_str(&format!(
            "; {} of them have no email address and are told in the product",
            count.without_email
        ));
    }
    if count.excluded_deactivated > 0 {
        emailed.push_str(&format!(
            "; left out: {} deactivated",
            count.excluded_deactivated
        ));
    }
    let passwords = match breach.password_reset_scope() {
        PasswordResetScope::All => format!(
            "every member: the passwords of the {} affected members stop working now, and the {} other members must change theirs at their next login",
            count.affected_accounts, count.other_accounts_change_required
        ),
        PasswordResetScope::Affected => format!(
            "the {} affected members: their passwords stop working now (other members keep theirs)",
            count.affected_accounts
        ),
        PasswordResetScope::None | PasswordResetScope::Unspecified => {
            "nobody (password_reset_scope = none)".to_owned()
        }
    };
    format!(
        "Reporting incident {} ({:?}):\n  emailed:          {emailed}\n  password changes: {passwords}\n  compensation:     {}\n",
        breach.incident_id,
        breach.title,
        compensation(breach)
    )
}

fn compensation(breach: &BreachReported) -> String {
    let Some(compensation) = &breach.compensation else {
        return "none".to_owned();
    };
    let kind = match compensation.kind() {
        CompensationKind::None | CompensationKind::Unspecified => return "none".to_owned(),
        CompensationKind::LifetimeMembership => "lifetime membership",
        CompensationKind::PaidMembership => "paid membership",
        CompensationKind::AccountCredit => "account credit",
    };
    let mut words = format!("{kind} for every affected member");
    if compensation.duration_days > 0 {
        words.push_str(&format!(", {} days", compensation.duration_days));
    }
    if compensation.value_minor_units > 0 {
        words.push_str(&format!(
            ", worth {} in minor units of {}",
            compensation.value_minor_units, compensation.currency
        ));
    }
    if !compensation.description.is_empty() {
        words.push_str(&format!(" ({:?})", compensation.description));
    }
    words
}

/// Shows `summary` on standard error and asks; `true` only for an explicit
/// yes. End of input is a no.
pub fn ask(summary: &str) -> std::io::Result<bool> {
    let mut stderr = std::io::stderr().lock();
    write!(stderr, "{summary}Publish? [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

#[cfg(test)]
mod tests {
    use candor_proto::events::v1::Compensation;

    use super::*;

    #[test]
    fn the_summary_names_who_is_emailed_who_changes_passwords_and_the_compensation() {
        let breach = BreachReported {
            incident_id: "i-1".to_owned(),
            title: "Stolen".to_owned(),
            affected_joined_before: Some(prost_types::Timestamp {
                seconds: 1_320_105_600,
                nanos: 0,
            }),
            password_reset_scope: PasswordResetScope::All as i32,
            compensation: Some(Compensation {
                kind: CompensationKind::LifetimeMembership as i32,
                value_minor_units: 2500,
                currency: "USD".to_owned(),
                description: "a lifetime membership".to_owned(),
                duration_days: 0,
            }),
            ..BreachReported::default()
        };
        let count = CountAffectedAccountsResponse {
            affected_accounts: 600,
            without_email: 2,
            excluded_deactivated: 1,
            other_accounts_change_required: 400,
            ..CountAffectedAccountsResponse::default()
        };
        let summary = summary(&breach, &count);
        assert!(
            summary.contains(
                "emailed:          600 affected members (joined before 2011-11-01T00:00:00Z"
            ),
            "{summary}"
        );
        assert!(
            summary.contains(
                "2 of them have no email address and are told in the product; left out: 1 deactivated"
            ),
            "{summary}"
        );
        assert!(summary.contains("every member: the passwords of the 600 affected members stop working now, and the 400 other members"), "{summary}");
        assert!(summary.contains("lifetime membership for every affected member, worth 2500 in minor units of USD (\"a lifetime membership\")"), "{summary}");
    }
}
