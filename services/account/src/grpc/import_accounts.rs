//! ImportAccounts: client-streamed legacy members, committed one chunk at a
//! time with one INSERT each (memory stays flat whatever the stream length).
//! No argon2 here: legacy hashes are only wrapped (HMAC), which costs
//! microseconds, and upgraded at each member's next login.

use std::collections::HashSet;

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::account::v1::{
    ImportAccountsRequest, ImportAccountsResponse, ImportRecord, ImportRejection,
    ImportRejectionReason,
};
use chrono::Utc;
use tonic::{Request, Streaming};
use uuid::Uuid;

use super::Shared;
use crate::convert::from_timestamp;
use crate::domain::validation::{normalize_display_name, normalize_email};
use crate::errors::ImportAccountsError;
use crate::password::cost::Argon2Ceiling;
use crate::password::legacy::LegacyHashError;
use crate::password::{ImportedPassword, LegacyKey};
use crate::store::accounts::{PASSWORD_OK, PASSWORD_RESET_REQUIRED};
use crate::store::import::{self, ImportBatch};

const MAX_RECORDS_PER_CHUNK: usize = 1000;
const MAX_REJECTIONS_LISTED: usize = 1000;

/// A rejection with its position in the stream (for ordering).
struct Rejected {
    position: u64,
    rejection: ImportRejection,
}

fn reject(position: u64, line: u64, reason: ImportRejectionReason, message: String) -> Rejected {
    Rejected {
        position,
        rejection: ImportRejection {
            line_number: line,
            reason: reason as i32,
            message,
        },
    }
}

#[derive(Default)]
struct Summary {
    response: ImportAccountsResponse,
}

impl Summary {
    fn add_rejections(&mut self, mut rejected: Vec<Rejected>) {
        rejected.sort_by_key(|rejected| rejected.position);
        for rejected in rejected {
            self.response.rejected += 1;
            if self.response.rejections.len() < MAX_REJECTIONS_LISTED {
                self.response.rejections.push(rejected.rejection);
            } else {
                self.response.rejections_truncated = true;
            }
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn import_accounts(
    shared: &Shared,
    request: Request<Streaming<ImportAccountsRequest>>,
) -> Result<ImportAccountsResponse, ImportAccountsError> {
    let mut stream = request.into_inner();
    let key = shared.hasher.legacy_key().clone();
    let ceiling = shared.hasher.ceiling();
    let mut summary = Summary::default();
    let mut position = 0u64;
    loop {
        let chunk = match stream.message().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(status) => {
                tracing::warn!(code = ?status.code(), received = summary.response.received, "import stream broke");
                return Err(ImportAccountsError::StreamBroken);
            }
        };
        if chunk.records.len() > MAX_RECORDS_PER_CHUNK {
            return Err(InvalidField::new("records", "at most 1000 records per chunk").into());
        }
        let mut batch = ImportBatch::default();
        let mut lines = Vec::with_capacity(chunk.records.len());
        let mut rejected = Vec::new();
        let mut seen = HashSet::new();
        for record in chunk.records {
            position += 1;
            summary.response.received += 1;
            let line = if record.line_number > 0 {
                record.line_number
            } else {
                position
            };
            match validate(&key, &ceiling, &record) {
                Err((reason, message)) => rejected.push(reject(position, line, reason, message)),
                Ok(valid) => {
                    if let Some(email) = &valid.email
                        && !seen.insert(email.to_lowercase())
                    {
                        rejected.push(reject(
                            position,
                            line,
                            ImportRejectionReason::DuplicateEmail,
                            "email: appears earlier in the stream".to_owned(),
                        ));
                        continue;
                    }
                    push(&mut batch, valid);
                    lines.push((position, line));
                }
            }
        }
        if !batch.is_empty() {
            let mut conn = shared
                .pool
                .acquire()
                .await
                .context("acquiring a connection")?;
            let inserted: HashSet<Uuid> = import::insert_batch(&mut conn, &batch)
                .await
                .context("inserting an import batch")?
                .into_iter()
                .collect();
            summary.response.imported += inserted.len() as u64;
            for (account_id, (position, line)) in batch.account_ids.iter().zip(lines) {
                if !inserted.contains(account_id) {
                    rejected.push(reject(
                        position,
                        line,
                        ImportRejectionReason::DuplicateEmail,
                        "email: already belongs to an account".to_owned(),
                    ));
                }
            }
        }
        summary.add_rejections(rejected);
    }
    tracing::info!(
        received = summary.response.received,
        imported = summary.response.imported,
        rejected = summary.response.rejected,
        "import finished"
    );
    Ok(summary.response)
}

struct ValidRecord {
    email: Option<String>,
    display_name: String,
    joined_at: chrono::DateTime<Utc>,
    password: Option<ImportedPassword>,
}

fn validate(
    key: &LegacyKey,
    ceiling: &Argon2Ceiling,
    record: &ImportRecord,
) -> Result<ValidRecord, (ImportRejectionReason, String)> {
    let email = if record.email.trim().is_empty() {
        None
    } else {
        Some(normalize_email(&record.email).map_err(|error| {
            (
                ImportRejectionReason::InvalidEmail,
                format!("email: {error}"),
            )
        })?)
    };
    let display_name = normalize_display_name(&record.display_name).map_err(|reason| {
        (
            ImportRejectionReason::InvalidDisplayName,
            format!("display_name: {reason}"),
        )
    })?;
    let joined_at = record
        .joined_at
        .as_ref()
        .and_then(from_timestamp)
        .filter(|joined_at| *joined_at <= Utc::now())
        .ok_or_else(|| {
            (
                ImportRejectionReason::InvalidJoinedAt,
                "joined_at: required and not in the future".to_owned(),
            )
        })?;
    let password = match &record.password_hash {
        None => None,
        Some(hash) => Some(
            key.wrap_import(hash.algorithm, &hash.salt, &hash.hash, ceiling)
                .map_err(|error| match error {
                    LegacyHashError::UnknownAlgorithm => {
                        (ImportRejectionReason::UnknownAlgorithm, error.to_string())
                    }
                    LegacyHashError::Invalid { .. } => {
                        (ImportRejectionReason::InvalidHash, error.to_string())
                    }
                    LegacyHashError::TooCostly(_) => {
                        (ImportRejectionReason::HashTooCostly, error.to_string())
                    }
                })?,
        ),
    };
    Ok(ValidRecord {
        email,
        display_name,
        joined_at,
        password,
    })
}

fn push(batch: &mut ImportBatch, record: ValidRecord) {
    let (hash, algorithm, salt, state) = match record.password {
        None => (None, None, None, PASSWORD_RESET_REQUIRED),
        Some(ImportedPassword::Argon2(phc)) => (Some(phc), None, None, PASSWORD_OK),
        Some(ImportedPassword::Legacy(legacy)) => (
            Some(legacy.wrapped),
            Some(legacy.algorithm),
            Some(legacy.salt),
            PASSWORD_OK,
        ),
    };
    batch.account_ids.push(Uuid::now_v7());
    batch.emails.push(record.email);
    batch.display_names.push(record.display_name);
    batch.joined_at.push(record.joined_at);
    batch.password_hashes.push(hash);
    batch.legacy_algorithms.push(algorithm);
    batch.legacy_salts.push(salt);
    batch.password_states.push(state);
}
