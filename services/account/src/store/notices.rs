//! `incident_notices`: the security notice of an incident kept for one
//! member in the product, when email did not reach them (or they have no
//! email address). Keyed by `(incident_id, account_id)`; the first report
//! raises it, later ones only update its reason.

use candor_proto::events::v1::{PasswordResetScope, UndeliveredReason};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Raises, in the freezing transaction, the notice of every frozen member
/// of `incident_id` without an email address (reason NO_EMAIL_ADDRESS).
/// Returns how many were raised: the members without an email address.
pub async fn raise_for_members_without_email(
    conn: &mut PgConnection,
    incident_id: &str,
) -> sqlx::Result<u64> {
    let raised = sqlx::query!(
        "INSERT INTO incident_notices (incident_id, account_id, reason)
         SELECT incident_id, account_id, $2::smallint
         FROM incident_accounts
         WHERE incident_id = $1 AND email = ''
         ON CONFLICT (incident_id, account_id) DO NOTHING",
        incident_id,
        UndeliveredReason::NoEmailAddress as i16,
    )
    .execute(conn)
    .await?;
    Ok(raised.rows_affected())
}

/// Where the member of a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// The incident is not recorded (yet).
    IncidentUnknown,
    /// The incident is recorded, the account is not in its affected set.
    NotAffected,
    /// Affected, and deactivated since: they get no notice.
    Deactivated,
    /// Affected and active; the account row is locked against a concurrent
    /// deactivation until the transaction ends.
    Active,
}

/// Where `account_id` stands for `incident_id`.
pub async fn member(
    conn: &mut PgConnection,
    incident_id: &str,
    account_id: Uuid,
) -> sqlx::Result<Member> {
    let known = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM incidents WHERE incident_id = $1) AS "known!""#,
        incident_id,
    )
    .fetch_one(&mut *conn)
    .await?;
    if !known {
        return Ok(Member::IncidentUnknown);
    }
    let active = sqlx::query_scalar!(
        r#"SELECT a.deactivated_at IS NULL AS "active!"
           FROM incident_accounts ia
           JOIN accounts a ON a.account_id = ia.account_id
           WHERE ia.incident_id = $1 AND ia.account_id = $2
           FOR SHARE OF a"#,
        incident_id,
        account_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(match active {
        None => Member::NotAffected,
        Some(false) => Member::Deactivated,
        Some(true) => Member::Active,
    })
}

/// What a report did to the member's notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The first report: the notice is raised.
    Raised,
    /// A later report with another reason: the reason changed.
    ReasonUpdated,
    /// A later report with the same reason: nothing changed.
    Unchanged,
}

/// Raises the notice, or updates its reason.
pub async fn record(
    conn: &mut PgConnection,
    incident_id: &str,
    account_id: Uuid,
    reason: UndeliveredReason,
) -> sqlx::Result<Recorded> {
    // `xmax = 0` only on a freshly inserted row version.
    let raised = sqlx::query_scalar!(
        r#"INSERT INTO incident_notices (incident_id, account_id, reason)
           VALUES ($1, $2, $3)
           ON CONFLICT (incident_id, account_id) DO UPDATE SET reason = EXCLUDED.reason
           WHERE incident_notices.reason <> EXCLUDED.reason
           RETURNING (xmax = 0) AS "raised!""#,
        incident_id,
        account_id,
        reason as i16,
    )
    .fetch_optional(conn)
    .await?;
    Ok(match raised {
        Some(true) => Recorded::Raised,
        Some(false) => Recorded::ReasonUpdated,
        None => Recorded::Unchanged,
    })
}

/// Notices the member has not acknowledged.
pub async fn count_pending(conn: &mut PgConnection, account_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "pending!" FROM incident_notices
           WHERE account_id = $1 AND acknowledged_at IS NULL"#,
        account_id,
    )
    .fetch_one(conn)
    .await
}

/// One of a member's notices with what ListNotices shows of its incident.
#[derive(Debug, Clone)]
pub struct MemberNotice {
    pub incident_id: String,
    /// The `BreachReported` as recorded (binary protobuf).
    pub event: Vec<u8>,
    /// `candor.events.v1.UndeliveredReason` of the latest report.
    pub reason: i16,
    pub raised_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// The incident invalidated the member's password and they have not
    /// set one since.
    pub password_reset_required: bool,
    /// The incident's forum thread, once opened.
    pub thread_url: Option<String>,
}

