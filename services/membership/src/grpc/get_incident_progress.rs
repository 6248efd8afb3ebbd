//! GetIncidentProgress: how far an incident's compensation has come.

use anyhow::Context;
use candor_platform::grpc::InvalidField;
use candor_proto::events::v1::Compensation;
use candor_proto::membership::v1::{GetIncidentProgressRequest, GetIncidentProgressResponse};
use sqlx::PgPool;

use super::convert::timestamp;
use crate::domain::validation::INCIDENT_ID;
use crate::errors::GetIncidentProgressError;
use crate::store::incidents::{self, ProgressRow};

pub(super) async fn get_incident_progress(
    pool: &PgPool,
    request: GetIncidentProgressRequest,
) -> Result<GetIncidentProgressResponse, GetIncidentProgressError> {
    let incident_id = InvalidField::check("incident_id", &request.incident_id, INCIDENT_ID)?;
    let mut conn = pool.acquire().await.context("acquiring a connection")?;
    let row = incidents::progress(&mut conn, incident_id)
        .await
        .context("reading the incident's progress")?;
    // A row without `reported_at` holds only what arrived before
    // `breach.reported` (the enumeration's totals): not recorded yet.
    match row {
        Some(row) if row.reported_at.is_some() => Ok(response(row)),
        _ => Err(GetIncidentProgressError::IncidentNotFound(
            incident_id.to_owned(),
        )),
    }
}

fn response(row: ProgressRow) -> GetIncidentProgressResponse {
    let compensation = row.compensation_kind.map(|kind| Compensation {
        kind: i32::from(kind),
        value_minor_units: row.compensation_value.unwrap_or(0),
        currency: row.compensation_currency.clone().unwrap_or_default(),
        duration_days: row
            .compensation_duration_days
            .and_then(|days| u32::try_from(days).ok())
            .unwrap_or(0),
        description: row.compensation_description.clone().unwrap_or_default(),
    });
    let non_negative = |value: i64| u64::try_from(value).unwrap_or(0);
    let credited = non_negative(row.credited);
    let already_lifetime = non_negative(row.already_lifetime);
    let skipped = non_negative(row.skipped);
    let enumeration_complete = row.enumeration_completed_at.is_some();
    let expected_total = non_negative(row.expected_total.unwrap_or(0));
    let complete = row.complete();
    let completed_at = if complete {
        row.last_processed_at
            .or(row.enumeration_completed_at)
            .map(timestamp)
    } else {
        None
    };
    GetIncidentProgressResponse {
        incident_id: row.incident_id,
        incident_known: row.reported_at.is_some(),
        compensation,
        enumeration_complete,
        expected_total,
        credited,
        already_lifetime,
        skipped,
        batches_processed: u32::try_from(row.batches_processed).unwrap_or(u32::MAX),
        first_credited_at: row.first_credited_at.map(timestamp),
        completed_at,
        complete,
    }
}
