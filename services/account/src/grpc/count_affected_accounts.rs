//! CountAffectedAccounts: how many accounts an incident with this cutoff
//! would affect, before it is reported (members without an email address
//! among them, since API 1.1.0).

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::account::v1::{CountAffectedAccountsRequest, CountAffectedAccountsResponse};
use candor_proto::events::v1::PasswordResetScope;
use chrono::Utc;
use tonic::Request;

use super::Shared;
use crate::convert::{from_timestamp, non_negative, timestamp};
use crate::errors::CountAffectedAccountsError;
use crate::store::incidents;

// Sets the deprecated `excluded_without_email` (always 0).
#[allow(deprecated)]
#[tracing::instrument(skip_all)]
pub async fn count_affected_accounts(
    shared: &Shared,
    request: Request<CountAffectedAccountsRequest>,
) -> Result<CountAffectedAccountsResponse, CountAffectedAccountsError> {
    let request = request.into_inner();
    let cutoff = request
        .affected_joined_before
        .as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| InvalidField::new("affected_joined_before", "required"))?;
    let scope = match PasswordResetScope::try_from(request.password_reset_scope) {
        Ok(PasswordResetScope::Unspecified) | Err(_) => {
            return Err(InvalidField::new("password_reset_scope", "must be specified").into());
        }
        Ok(scope) => scope,
    };
    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
    let counts = incidents::count_affected(&mut conn, cutoff)
        .await
        .context("counting affected accounts")?;
    Ok(CountAffectedAccountsResponse {
        affected_accounts: non_negative(counts.affected),
        // Deprecated since API 1.1.0: members without an email address are
        // affected (`without_email` counts them among `affected_accounts`).
        excluded_without_email: 0,
        without_email: non_negative(counts.without_email),
        excluded_deactivated: non_negative(counts.deactivated),
        other_accounts_change_required: if scope == PasswordResetScope::All {
            non_negative(counts.active_total)
        } else {
            0
        },
        counted_at: Some(timestamp(Utc::now())),
    })
}
