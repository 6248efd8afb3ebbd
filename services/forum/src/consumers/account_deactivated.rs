//! `account.deactivated`: the author is shown as a former member from now
//! on, and their cached sessions are forgotten.

use candor_platform::auth::SessionResolver;
use candor_platform::messaging::HandlerError;
use candor_proto::events::v1::AccountDeactivated;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::authors;

#[tracing::instrument(skip_all, fields(account_id = %event.account_id))]
pub(super) async fn erase_author(
    pool: &PgPool,
    sessions: &SessionResolver,
    event: AccountDeactivated,
) -> Result<(), HandlerError> {
    let account_id = Uuid::parse_str(&event.account_id)
        .map_err(|_| HandlerError::invalid("account_id: must be a UUID"))?;
    let deactivated_at = event
        .deactivated_at
        .and_then(|at| DateTime::<Utc>::from_timestamp(at.seconds, u32::try_from(at.nanos).ok()?))
        .unwrap_or_else(Utc::now);
    let mut conn = pool.acquire().await?;
    authors::deactivate(&mut conn, account_id, deactivated_at).await?;
    // Other replicas' caches expire within the TTL; posting also checks the
    // author table.
    sessions.forget_account(account_id);
    tracing::info!("author shown as former member");
    Ok(())
}
