//! ListAffectedAccounts: an incident's frozen affected set, in batch
//! order, paged by a token bound to the incident.

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use candor_platform::grpc::InvalidField;
use candor_proto::account::v1::{
    AffectedAccountEntry, ListAffectedAccountsRequest, ListAffectedAccountsResponse,
};
use candor_proto::events::v1::AffectedAccount;
use tonic::Request;
use uuid::Uuid;

use super::Shared;
use super::paging::{check_page_token, page_size};
use crate::convert::{held_data_classes, in_app_notice, non_negative, timestamp};
use crate::domain::validation::INCIDENT_ID;
use crate::errors::ListAffectedAccountsError;
use crate::store::incidents;

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;

fn encode_page_token(incident_id: &str, batch: i32, account_id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{incident_id}\n{batch}\n{account_id}"))
}

fn decode_page_token(incident_id: &str, token: &str) -> Result<(i32, Uuid), InvalidField> {
    if token.is_empty() {
        return Ok((0, Uuid::nil()));
    }
    let invalid = || InvalidField::new("page_token", "not issued for this incident");
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
) -> Result<ListAffectedAccountsResponse, ListAffectedAccountsError> {
    let request = request.into_inner();
    INCIDENT_ID
        .check_verbatim(&request.incident_id)
        .map_err(|reason| InvalidField::new("incident_id", reason))?;
    check_page_token(&request.page_token)?;
    let after = decode_page_token(&request.incident_id, &request.page_token)?;
    let page_size = page_size(request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    let mut conn = shared
        .pool
        .acquire()
        .await
        .context("acquiring a connection")?;
    let incident = incidents::find(&mut conn, &request.incident_id)
        .await
        .context("reading the incident")?
        .ok_or(ListAffectedAccountsError::IncidentNotFound)?;
    let rows = incidents::list(
        &mut conn,
        &request.incident_id,
        after,
        i64::from(page_size) + 1,
    )
    .await
    .context("listing affected accounts")?;
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
                    held_data_classes: held_data_classes(
                        &row.email,
                        &row.display_name,
                        row.had_password_hash,
                    ),
                }),
                batch_sequence: if row.batch_sequence <= incident.batches_enqueued {
                    u32::try_from(row.batch_sequence).unwrap_or_default()
                } else {
                    0
                },
                password_reset_at: row.password_changed_at.map(timestamp),
                deactivated_at: row.deactivated_at.map(timestamp),
                in_app_notice: row.notice_reason.zip(row.notice_raised_at).map(
                    |(reason, raised_at)| {
                        in_app_notice(reason, raised_at, row.notice_acknowledged_at)
                    },
                ),
            })
            .collect(),
        next_page_token,
        total_size: non_negative(incident.affected_accounts),
    })
}
