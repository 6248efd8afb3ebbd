//! GrantCredit: appends one ledger entry and moves the tier or balance in
//! the same transaction, idempotent by the caller's key as Stripe does.

use anyhow::Context;
use candor_platform::db::{ConstraintViolation, constraint_violation};
use candor_platform::grpc::InvalidField;
use candor_proto::membership::v1::{CreditKind, GrantCreditRequest, GrantCreditResponse, Money};
use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::convert;
use crate::domain::ledger::{LedgerEntry, MembershipState, kind_from_db, to_db};
use crate::domain::validation::{
    OPTIONAL_INCIDENT_ID, OPTIONAL_UUID, REASON, is_currency, is_idempotency_key, parse_uuid,
};
use crate::errors::GrantCreditError;
use crate::store::credits::{self, NewCredit};
use crate::store::grants::{self, Claim};
use crate::store::memberships::{self, StoredMembership};

/// A request that passed validation.
struct Grant {
    key: String,
    account_id: Uuid,
    kind: CreditKind,
    value_minor_units: i64,
    currency: String,
    duration_days: i32,
    reason: String,
    incident_id: Option<String>,
    voids_credit_id: Option<Uuid>,
}

pub(super) async fn grant_credit(
    pool: &PgPool,
    request: GrantCreditRequest,
) -> Result<GrantCreditResponse, GrantCreditError> {
    let grant = validate(&request)?;
    let fingerprint = Sha256::digest(request.encode_to_vec());
    let mut tx = pool.begin().await.context("beginning a transaction")?;
    match grants::claim(&mut tx, &grant.key, &fingerprint)
        .await
        .context("claiming the idempotency key")?
    {
        Claim::New => {}
        Claim::Used {
            fingerprint: first,
            response,
        } => {
            if first.as_slice() != &fingerprint[..] {
                return Err(GrantCreditError::KeyReused);
            }
            let response = response.context("a committed grant has no stored response")?;
            return GrantCreditResponse::decode(response.as_slice())
                .context("decoding the stored response")
                .map_err(GrantCreditError::Internal);
        }
    }
    let response = write(&mut tx, &grant).await?;
    grants::store_response(&mut tx, &grant.key, &response.encode_to_vec())
        .await
        .context("storing the response")?;
    tx.commit().await.context("committing the grant")?;
    tracing::info!(
        account_id = %grant.account_id,
        kind = ?grant.kind,
        "credit granted"
    );
    Ok(response)
}

async fn write(
    tx: &mut PgConnection,
    grant: &Grant,
) -> Result<GrantCreditResponse, GrantCreditError> {
    let current = memberships::lock(tx, grant.account_id)
        .await
        .context("locking the membership")?;
    if current.closed_at.is_some() {
        return Err(GrantCreditError::MembershipClosed);
    }
    // Taken after the lock, so entries of one account are timestamped in
    // the order they are applied (the replay relies on it).
    let now = credits::entry_timestamp(tx)
        .await
        .context("reading the clock")?;
    let credit_id = Uuid::now_v7();
    let mut value_minor_units = grant.value_minor_units;
    let mut currency = grant.currency.clone();
    let state = match grant.voids_credit_id {
        None => {
            let mut state = current.state.clone();
            state.apply(&LedgerEntry {
                credit_id,
                kind: grant.kind,
                value_minor_units,
                currency: currency.clone(),
                duration_days: grant.duration_days,
                voids_credit_id: None,
                created_at: now,
            });
            state
        }
        Some(voided_id) => {
            let voided = credits::get(tx, grant.account_id, voided_id)
                .await
                .context("reading the entry to void")?
                .ok_or(GrantCreditError::CreditNotFound)?;
            if kind_from_db(voided.kind) == CreditKind::Void {
                return Err(GrantCreditError::VoidOfVoid);
            }
            if voided.voided_by_credit_id.is_some() {
                return Err(GrantCreditError::AlreadyVoided);
            }
            value_minor_units = voided.value_minor_units;
            currency = voided.currency.clone();
            let mut entries: Vec<LedgerEntry> = credits::for_account(tx, grant.account_id)
                .await
                .context("reading the ledger")?
                .iter()
                .map(credits::CreditRow::entry)
                .collect();
            entries.push(LedgerEntry {
                credit_id,
                kind: CreditKind::Void,
                value_minor_units,
                currency: currency.clone(),
                duration_days: 0,
                voids_credit_id: Some(voided_id),
                created_at: now,
            });
            MembershipState::replay(&entries)
        }
    };
    let new_credit = NewCredit {
        credit_id,
        account_id: grant.account_id,
        kind: to_db(grant.kind as i32),
        value_minor_units,
        currency: &currency,
        duration_days: grant.duration_days,
        reason: &grant.reason,
        incident_id: grant.incident_id.as_deref(),
        idempotency_key: &grant.key,
        voids_credit_id: grant.voids_credit_id,
        tier_after: to_db(state.effective(now).tier as i32),
        created_at: now,
    };
    if let Err(error) = credits::insert(tx, &new_credit).await {
        if let Some((ConstraintViolation::Unique, Some(constraint))) = constraint_violation(&error)
            && constraint == "credits_voided_once"
        {
            return Err(GrantCreditError::AlreadyVoided);
        }
        return Err(anyhow::Error::new(error)
            .context("appending the entry")
            .into());
    }
    memberships::write_state(tx, grant.account_id, &state)
        .await
        .context("updating the membership")?;
    let row = credits::get(tx, grant.account_id, credit_id)
        .await
        .context("reading the entry back")?
        .context("the entry just written is missing")?;
    let stored = StoredMembership {
        account_id: grant.account_id,
        state,
        closed_at: None,
    };
    Ok(GrantCreditResponse {
        credit: Some(convert::credit(&row)),
        membership: Some(convert::membership(&stored, now)),
    })
}

