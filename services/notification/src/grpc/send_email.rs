//! SendEmail: queues one transactional email, idempotent by the caller's
//! key, and wakes the sender.

use anyhow::Context as _;
use candor_platform::grpc::InvalidField;
use candor_proto::notification::v1::send_email_request::Content;
use candor_proto::notification::v1::{SendEmailRequest, SendEmailResponse};
use chrono::Utc;
use prost::Message as _;
use sha2::{Digest, Sha256};

use super::{NotificationApi, convert};
use crate::domain::validation::{
    ADDRESS, DISPLAY_NAME, check_idempotency_key, check_link, optional_uuid,
};
use crate::errors::SendEmailError;
use crate::notice::TransactionalContent;
use crate::store;
use crate::store::jobs::{NewTransactional, TransactionalOutcome};

pub(super) async fn send_email(
    api: &NotificationApi,
    request: SendEmailRequest,
) -> Result<SendEmailResponse, SendEmailError> {
    let ValidSendEmail {
        content,
        to_address,
        display_name,
    } = validate(&request)?;
    let account_id = optional_uuid("account_id", &request.account_id)?;
    let digest_bytes = Sha256::digest(request.encode_to_vec()).to_vec();
    let content_json = serde_json::to_value(&content).context("encoding the content")?;
    let mut connection = api.pool.acquire().await.context("acquiring a connection")?;
    let outcome = store::jobs::insert_transactional(
        &mut connection,
        NewTransactional {
            idempotency_key: &request.idempotency_key,
            request_digest: &digest_bytes,
            kind: content.kind(),
            account_id,
            to_address,
            display_name,
            content: content_json,
        },
        api.renderer.message_id_domain(),
    )
    .await
    .context("queueing the email")?;
    let job_id = match outcome {
        TransactionalOutcome::Job(job_id) => job_id,
        TransactionalOutcome::KeyReused => return Err(SendEmailError::KeyReused),
    };
    api.wake.notify_one();
    let row = store::deliveries::get(&mut connection, job_id)
        .await
        .context("reading the delivery")?
        .with_context(|| format!("job {job_id} vanished"))?;
    Ok(SendEmailResponse {
        delivery: Some(convert::delivery(row)),
    })
}

/// What SendEmail stores, once checked.
struct ValidSendEmail<'a> {
    content: TransactionalContent,
    /// Trimmed; a valid address.
    to_address: &'a str,
    /// Trimmed; a single line.
    display_name: &'a str,
}

/// The request's rules (proto comments); returns what to store.
fn validate(request: &SendEmailRequest) -> Result<ValidSendEmail<'_>, InvalidField> {
    check_idempotency_key(&request.idempotency_key)?;
    let to_address = InvalidField::check("to_address", &request.to_address, ADDRESS)?;
    if to_address.parse::<lettre::Address>().is_err() {
        return Err(InvalidField::new("to_address", "not a valid address"));
    }
    let display_name =
        InvalidField::check("to_display_name", &request.to_display_name, DISPLAY_NAME)?;
    let content = match &request.content {
        None => Err(InvalidField::new("content", "exactly one is required")),
        Some(Content::PasswordReset(email)) => Ok(TransactionalContent::PasswordReset {
            link: check_link("password_reset.reset_url", &email.reset_url)?,
            expires_at: convert::from_timestamp(
                "password_reset.expires_at",
                email.expires_at.as_ref(),
            )?,
        }),
        Some(Content::DeactivationConfirmation(email)) => {
            Ok(TransactionalContent::DeactivationConfirmation {
                link: check_link(
                    "deactivation_confirmation.confirmation_url",
                    &email.confirmation_url,
                )?,
                expires_at: convert::from_timestamp(
                    "deactivation_confirmation.expires_at",
                    email.expires_at.as_ref(),
                )?,
            })
        }
        Some(Content::PasswordChanged(email)) => Ok(TransactionalContent::PasswordChanged {
            changed_at: convert::from_timestamp(
                "password_changed.changed_at",
                email.changed_at.as_ref(),
            )
            .unwrap_or_else(|_| Utc::now()),
        }),
    }?;
    Ok(ValidSendEmail {
        content,
        to_address,
        display_name,
    })
}
