//! Conversions between stored rows and the contract's messages.

use candor_proto::account::v1::{Account, AccountState, InAppNotice, PasswordState, Role};
use candor_proto::events::v1::DataClass;
use chrono::{DateTime, Utc};

use crate::store::accounts::AccountRow;

pub use candor_platform::time::timestamp;

/// `None` for an out-of-range or negative-nanos timestamp.
pub use candor_platform::time::datetime as from_timestamp;

/// A count from PostgreSQL (never negative) as the contract's unsigned.
pub fn non_negative(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// What was held about a frozen affected member, as
/// `AffectedAccount.held_data_classes`: the email address when the member
/// has one (frozen as `''` when not, or erased since), the display name
/// when not blank, the password hash when there was one. Empty when frozen
/// before the password was recorded (not known: the notice then claims
/// every class).
pub fn held_data_classes(
    email: &str,
    display_name: &str,
    had_password_hash: Option<bool>,
) -> Vec<i32> {
    let Some(had_password_hash) = had_password_hash else {
        return Vec::new();
    };
    let mut held = Vec::with_capacity(3);
    if !email.trim().is_empty() {
        held.push(DataClass::EmailAddress as i32);
    }
    if !display_name.trim().is_empty() {
        held.push(DataClass::DisplayName as i32);
    }
    if had_password_hash {
        held.push(DataClass::PasswordHash as i32);
    }
    held
}

/// A stored in-app notice (its `UndeliveredReason` as stored) as the
/// contract's message.
pub fn in_app_notice(
    reason: i16,
    raised_at: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
) -> InAppNotice {
    InAppNotice {
        reason: i32::from(reason),
        raised_at: Some(timestamp(raised_at)),
        acknowledged_at: acknowledged_at.map(timestamp),
    }
}

/// The account as other parties may see it: a tombstone once deactivated.
pub fn account(row: &AccountRow) -> Account {
    let deactivated = row.deactivated_at.is_some();
    let password_state =
        PasswordState::try_from(i32::from(row.password_state)).unwrap_or(PasswordState::Ok);
    Account {
        account_id: row.account_id.to_string(),
        email: if deactivated {
            String::new()
        } else {
            row.email.clone().unwrap_or_default()
        },
        display_name: if deactivated {
            String::new()
        } else {
            row.display_name.clone().unwrap_or_default()
        },
        roles: roles(&row.roles),
        state: if deactivated {
            AccountState::Deactivated
        } else {
            AccountState::Active
        } as i32,
        password_state: password_state as i32,
        joined_at: Some(timestamp(row.joined_at)),
        deactivated_at: row.deactivated_at.map(timestamp),
    }
}

/// Stored role numbers, ascending, without duplicates, known ones only.
pub fn roles(stored: &[i16]) -> Vec<i32> {
    let mut roles: Vec<i32> = stored
        .iter()
        .map(|role| i32::from(*role))
        .filter(|role| Role::try_from(*role).is_ok_and(|role| role != Role::Unspecified))
        .collect();
    roles.sort_unstable();
    roles.dedup();
    roles
}
