//! SendTestNotice: the breach notice as a sample member would receive it,
//! sent to one operator's address through the SMTP server the notices go
//! through, marked as a test. Nothing is stored: the message leaves here
//! and the answer says whether the server took it.

use candor_platform::grpc::InvalidField;
use candor_proto::notification::v1::{SendTestNoticeRequest, SendTestNoticeResponse};
use uuid::Uuid;

use super::sample::Sample;
use crate::domain::validation::ADDRESS;
use crate::errors::{SampleRejected, SendTestNoticeError};
use crate::notice::{Renderer, without_panics};
use crate::smtp::{SmtpError, SmtpPool};

pub(super) async fn send_test_notice(
    renderer: &Renderer,
    smtp: &SmtpPool,
    request: SendTestNoticeRequest,
) -> Result<SendTestNoticeResponse, SendTestNoticeError> {
    let sample = Sample::check(
        renderer,
        request.incident.as_ref(),
        &request.display_name,
        &request.thread_url,
    )?;
    let to_address = InvalidField::check("to_address", &request.to_address, ADDRESS)?;
    let message_id = renderer.message_id_for(Uuid::now_v7());
    let email = renderer
        .test_breach_notice(&sample.incident, sample.recipient(to_address), &message_id)
        .map_err(SampleRejected::from)?;
    let subject = email.subject.clone();
    let (envelope, message) = without_panics(|| email.format()).map_err(SampleRejected::from)?;
    smtp.send(&envelope, &message)
        .await
        .map_err(|error| match error {
            SmtpError::Permanent(reply) => SendTestNoticeError::Refused(reply),
            SmtpError::Transient(reason) => SendTestNoticeError::SmtpUnavailable(reason),
        })?;
    tracing::info!(%message_id, "test notice sent");
    Ok(SendTestNoticeResponse {
        subject,
        message_id,
        to_address: to_address.to_owned(),
    })
}
