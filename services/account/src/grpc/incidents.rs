//! CountAffectedAccounts, ListAffectedAccounts, GetIncidentProgress.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use candor_platform::auth::admitted;
use candor_proto::account::v1::{
    AffectedAccountEntry, CountAffectedAccountsRequest, CountAffectedAccountsResponse,
    GetIncidentProgressRequest, GetIncidentProgressResponse, ListAffectedAccountsRequest,
    ListAffectedAccountsResponse,
};
use candor_proto::events::v1::{AffectedAccount, BreachReported, PasswordResetScope};
use chrono::Utc;
use prost::Message as _;
use tonic::Request;
use uuid::Uuid;

use super::Shared;
use super::error::{ApiError, DbContext as _};
use crate::convert::{from_timestamp, timestamp};
use crate::store::incidents;
use crate::validation::INCIDENT_ID;

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;
/// Page tokens are short base64 strings; an empty one starts at the top.
const PAGE_TOKEN: candor_platform::validation::TextRule =
    candor_platform::validation::TextRule::single_line(0, 512);

fn non_negative(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

#[tracing::instrument(skip_all)]
pub async fn count_affected_accounts(
    shared: &Shared,
    request: Request<CountAffectedAccountsRequest>,
) -> Result<CountAffectedAccountsResponse, ApiError> {
    admitted(&request)?;
    let request = request.into_inner();
    let cutoff = request
        .affected_joined_before
        .as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| ApiError::invalid("affected_joined_before", "required"))?;
    let scope = match PasswordResetScope::try_from(request.password_reset_scope) {
        Ok(PasswordResetScope::Unspecified) | Err(_) => {
            return Err(ApiError::invalid(
                "password_reset_scope",
                "must be specified",
            ));
        }
        Ok(scope) => scope,
    };
    let mut conn = shared.pool.acquire().await.db("acquiring a connection")?;
    let counts = incidents::count_affected(&mut conn, cutoff)
        .await
        .db("counting affected accounts")?;
    Ok(CountAffectedAccountsResponse {
        affected_accounts: non_negative(counts.affected),
        excluded_without_email: non_negative(counts.without_email),
        excluded_deactivated: non_negative(counts.deactivated),
        other_accounts_change_required: if scope == PasswordResetScope::All {
            non_negative(counts.active_total)
        } else {
            0
        },
        counted_at: Some(timestamp(Utc::now())),
    })
}

fn encode_page_token(incident_id: &str, batch: i32, account_id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{incident_id}\n{batch}\n{account_id}"))
}

fn decode_page_token(incident_id: &str, token: &str) -> Result<(i32, Uuid), ApiError> {
    if token.is_empty() {
        return Ok((0, Uuid::nil()));
    }
    let invalid = || ApiError::invalid("page_token", "not issued for this incident");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.split('\n');
    let (Some(id), Some(batch), Some(account), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if id != incident_id {
        return Err(invalid());
    }
    Ok((
        batch.parse().map_err(|_| invalid())?,
        Uuid::parse_str(account).map_err(|_| invalid())?,
    ))
}

#[tracing::instrument(skip_all, fields(incident_id = %request.get_ref().incident_id))]
pub async fn list_affected_accounts(
    shared: &Shared,
    request: Request<ListAffectedAccountsRequest>,
) -> Result<ListAffectedAccountsResponse, ApiError> {
    admitted(&request)?;
    let request = request.into_inner();
    INCIDENT_ID
        .check_verbatim(&request.incident_id)
        .map_err(|reason| ApiError::invalid("incident_id", reason))?;
    PAGE_TOKEN
        .check_verbatim(&request.page_token)
        .map_err(|reason| ApiError::invalid("page_token", reason))?;
    let after = decode_page_token(&request.incident_id, &request.page_token)?;
    let page_size = match request.page_size {
        0 => DEFAULT_PAGE_SIZE,
        size => size.min(MAX_PAGE_SIZE),
    };
    let mut conn = shared.pool.acquire().await.db("acquiring a connection")?;
    let incident = incidents::find(&mut conn, &request.incident_id)
        .await
        .db("reading the incident")?
        .ok_or(ApiError::NotFound("incident is not recorded"))?;
    let rows = incidents::list(
        &mut conn,
        &request.incident_id,
        after,
        i64::from(page_size) + 1,
    )
    .await
    .db("listing affected accounts")?;
    let more = rows.len() > page_size as usize;
    let rows = &rows[..rows.len().min(page_size as usize)];
    let next_page_token = match (more, rows.last()) {
        (true, Some(last)) => {
            encode_page_token(&request.incident_id, last.batch_sequence, last.account_id)
        }
        _ => String::new(),
    };
    Ok(ListAffectedAccountsResponse {
        accounts: rows
            .iter()
            .map(|row| AffectedAccountEntry {
                account: Some(AffectedAccount {
                    account_id: row.account_id.to_string(),
                    email: row.email.clone(),
                    display_name: row.display_name.clone(),
                    joined_at: Some(timestamp(row.joined_at)),
                }),
                batch_sequence: if row.batch_sequence <= incident.batches_enqueued {
                    u32::try_from(row.batch_sequence).unwrap_or_default()
                } else {
                    0
                },
                password_reset_at: row.password_changed_at.map(timestamp),
                deactivated_at: row.deactivated_at.map(timestamp),
            })
            .collect(),
        next_page_token,
        total_size: non_negative(incident.affected_accounts),
    })
}

#[tracing::instrument(skip_all, fields(incident_id = %request.get_ref().incident_id))]
pub async fn get_incident_progress(
    shared: &Shared,
    request: Request<GetIncidentProgressRequest>,
) -> Result<GetIncidentProgressResponse, ApiError> {
    admitted(&request)?;
    let incident_id = request.into_inner().incident_id;
    INCIDENT_ID
        .check_verbatim(&incident_id)
        .map_err(|reason| ApiError::invalid("incident_id", reason))?;
    let mut conn = shared.pool.acquire().await.db("acquiring a connection")?;
    let Some(incident) = incidents::find(&mut conn, &incident_id)
        .await
        .db("reading the incident")?
    else {
        return Ok(GetIncidentProgressResponse {
            incident_id,
            ..GetIncidentProgressResponse::default()
        });
    };
    let published = incidents::published(&mut conn, &incident_id)
        .await
        .db("counting published batches")?;
    let (reset_since, deactivated_since) = incidents::changes_since(&mut conn, &incident_id)
        .await
        .db("counting changes since the incident")?;
    let batches_published = u32::try_from(published.batches_published).unwrap_or_default();
    let complete = published.completion_published
        && i64::from(batches_published) >= i64::from(incident.batch_count);
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
    })
}
