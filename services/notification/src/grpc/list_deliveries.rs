//! ListDeliveries: deliveries by incident, account, state and kind, paged
//! by a token bound to the filters.

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::notification::v1::{
    DeliveryState, EmailKind, ListDeliveriesRequest, ListDeliveriesResponse,
};
use sqlx::PgPool;

use super::convert;
use crate::domain::validation::{OPTIONAL_ID, PAGE_TOKEN, optional_uuid};
use crate::errors::ListDeliveriesError;
use crate::store;
use crate::store::deliveries::Filter;

pub(super) async fn list_deliveries(
    pool: &PgPool,
    request: ListDeliveriesRequest,
) -> Result<ListDeliveriesResponse, ListDeliveriesError> {
    let state = DeliveryState::try_from(request.state)
        .map_err(|_| InvalidField::new("state", "unknown value"))?;
    let kind = EmailKind::try_from(request.kind)
        .map_err(|_| InvalidField::new("kind", "unknown value"))?;
    InvalidField::check("incident_id", &request.incident_id, OPTIONAL_ID)?;
    InvalidField::check("page_token", &request.page_token, PAGE_TOKEN)?;
    let filter = Filter {
        incident_id: Some(request.incident_id.clone()).filter(|id| !id.is_empty()),
        account_id: optional_uuid("account_id", &request.account_id)?,
        state: convert::state_name(state),
        kind: convert::kind_name(kind),
    };
    let after = convert::decode_page_token(&filter, &request.page_token)?;
    let page_size = match request.page_size {
        0 => 100,
        size => size.min(1000),
    };
    let mut connection = pool.acquire().await.context("acquiring a connection")?;
    let mut rows = store::deliveries::list(&mut connection, &filter, after, page_size + 1)
        .await
        .context("listing deliveries")?;
    let more = rows.len() > page_size as usize;
    rows.truncate(page_size as usize);
    let next_page_token = match rows.last() {
        Some(last) if more => convert::encode_page_token(&filter, last),
        _ => String::new(),
    };
    Ok(ListDeliveriesResponse {
        deliveries: rows.into_iter().map(convert::delivery).collect(),
        next_page_token,
    })
}
