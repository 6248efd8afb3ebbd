//! RenderBreachNotice: the breach notice as a member would receive it, for
//! an operator to check before publishing the incident.

use candor_platform::grpc::InvalidField;
use candor_proto::notification::v1::{
    EmailHeader, RenderBreachNoticeRequest, RenderBreachNoticeResponse,
};
use uuid::Uuid;

use super::sample::Sample;
use crate::domain::validation::{OPTIONAL_ADDRESS, non_empty_or};
use crate::errors::{RenderBreachNoticeError, SampleRejected};
use crate::notice::Renderer;

pub(super) fn render_breach_notice(
    renderer: &Renderer,
    request: RenderBreachNoticeRequest,
) -> Result<RenderBreachNoticeResponse, RenderBreachNoticeError> {
    let sample = Sample::check(
        renderer,
        request.incident.as_ref(),
        &request.display_name,
        &request.thread_url,
    )?;
    let to_address = InvalidField::check("to_address", &request.to_address, OPTIONAL_ADDRESS)?;
    let to_address = non_empty_or(to_address, "member@example.org");
    let message_id = renderer.message_id_for(Uuid::now_v7());
    let email = renderer
        .breach_notice(&sample.incident, sample.recipient(to_address), &message_id)
        .map_err(SampleRejected::from)?;
    Ok(RenderBreachNoticeResponse {
        subject: email.subject.clone(),
        text_body: email.text.clone(),
        html_body: email.html.clone(),
        headers: email
            .headers
            .iter()
            .map(|(name, value)| EmailHeader {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
    })
}
