//! GetIncident: the incident exactly as recorded, so an operator's re-report
//! can be compared with it before it is published.

use anyhow::Context as _;
use candor_proto::account::v1::{GetIncidentRequest, GetIncidentResponse};
use candor_proto::events::v1::BreachReported;
use prost::Message as _;
use tonic::Request;

use super::Shared;
use crate::convert::timestamp;
use crate::domain::validation;
use crate::errors::GetIncidentError;
use crate::store::incidents;

#[tracing::instrument(skip_all, fields(incident_id = %request.get_ref().incident_id))]
pub async fn get_incident(
    shared: &Shared,
    request: Request<GetIncidentRequest>,
) -> Result<GetIncidentResponse, GetIncidentError> {
    let incident_id = validation::incident_id(request.into_inner().incident_id)?;
    let mut conn = shared.connection().await?;
    let recorded = incidents::recorded(&mut conn, &incident_id)
        .await
        .context("reading the incident")?
        .ok_or(GetIncidentError::NotFound)?;
    let incident = BreachReported::decode(recorded.event.as_slice())
        .context("decoding the recorded incident")?;
    Ok(GetIncidentResponse {
        incident: Some(incident),
        recorded_at: Some(timestamp(recorded.recorded_at)),
    })
}
