//! ListNotices: the calling member's security notices, kept in the product
//! for every incident whose emailed notice did not reach them (or that
//! found them without an email address). Unacknowledged first, then (when
//! asked) acknowledged, each newest first, at most [`MAX_NOTICES`].

use anyhow::Context as _;
use candor_proto::account::v1::{ListNoticesRequest, ListNoticesResponse, SecurityNotice};
use candor_proto::events::v1::BreachReported;
use prost::Message as _;
use tonic::Request;

use super::Shared;
use super::caller::member_session;
use crate::convert::in_app_notice;
use crate::errors::ListNoticesError;
use crate::store::notices::{self, MemberNotice};

/// The most notices one answer carries (the contract's bound).
const MAX_NOTICES: i64 = 100;

/// A stored notice as the contract's message, its incident as recorded.
pub(super) fn security_notice(row: MemberNotice) -> anyhow::Result<SecurityNotice> {
    let incident = BreachReported::decode(row.event.as_slice())
        .with_context(|| format!("decoding the recorded incident {}", row.incident_id))?;
    Ok(SecurityNotice {
        incident_id: row.incident_id,
        incident: Some(incident),
        password_reset_required: row.password_reset_required,
        thread_url: row.thread_url.unwrap_or_default(),
        in_app_notice: Some(in_app_notice(
            row.reason,
            row.raised_at,
            row.acknowledged_at,
        )),
    })
}

#[tracing::instrument(skip_all)]
pub async fn list_notices(
    shared: &Shared,
    request: Request<ListNoticesRequest>,
) -> Result<ListNoticesResponse, ListNoticesError> {
    let mut conn = shared.connection().await?;
    let session = member_session(&mut conn, request.metadata()).await?;
    let rows = notices::list_for_member(
        &mut conn,
        session.account_id,
        request.get_ref().include_acknowledged,
        MAX_NOTICES,
    )
    .await
    .context("listing the member's notices")?;
    let notices = rows
        .into_iter()
        .map(security_notice)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ListNoticesResponse { notices })
}
