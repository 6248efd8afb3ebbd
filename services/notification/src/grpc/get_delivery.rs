//! GetDelivery: one delivery by id.

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::notification::v1::{GetDeliveryRequest, GetDeliveryResponse};
use sqlx::PgPool;
use uuid::Uuid;

use super::convert;
use crate::errors::GetDeliveryError;
use crate::store;

pub(super) async fn get_delivery(
    pool: &PgPool,
    request: GetDeliveryRequest,
) -> Result<GetDeliveryResponse, GetDeliveryError> {
    let job_id = Uuid::parse_str(&request.delivery_id)
        .map_err(|_| InvalidField::new("delivery_id", "must be a UUID"))?;
    let mut connection = pool.acquire().await.context("acquiring a connection")?;
    let row = store::deliveries::get(&mut connection, job_id)
        .await
        .context("reading the delivery")?
        .ok_or(GetDeliveryError::NotFound(job_id))?;
    Ok(GetDeliveryResponse {
        delivery: Some(convert::delivery(row)),
    })
}
