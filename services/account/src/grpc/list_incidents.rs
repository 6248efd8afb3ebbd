//! ListIncidents: the recorded incidents, newest first, paged by a token
//! naming the last one returned.

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use candor_platform::grpc::InvalidField;
use candor_proto::account::v1::{IncidentSummary, ListIncidentsRequest, ListIncidentsResponse};
use candor_proto::events::v1::BreachReported;
use chrono::{DateTime, Utc};
use prost::Message as _;
use tonic::Request;

use super::Shared;
use super::paging::{check_page_token, page_size};
use crate::convert::{non_negative, timestamp};
use crate::errors::ListIncidentsError;
use crate::store::incident_list::{self, ListedIncident};

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;

/// The token continuing after `incident`: its recording time (microseconds,
/// PostgreSQL's precision) and id.
fn encode_page_token(incident: &ListedIncident) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}\n{}",
        incident.recorded_at.timestamp_micros(),
        incident.incident_id
    ))
}

fn decode_page_token(token: &str) -> Result<Option<(DateTime<Utc>, String)>, InvalidField> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || InvalidField::new("page_token", "not issued by ListIncidents");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (micros, incident_id) = text.split_once('\n').ok_or_else(invalid)?;
    let recorded_at = micros
        .parse()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(invalid)?;
    Ok(Some((recorded_at, incident_id.to_owned())))
}

#[tracing::instrument(skip_all)]
pub async fn list_incidents(
    shared: &Shared,
    request: Request<ListIncidentsRequest>,
) -> Result<ListIncidentsResponse, ListIncidentsError> {
    let request = request.into_inner();
    check_page_token(&request.page_token)?;
    let after = decode_page_token(&request.page_token)?;
    let page_size = page_size(request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
    // One more than the page, to know whether another page follows.
    let mut rows = incident_list::page(
        &mut conn,
        after.as_ref().map(|(at, id)| (*at, id.as_str())),
        i64::from(page_size) + 1,
    )
    .await
    .context("listing the incidents")?;
    let more = rows.len() > page_size as usize;
    rows.truncate(page_size as usize);
    let next_page_token = match rows.last() {
        Some(last) if more => encode_page_token(last),
        _ => String::new(),
    };
    Ok(ListIncidentsResponse {
        incidents: rows.into_iter().map(summary).collect(),
        next_page_token,
    })
}

fn summary(row: ListedIncident) -> IncidentSummary {
    // Stored only after it validated; a row that no longer decodes still
    // lists, without its title.
    let event = BreachReported::decode(row.event.as_slice()).unwrap_or_default();
    IncidentSummary {
        incident_id: row.incident_id,
        title: event.title,
        discovered_at: event.discovered_at,
        recorded_at: Some(timestamp(row.recorded_at)),
        affected_accounts: non_negative(row.affected_accounts),
        batches_enqueued: u32::try_from(row.batches_enqueued).unwrap_or_default(),
        batch_count: u32::try_from(row.batch_count).unwrap_or_default(),
        enumeration_completed_at: row.completed_at.map(timestamp),
    }
}
