//! `account.deactivated`: closes the membership for new credits; the ledger
//! stays.

use candor_platform::messaging::{HandlerError, IncomingMessage};
use candor_proto::events::v1::AccountDeactivated;
use sqlx::PgPool;

use crate::domain::validation::parse_uuid;
use crate::store::memberships;

#[tracing::instrument(skip_all, fields(account_id))]
pub(super) async fn handle(pool: &PgPool, message: &IncomingMessage) -> Result<(), HandlerError> {
    let event: AccountDeactivated = message.decode_event()?;
    event.validate().map_err(HandlerError::invalid)?;
    let account_id = parse_uuid(&event.account_id)
        .ok_or_else(|| HandlerError::invalid("account_id is not a UUID"))?;
    tracing::Span::current().record("account_id", tracing::field::display(account_id));
    let deactivated_at = candor_platform::time::datetime_or_now(event.deactivated_at.as_ref());
    let mut conn = pool.acquire().await?;
    if memberships::close(&mut conn, account_id, deactivated_at).await? {
        tracing::info!(%account_id, "membership closed");
    }
    Ok(())
}
