//! `account.deactivated`: the member's address is suppressed and their
//! waiting notices are not sent.

use candor_platform::messaging::HandlerError;
use candor_platform::time::datetime_or_now;
use candor_proto::events::v1::AccountDeactivated;

use super::{EventHandler, parse_uuid};
use crate::store;

impl EventHandler {
    #[tracing::instrument(skip_all, fields(account_id = %event.account_id))]
    pub(super) async fn account_deactivated(
        &self,
        event: AccountDeactivated,
    ) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::invalid)?;
        let account_id = parse_uuid("account_id", &event.account_id)?;
        let mut transaction = self.pool.begin().await?;
        let suppressed = store::incidents::record_deactivation(
            &mut transaction,
            account_id,
            datetime_or_now(event.deactivated_at.as_ref()),
        )
        .await?;
        transaction.commit().await?;
        tracing::info!(suppressed, "deactivation recorded");
        Ok(())
    }
}