/// The scopes whose incidents invalidate the affected members' passwords.
fn invalidating_scopes() -> [i16; 2] {
    [
        PasswordResetScope::Affected as i16,
        PasswordResetScope::All as i16,
    ]
}

/// The member's notices: unacknowledged first, then (with
/// `include_acknowledged`) acknowledged, each newest first; at most `limit`.
pub async fn list_for_member(
    conn: &mut PgConnection,
    account_id: Uuid,
    include_acknowledged: bool,
    limit: i64,
) -> sqlx::Result<Vec<MemberNotice>> {
    sqlx::query_as!(
        MemberNotice,
        r#"SELECT n.incident_id, i.event, n.reason, n.raised_at, n.acknowledged_at,
                  (i.password_reset_scope = ANY($3)
                   AND NOT COALESCE(a.password_changed_at > i.recorded_at, false))
                      AS "password_reset_required!",
                  t.url AS "thread_url?"
           FROM incident_notices n
           JOIN incidents i ON i.incident_id = n.incident_id
           JOIN accounts a ON a.account_id = n.account_id
           LEFT JOIN incident_threads t ON t.incident_id = n.incident_id
           WHERE n.account_id = $1 AND ($2 OR n.acknowledged_at IS NULL)
           ORDER BY n.acknowledged_at IS NOT NULL, n.raised_at DESC, n.incident_id
           LIMIT $4"#,
        account_id,
        include_acknowledged,
        &invalidating_scopes()[..],
        limit,
    )
    .fetch_all(conn)
    .await
}

/// One of the member's notices, as [`list_for_member`] shows it.
pub async fn find_for_member(
    conn: &mut PgConnection,
    account_id: Uuid,
    incident_id: &str,
) -> sqlx::Result<Option<MemberNotice>> {
    sqlx::query_as!(
        MemberNotice,
        r#"SELECT n.incident_id, i.event, n.reason, n.raised_at, n.acknowledged_at,
                  (i.password_reset_scope = ANY($3)
                   AND NOT COALESCE(a.password_changed_at > i.recorded_at, false))
                      AS "password_reset_required!",
                  t.url AS "thread_url?"
           FROM incident_notices n
           JOIN incidents i ON i.incident_id = n.incident_id
           JOIN accounts a ON a.account_id = n.account_id
           LEFT JOIN incident_threads t ON t.incident_id = n.incident_id
           WHERE n.account_id = $1 AND n.incident_id = $2"#,
        account_id,
        incident_id,
        &invalidating_scopes()[..],
    )
    .fetch_optional(conn)
    .await
}

/// Records the member's acknowledgement unless there is one; returns the
/// reason of the notice when this call recorded it (`None`: no notice, or
/// acknowledged before).
pub async fn acknowledge(
    conn: &mut PgConnection,
    account_id: Uuid,
    incident_id: &str,
) -> sqlx::Result<Option<i16>> {
    sqlx::query_scalar!(
        "UPDATE incident_notices SET acknowledged_at = now()
         WHERE account_id = $1 AND incident_id = $2 AND acknowledged_at IS NULL
         RETURNING reason",
        account_id,
        incident_id,
    )
    .fetch_optional(conn)
    .await
}

/// An incident's in-app notices, for GetIncidentProgress.
#[derive(Debug, Clone, Default)]
pub struct NoticeProgress {
    /// Notices raised.
    pub raised: i64,
    /// Of `raised`, acknowledged.
    pub acknowledged: i64,
    /// The most recent acknowledgement.
    pub last_acknowledged_at: Option<DateTime<Utc>>,
}

pub async fn progress(conn: &mut PgConnection, incident_id: &str) -> sqlx::Result<NoticeProgress> {
    sqlx::query_as!(
        NoticeProgress,
        // Counts are never NULL.
        r#"SELECT count(*) AS "raised!",
                  count(acknowledged_at) AS "acknowledged!",
                  max(acknowledged_at) AS last_acknowledged_at
           FROM incident_notices WHERE incident_id = $1"#,
        incident_id,
    )
    .fetch_one(conn)
    .await
}
