//! GetIncidentProgress: how far the account service has come with an
//! incident (recorded, frozen, batches published, completion) and how its
//! in-app notices stand.

use anyhow::Context as _;
use candor_proto::account::v1::{GetIncidentProgressRequest, GetIncidentProgressResponse};
use candor_proto::events::v1::BreachReported;
use prost::Message as _;
use tonic::Request;

use super::Shared;
use crate::convert::{non_negative, timestamp};
use crate::domain::validation;
use crate::errors::GetIncidentProgressError;
use crate::store::{incidents, notices};

#[tracing::instrument(skip_all, fields(incident_id = %request.get_ref().incident_id))]
pub async fn get_incident_progress(
    shared: &Shared,
    request: Request<GetIncidentProgressRequest>,
) -> Result<GetIncidentProgressResponse, GetIncidentProgressError> {
    let incident_id = validation::incident_id(request.into_inner().incident_id)?;
    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
    let Some(incident) = incidents::find(&mut conn, &incident_id)
        .await
        .context("reading the incident")?
    else {
        return Err(GetIncidentProgressError::IncidentNotFound(incident_id));
    };
    let published = incidents::published(&mut conn, &incident_id)
        .await
        .context("counting published batches")?;
    let (reset_since, deactivated_since) = incidents::changes_since(&mut conn, &incident_id)
        .await
        .context("counting changes since the incident")?;
    let notices = notices::progress(&mut conn, &incident_id)
        .await
        .context("counting in-app notices")?;
    let batches_published = u32::try_from(published.batches_published).unwrap_or_default();
    let complete = published.complete(incident.batch_count);
    Ok(GetIncidentProgressResponse {
        incident_id,
        incident_known: true,
        incident: BreachReported::decode(incident.event.as_slice()).ok(),
        recorded_at: Some(timestamp(incident.recorded_at)),
        affected_accounts: non_negative(incident.affected_accounts),
        batches_published,
        batch_count: u32::try_from(incident.batch_count).unwrap_or_default(),
        passwords_invalidated: non_negative(incident.passwords_invalidated),
        other_accounts_change_required: non_negative(incident.other_accounts_change_required),
        sessions_revoked: non_negative(incident.sessions_revoked),
        passwords_reset_since: non_negative(reset_since),
        deactivated_since: non_negative(deactivated_since),
        enumeration_completed_at: if complete {
            incident.completed_at.map(timestamp)
        } else {
            None
        },
        complete,
        affected_without_email: non_negative(incident.affected_without_email),
        in_app_notices: non_negative(notices.raised),
        in_app_notices_acknowledged: non_negative(notices.acknowledged),
        last_acknowledged_at: notices.last_acknowledged_at.map(timestamp),
    })
}
