//! RenderBreachNotice: the breach notice as a member would receive it, for
//! an operator to check before publishing the incident.

use std::time::SystemTime;

use candor_platform::grpc::InvalidField;
use candor_proto::notification::v1::{
    EmailHeader, RenderBreachNoticeRequest, RenderBreachNoticeResponse,
};
use uuid::Uuid;

use crate::domain::validation::{DISPLAY_NAME, OPTIONAL_ADDRESS, OPTIONAL_LINK, non_empty_or};
use crate::errors::RenderBreachNoticeError;
use crate::notice::{IncidentContext, NoticeRecipient, RenderError, Renderer};

pub(super) fn render_breach_notice(
    renderer: &Renderer,
    request: RenderBreachNoticeRequest,
) -> Result<RenderBreachNoticeResponse, RenderBreachNoticeError> {
    let incident = request
        .incident
        .ok_or_else(|| InvalidField::new("incident", "required"))?;
    incident.validate(SystemTime::now()).map_err(|error| {
        let fields: Vec<String> = error
            .violations
            .iter()
            .map(|violation| format!("incident.{}: {}", violation.field, violation.description))
            .collect();
        RenderBreachNoticeError::InvalidIncident(fields.join("; "))
    })?;
    let display_name = InvalidField::check("display_name", &request.display_name, DISPLAY_NAME)?;
    let to_address = InvalidField::check("to_address", &request.to_address, OPTIONAL_ADDRESS)?;
    InvalidField::check("thread_url", &request.thread_url, OPTIONAL_LINK)?;
    let display_name = non_empty_or(display_name, "Sample Member");
    let to_address = non_empty_or(to_address, "member@example.org");
    let thread_url = if request.thread_url.is_empty() {
        renderer.sample_thread_url()
    } else {
        request.thread_url.clone()
    };
    let message_id = renderer.message_id_for(Uuid::now_v7());
    let email = renderer
        .breach_notice(
            &IncidentContext::new(&incident),
            NoticeRecipient {
                display_name,
                to_address,
                thread_url: Some(&thread_url),
            },
            &message_id,
        )
        .map_err(|error| match error {
            RenderError::InvalidAddress(_) => {
                InvalidField::new("to_address", "not a valid address").into()
            }
            RenderError::Unencodable(reason) => InvalidField::new("display_name", reason).into(),
            RenderError::Internal(error) => RenderBreachNoticeError::Internal(error),
        })?;
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
