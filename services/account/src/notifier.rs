//! Transactional emails through the notification service's SendEmail.
//!
//! The RPC that asks for an email has already committed its token when this
//! runs, and always answers OK: delivery is retried in the background with
//! backoff (SendEmail is idempotent by key), so a notification outage
//! delays the email instead of failing the request. The retry state lives in
//! memory on purpose: the request carries a secret link that must not be
//! stored in plain text; after a restart the member asks again.

use std::time::Duration;

use candor_platform::auth::OutgoingInterceptor;
use candor_platform::messaging::Backoff;
use candor_proto::notification::v1::notification_service_client::NotificationServiceClient;
use candor_proto::notification::v1::{PasswordChangedEmail, SendEmailRequest, send_email_request};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::store::accounts::AccountRow;

type Client = NotificationServiceClient<InterceptedService<Channel, OutgoingInterceptor>>;

/// Attempts before an email is given up (waits of 3 to 6 minutes in all).
const ATTEMPTS: u32 = 10;
/// The wait after the first failure; it doubles (jittered to between half
/// and all of it, so many accounts' emails do not retry in lockstep) up to
/// [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub struct Notifier {
    client: Client,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Notifier { .. }")
    }
}

impl Notifier {
    /// A lazily connecting client with the service credential.
    pub fn new(channel: Channel, service_token: &SecretString) -> anyhow::Result<Self> {
        let interceptor = OutgoingInterceptor::with_token(service_token).map_err(|status| {
            anyhow::anyhow!("SERVICE_TOKEN is not valid metadata: {}", status.message())
        })?;
        Ok(Self {
            client: NotificationServiceClient::with_interceptor(channel, interceptor),
        })
    }

    /// Sends in the background, retrying transient failures. `kind` is for
    /// logs (the request holds a secret link and is never logged).
    pub fn send(&self, kind: &'static str, request: SendEmailRequest) {
        let mut client = self.client.clone();
        let span = tracing::info_span!("send_email", kind, account_id = %request.account_id);
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                let mut backoff = Backoff::new(FIRST_RETRY, MAX_RETRY);
                for attempt in 1..=ATTEMPTS {
                    match client.send_email(request.clone()).await {
                        Ok(_) => {
                            tracing::info!(attempt, "email handed to notification");
                            return;
                        }
                        Err(status) if is_permanent(status.code()) => {
                            tracing::error!(code = ?status.code(), message = status.message(), "notification refused the email");
                            return;
                        }
                        Err(status) => {
                            tracing::warn!(attempt, code = ?status.code(), "notification unavailable, retrying");
                        }
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                tracing::error!("email not delivered to notification, giving up");
            },
            span,
        ));
    }
}

impl Notifier {
    /// Tells the member their password was changed (ChangePassword and
    /// ResetPassword, after the change is committed), so a change they did
    /// not make does not go unnoticed. An account without an email address
    /// (imported without one) gets nothing.
    pub fn password_changed(&self, account: &AccountRow, changed_at: DateTime<Utc>) {
        let Some(to_address) = account.email.clone() else {
            return;
        };
        self.send(
            "password_changed",
            SendEmailRequest {
                idempotency_key: format!(
                    "password-changed:{}:{}",
                    account.account_id,
                    changed_at.timestamp_micros()
                ),
                account_id: account.account_id.to_string(),
                to_address,
                to_display_name: account.display_name.clone().unwrap_or_default(),
                content: Some(send_email_request::Content::PasswordChanged(
                    PasswordChangedEmail {
                        changed_at: Some(crate::convert::timestamp(changed_at)),
                    },
                )),
            },
        );
    }
}

fn is_permanent(code: tonic::Code) -> bool {
    matches!(
        code,
        tonic::Code::InvalidArgument
            | tonic::Code::FailedPrecondition
            | tonic::Code::PermissionDenied
            | tonic::Code::Unauthenticated
    )
}
