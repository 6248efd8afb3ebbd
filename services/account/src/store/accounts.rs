//! The `accounts` table.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::password::{LegacyHash, StoredPassword};

/// `candor.account.v1.PasswordState` values as stored.
pub const PASSWORD_OK: i16 = 1;
pub const PASSWORD_CHANGE_REQUIRED: i16 = 2;
pub const PASSWORD_RESET_REQUIRED: i16 = 3;

/// An account as its queries return it: every query below names these
/// columns in this order.
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub account_id: Uuid,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub roles: Vec<i16>,
    pub joined_at: DateTime<Utc>,
    pub deactivated_at: Option<DateTime<Utc>>,
    pub password_hash: Option<String>,
    pub legacy_algorithm: Option<i16>,
    pub legacy_salt: Option<String>,
    pub password_state: i16,
}

impl AccountRow {
    /// The stored password as the hasher needs it.
    pub fn stored_password(&self) -> StoredPassword {
        match (&self.password_hash, self.legacy_algorithm) {
            (None, _) => StoredPassword::None,
            (Some(phc), None) => StoredPassword::Argon2(phc.clone()),
            (Some(wrapped), Some(algorithm)) => StoredPassword::Legacy(LegacyHash {
                algorithm,
                salt: self.legacy_salt.clone().unwrap_or_default(),
                wrapped: wrapped.clone(),
            }),
        }
    }

    pub fn is_active(&self) -> bool {
        self.deactivated_at.is_none()
    }
}

/// Creates an account with an argon2id password. A taken email is a unique
/// violation on `accounts_email_key`.
pub async fn insert(
    conn: &mut PgConnection,
    account_id: Uuid,
    email: &str,
    display_name: &str,
    password_hash: &str,
) -> sqlx::Result<AccountRow> {
    sqlx::query_as!(
        AccountRow,
        "INSERT INTO accounts (account_id, email, display_name, password_hash, joined_at, password_changed_at)
         VALUES ($1, $2, $3, $4, now(), now())
         RETURNING account_id, email, display_name, roles, joined_at, deactivated_at,
                   password_hash, legacy_algorithm, legacy_salt, password_state",
        account_id,
        email,
        display_name,
        password_hash,
    )
    .fetch_one(conn)
    .await
}

/// The active account with this (normalized) email, compared case-insensitively.
pub async fn find_active_by_email(
    conn: &mut PgConnection,
    email: &str,
) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as!(
        AccountRow,
        "SELECT account_id, email, display_name, roles, joined_at, deactivated_at,
                password_hash, legacy_algorithm, legacy_salt, password_state
         FROM accounts WHERE lower(email) = lower($1) AND deactivated_at IS NULL",
        email,
    )
    .fetch_optional(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, account_id: Uuid) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as!(
        AccountRow,
        "SELECT account_id, email, display_name, roles, joined_at, deactivated_at,
                password_hash, legacy_algorithm, legacy_salt, password_state
         FROM accounts WHERE account_id = $1",
        account_id,
    )
    .fetch_optional(conn)
    .await
}

/// A password the member set themselves: clears any requirement and any
/// legacy hash.
pub async fn set_password(
    conn: &mut PgConnection,
    account_id: Uuid,
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE accounts SET password_hash = $2, legacy_algorithm = NULL, legacy_salt = NULL,
                password_state = 1, password_changed_at = now()
         WHERE account_id = $1",
        account_id,
        password_hash,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces a wrapped legacy hash by argon2id of the same password, unless
/// the password changed meanwhile (the legacy hash is gone).
/// Replaces a stored hash (legacy, or argon2 at other parameters) with a
/// policy argon2id hash after a successful login; a no-op when the hash
/// changed meanwhile (a concurrent login or password change won).
pub async fn upgrade_hash(
    conn: &mut PgConnection,
    account_id: Uuid,
    wrapped: &str,
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE accounts SET password_hash = $3, legacy_algorithm = NULL, legacy_salt = NULL
         WHERE account_id = $1 AND password_hash = $2",
        account_id,
        wrapped,
        password_hash,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_roles(
    conn: &mut PgConnection,
    account_id: Uuid,
    roles: &[i16],
) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as!(
        AccountRow,
        "UPDATE accounts SET roles = $2 WHERE account_id = $1 AND deactivated_at IS NULL
         RETURNING account_id, email, display_name, roles, joined_at, deactivated_at,
                   password_hash, legacy_algorithm, legacy_salt, password_state",
        account_id,
        roles,
    )
    .fetch_optional(conn)
    .await
}

/// Erases personal data and credentials and marks the account deactivated;
/// the id stays. Also erases the copies frozen in incidents' affected sets.
/// Returns when it took effect, `None` if it already was deactivated.
pub async fn deactivate(
    conn: &mut PgConnection,
    account_id: Uuid,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let deactivated_at = sqlx::query_scalar!(
        // Set to now() by this very statement: never NULL.
        r#"UPDATE accounts SET email = NULL, display_name = NULL, password_hash = NULL,
                legacy_algorithm = NULL, legacy_salt = NULL, roles = '{}', deactivated_at = now()
         WHERE account_id = $1 AND deactivated_at IS NULL
         RETURNING deactivated_at AS "deactivated_at!""#,
        account_id,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if deactivated_at.is_some() {
        sqlx::query!(
            // Through the primary key of each incident: there is no index by
            // account alone (it slowed down every freeze).
            "UPDATE incident_accounts SET email = '', display_name = ''
             WHERE incident_id IN (SELECT incident_id FROM incidents) AND account_id = $1",
            account_id,
        )
        .execute(conn)
        .await?;
    }
    Ok(deactivated_at)
}
