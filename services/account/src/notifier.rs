//! Transactional emails through the notification service's SendEmail.
//!
//! The RPC that asks for an email has already committed its token when this
//! runs, and always answers OK. The first attempt runs inside that RPC
//! (except RequestPasswordReset's: see [`Notifier::send_in_background`]),
//! under what is left of its caller's deadline (less a margin to answer
//! in), so the email is normally queued in the notification service before
//! the RPC answers, and a crash after answering loses nothing. When that
//! attempt fails transiently or time runs short, delivery is retried in the
//! background with backoff, each attempt under its own deadline (SendEmail
//! is idempotent by key), so a notification outage delays the email instead
//! of failing the request. The retry state lives in memory on purpose: the
//! request carries a secret link that must not be stored in plain text;
//! after a restart the member asks again.

use std::time::Duration;

use candor_client::NotificationClient;
use candor_platform::grpc::deadline;
use candor_platform::messaging::Backoff;
use candor_proto::notification::v1::{PasswordChangedEmail, SendEmailRequest, send_email_request};
use chrono::{DateTime, Utc};
use tracing::Instrument as _;

use crate::store::accounts::AccountRow;

/// Attempts before an email is given up (waits of 3 to 6 minutes in all).
const ATTEMPTS: u32 = 10;
/// The wait after the first failure; it doubles (jittered to between half
/// and all of it, so many accounts' emails do not retry in lockstep) up to
/// [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(120);
/// The longest the first attempt holds up the RPC, however much time its
/// caller gave; a slow notification service makes the RPC no slower.
const FIRST_ATTEMPT_MAX: Duration = Duration::from_secs(2);
/// The first attempt takes this share of what is left of the caller's
/// deadline, leaving the rest for the RPC to answer in.
const FIRST_ATTEMPT_SHARE: f64 = 0.75;
/// Below this the first attempt is not worth making: straight to the
/// background.
const FIRST_ATTEMPT_MIN: Duration = Duration::from_millis(20);
/// Each background attempt's deadline (no caller waits for these).
const BACKGROUND_ATTEMPT_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Notifier {
    client: NotificationClient,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Notifier { .. }")
    }
}

/// How one attempt ended.
enum Attempt {
    /// The notification service has the email.
    Queued,
    /// The notification service refused it for good; retrying cannot help.
    Refused,
    /// Unavailable, too slow, or cut by the deadline: worth another try.
    Transient,
}

impl Notifier {
    /// Sends over `notification` (a connection carrying this service's
    /// SERVICE_TOKEN).
    pub fn new(notification: &candor_client::Connection) -> Self {
        Self {
            client: notification.notification(),
        }
    }

    /// Sends `request`: first within the RPC being served, then, if that
    /// did not settle it, in the background. `kind` is for logs (the request
    /// holds a secret link and is never logged).
    pub async fn send(&self, kind: &'static str, request: SendEmailRequest) {
        let span = tracing::info_span!("send_email", kind, account_id = %request.account_id);
        let settled = async {
            let Some(budget) = first_attempt_budget() else {
                tracing::info!("too little time left to send before answering");
                return false;
            };
            match self.attempt(&request, budget, 0).await {
                Attempt::Queued | Attempt::Refused => true,
                Attempt::Transient => false,
            }
        }
        .instrument(span.clone())
        .await;
        if !settled {
            self.retry_in_background(request, span);
        }
    }

    /// Sends `request` from the background only: the RPC's answer does not
    /// wait for any attempt. For RPCs that must answer alike whether or not
    /// an email is sent (RequestPasswordReset, which must not tell by its
    /// timing whether an address has an account).
    pub fn send_in_background(&self, kind: &'static str, request: SendEmailRequest) {
        let span = tracing::info_span!("send_email", kind, account_id = %request.account_id);
        let notifier = self.clone();
        tokio::spawn(
            async move {
                match notifier
                    .attempt(&request, BACKGROUND_ATTEMPT_DEADLINE, 0)
                    .await
                {
                    Attempt::Queued | Attempt::Refused => {}
                    Attempt::Transient => {
                        notifier.retry_in_background(request, tracing::Span::current());
                    }
                }
            }
            .instrument(span),
        );
    }

    async fn attempt(&self, request: &SendEmailRequest, timeout: Duration, number: u32) -> Attempt {
        let mut call = tonic::Request::new(request.clone());
        call.set_timeout(timeout);
        match self.client.clone().send_email(call).await {
            Ok(_) => {
                tracing::info!(attempt = number + 1, "email handed to notification");
                Attempt::Queued
            }
            Err(status) if is_permanent(status.code()) => {
                tracing::error!(code = ?status.code(), message = status.message(), "notification refused the email");
                Attempt::Refused
            }
            Err(status) => {
                tracing::warn!(attempt = number + 1, code = ?status.code(), "notification did not take the email, retrying");
                Attempt::Transient
            }
        }
    }

    /// Retries with backoff in a task of its own, which has no caller and
    /// so no caller deadline: each attempt has its own.
    fn retry_in_background(&self, request: SendEmailRequest, span: tracing::Span) {
        let notifier = self.clone();
        tokio::spawn(
            async move {
                let mut backoff = Backoff::new(FIRST_RETRY, MAX_RETRY);
                for number in 1..ATTEMPTS {
                    tokio::time::sleep(backoff.next_delay()).await;
                    match notifier
                        .attempt(&request, BACKGROUND_ATTEMPT_DEADLINE, number)
                        .await
                    {
                        Attempt::Queued | Attempt::Refused => return,
                        Attempt::Transient => {}
                    }
                }
                tracing::error!("email not delivered to notification, giving up");
            }
            .instrument(span),
        );
    }
}

/// The time the first attempt may take: a share of what is left of the
/// served call's deadline, at most [`FIRST_ATTEMPT_MAX`]; `None` when that
/// is too little to try.
fn first_attempt_budget() -> Option<Duration> {
    let budget = match deadline::remaining() {
        Some(left) => left.mul_f64(FIRST_ATTEMPT_SHARE).min(FIRST_ATTEMPT_MAX),
        None => FIRST_ATTEMPT_MAX,
    };
    (budget >= FIRST_ATTEMPT_MIN).then_some(budget)
}

impl Notifier {
    /// Tells the member their password was changed (ChangePassword and
    /// ResetPassword, after the change is committed), so a change they did
    /// not make does not go unnoticed. An account without an email address
    /// (imported without one) gets nothing.
    pub async fn password_changed(&self, account: &AccountRow, changed_at: DateTime<Utc>) {
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
        )
        .await;
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
