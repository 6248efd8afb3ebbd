//! ListCredits: ledger entries, newest first, paged by an opaque cursor.

use anyhow::Context;
use candor_platform::auth::Principal;
use candor_platform::grpc::InvalidField;
use candor_proto::membership::v1::{ListCreditsRequest, ListCreditsResponse};
use chrono::{DateTime, Utc};
use tonic::Request;
use uuid::Uuid;

use super::{MembershipApi, convert};
use crate::domain::validation::{OPTIONAL_INCIDENT_ID, OPTIONAL_UUID, PAGE_TOKEN, parse_uuid};
use crate::errors::ListCreditsError;
use crate::store::credits::{self, CreditFilter, Cursor};

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;

pub(super) async fn list_credits(
    api: &MembershipApi,
    request: Request<ListCreditsRequest>,
) -> Result<ListCreditsResponse, ListCreditsError> {
    let caller = api.sessions.resolve(&request).await?;
    let request = request.into_inner();
    let account_id = match InvalidField::check("account_id", &request.account_id, OPTIONAL_UUID)? {
        "" => None,
        text => Some(
            parse_uuid(text).ok_or_else(|| InvalidField::new("account_id", "must be a UUID"))?,
        ),
    };
    let incident_id =
        InvalidField::check("incident_id", &request.incident_id, OPTIONAL_INCIDENT_ID)?;
    InvalidField::check("page_token", &request.page_token, PAGE_TOKEN)?;
    let filter = match (account_id, incident_id) {
        (None, "") => {
            return Err(
                InvalidField::new("account_id", "account_id or incident_id is required").into(),
            );
        }
        (Some(account), "") => CreditFilter::Account(account),
        (None, incident) => CreditFilter::Incident(incident.to_owned()),
        (Some(account), incident) => CreditFilter::AccountAndIncident(account, incident.to_owned()),
    };
    if let Principal::Member(member) = &caller {
        match &filter {
            CreditFilter::Account(account) if *account == member.account_id => {}
            CreditFilter::Account(_) => return Err(ListCreditsError::OtherAccount),
            CreditFilter::Incident(_) | CreditFilter::AccountAndIncident(..) => {
                return Err(ListCreditsError::ByIncidentNeedsCaller);
            }
        }
    }
    let page_size = match request.page_size {
        0 => DEFAULT_PAGE_SIZE,
        size => size.min(MAX_PAGE_SIZE),
    };
    let cursor = match request.page_token.as_str() {
        "" => Cursor::start(),
        token => decode_token(token, &filter)
            .ok_or_else(|| InvalidField::new("page_token", "was not issued for these filters"))?,
    };

    let mut conn = api.pool.acquire().await.context("acquiring a connection")?;
    let mut rows = credits::list(&mut conn, &filter, cursor, i64::from(page_size) + 1)
        .await
        .context("listing credits")?;
    let more = rows.len() > page_size as usize;
    rows.truncate(page_size as usize);
    let next_page_token = match rows.last() {
        Some(last) if more => encode_token(
            &filter,
            Cursor {
                created_at: last.created_at,
                credit_id: last.credit_id,
            },
        ),
        _ => String::new(),
    };
    Ok(ListCreditsResponse {
        credits: rows.iter().map(convert::credit).collect(),
        next_page_token,
    })
}

fn filter_text(filter: &CreditFilter) -> String {
    match filter {
        CreditFilter::Account(account) => format!("{account}\n"),
        CreditFilter::Incident(incident) => format!("\n{incident}"),
        CreditFilter::AccountAndIncident(account, incident) => format!("{account}\n{incident}"),
    }
}

/// The cursor with the filters it belongs to, hex-encoded: opaque to
/// clients, checked on the way back.
fn encode_token(filter: &CreditFilter, cursor: Cursor) -> String {
    hex::encode(format!(
        "v1\n{}\n{}\n{}",
        filter_text(filter),
        cursor.created_at.timestamp_micros(),
        cursor.credit_id
    ))
}

fn decode_token(token: &str, filter: &CreditFilter) -> Option<Cursor> {
    let text = String::from_utf8(hex::decode(token).ok()?).ok()?;
    let rest = text.strip_prefix("v1\n")?;
    let rest = rest.strip_prefix(&filter_text(filter))?;
    let rest = rest.strip_prefix('\n')?;
    let (micros, credit_id) = rest.split_once('\n')?;
    Some(Cursor {
        created_at: DateTime::<Utc>::from_timestamp_micros(micros.parse().ok()?)?,
        credit_id: Uuid::parse_str(credit_id).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_only_fits_the_filters_it_was_issued_for() {
        let account = Uuid::now_v7();
        let cursor = Cursor {
            created_at: DateTime::<Utc>::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            credit_id: Uuid::now_v7(),
        };
        let filter = CreditFilter::Account(account);
        let token = encode_token(&filter, cursor);
        assert_eq!(decode_token(&token, &filter), Some(cursor));
        assert_eq!(
            decode_token(&token, &CreditFilter::Account(Uuid::now_v7())),
            None
        );
        assert_eq!(
            decode_token(
                &token,
                &CreditFilter::AccountAndIncident(account, "x".into())
            ),
            None
        );
        assert_eq!(decode_token("zz", &filter), None);
    }
}