fn validate(request: &GrantCreditRequest) -> Result<Grant, InvalidField> {
    if !is_idempotency_key(&request.idempotency_key) {
        return Err(InvalidField::new(
            "idempotency_key",
            "must be 1..=200 printable ASCII characters",
        ));
    }
    let account_id = parse_uuid(&request.account_id)
        .ok_or_else(|| InvalidField::new("account_id", "must be a UUID"))?;
    let kind = match CreditKind::try_from(request.kind) {
        Ok(
            kind @ (CreditKind::LifetimeMembership
            | CreditKind::PaidMembership
            | CreditKind::AccountCredit
            | CreditKind::Void),
        ) => kind,
        _ => {
            return Err(InvalidField::new(
                "kind",
                "must be LIFETIME_MEMBERSHIP, PAID_MEMBERSHIP, ACCOUNT_CREDIT or VOID",
            ));
        }
    };
    let reason = InvalidField::check("reason", &request.reason, REASON)?;
    let incident_id =
        InvalidField::check("incident_id", &request.incident_id, OPTIONAL_INCIDENT_ID)?;
    let (value_minor_units, currency) = validate_value(kind, request.value.as_ref())?;
    let duration_days = match (kind, request.duration_days) {
        (CreditKind::PaidMembership, days @ 1..=3650) => i32::try_from(days).unwrap_or(0),
        (CreditKind::PaidMembership, _) => {
            return Err(InvalidField::new(
                "duration_days",
                "must be 1..=3650 for PAID_MEMBERSHIP",
            ));
        }
        (_, 0) => 0,
        (_, _) => {
            return Err(InvalidField::new(
                "duration_days",
                "is only allowed for PAID_MEMBERSHIP",
            ));
        }
    };
    let voids_credit_id = match (
        kind,
        InvalidField::check("voids_credit_id", &request.voids_credit_id, OPTIONAL_UUID)?,
    ) {
        (CreditKind::Void, text) => Some(
            parse_uuid(text)
                .ok_or_else(|| InvalidField::new("voids_credit_id", "must be a UUID for VOID"))?,
        ),
        (_, "") => None,
        (_, _) => {
            return Err(InvalidField::new(
                "voids_credit_id",
                "is only allowed for VOID",
            ));
        }
    };
    Ok(Grant {
        key: request.idempotency_key.clone(),
        account_id,
        kind,
        value_minor_units,
        currency,
        duration_days,
        reason: reason.to_owned(),
        incident_id: Some(incident_id.to_owned()).filter(|id| !id.is_empty()),
        voids_credit_id,
    })
}

/// The entry's value: required and positive for ACCOUNT_CREDIT, optional
/// and non-negative for memberships, ignored for VOID.
fn validate_value(kind: CreditKind, value: Option<&Money>) -> Result<(i64, String), InvalidField> {
    if kind == CreditKind::Void {
        return Ok((0, String::new()));
    }
    let Some(value) = value else {
        if kind == CreditKind::AccountCredit {
            return Err(InvalidField::new("value", "is required for ACCOUNT_CREDIT"));
        }
        return Ok((0, String::new()));
    };
    if kind == CreditKind::AccountCredit && value.value_minor_units <= 0 {
        return Err(InvalidField::new(
            "value.value_minor_units",
            "must be > 0 for ACCOUNT_CREDIT",
        ));
    }
    if value.value_minor_units < 0 {
        return Err(InvalidField::new("value.value_minor_units", "must be >= 0"));
    }
    let needs_currency = value.value_minor_units > 0 || !value.currency.is_empty();
    if needs_currency && !is_currency(&value.currency) {
        return Err(InvalidField::new(
            "value.currency",
            "must be an ISO 4217 code of three upper-case letters",
        ));
    }
    Ok((value.value_minor_units, value.currency.clone()))
}
