//! GetIncidentThread: the announcement thread of an incident.

use anyhow::Context as _;
use candor_proto::forum::v1::{GetIncidentThreadRequest, GetIncidentThreadResponse};

use super::{ForumApi, convert};
use crate::domain::fields::check_lookup_id;
use crate::errors::GetIncidentThreadError;
use crate::store::threads;

pub(super) async fn get_incident_thread(
    api: &ForumApi,
    request: GetIncidentThreadRequest,
) -> Result<GetIncidentThreadResponse, GetIncidentThreadError> {
    check_lookup_id("incident_id", &request.incident_id)?;
    let mut conn = api.pool.acquire().await.context("acquiring a connection")?;
    let row = threads::get_by_incident(&mut conn, &request.incident_id)
        .await
        .context("reading the incident thread")?
        .ok_or(GetIncidentThreadError::IncidentThreadNotFound(
            request.incident_id,
        ))?;
    Ok(GetIncidentThreadResponse {
        thread: Some(convert::thread(&row, &api.links)),
    })
}
