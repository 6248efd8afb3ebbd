//! The sample member RenderBreachNotice and SendTestNotice render an
//! incident's notice for: the incident checked as the consumers check
//! `breach.reported`, the optional display name and thread link with their
//! defaults, and what a render error says about the request.

use std::time::SystemTime;

use candor_platform::grpc::InvalidField;
use candor_proto::events::v1::BreachReported;

use crate::domain::validation::{DISPLAY_NAME, OPTIONAL_LINK, non_empty_or};
use crate::errors::SampleRejected;
use crate::notice::{IncidentContext, NoticeRecipient, RenderError, Renderer};

/// A checked sample request.
pub(super) struct Sample {
    pub incident: IncidentContext,
    pub display_name: String,
    pub thread_url: String,
}

impl Sample {
    /// Checks the parts every sample request has.
    pub fn check(
        renderer: &Renderer,
        incident: Option<&BreachReported>,
        display_name: &str,
        thread_url: &str,
    ) -> Result<Self, SampleRejected> {
        let incident = incident.ok_or_else(|| InvalidField::new("incident", "required"))?;
        incident.validate(SystemTime::now()).map_err(|error| {
            let fields: Vec<String> = error
                .violations
                .iter()
                .map(|violation| format!("incident.{}: {}", violation.field, violation.description))
                .collect();
            SampleRejected::InvalidIncident(InvalidField::new("incident", fields.join("; ")))
        })?;
        let display_name = InvalidField::check("display_name", display_name, DISPLAY_NAME)?;
        InvalidField::check("thread_url", thread_url, OPTIONAL_LINK)?;
        let thread_url = if thread_url.is_empty() {
            renderer.sample_thread_url()
        } else {
            thread_url.to_owned()
        };
        Ok(Self {
            incident: IncidentContext::new(incident),
            display_name: non_empty_or(display_name, "Sample Member").to_owned(),
            thread_url,
        })
    }

    /// The recipient at `to_address`; a sample member had everything the
    /// incident lists.
    pub fn recipient<'a>(&'a self, to_address: &'a str) -> NoticeRecipient<'a> {
        NoticeRecipient {
            display_name: &self.display_name,
            to_address,
            thread_url: Some(&self.thread_url),
            held: None,
        }
    }
}

impl From<RenderError> for SampleRejected {
    fn from(error: RenderError) -> Self {
        match error {
            RenderError::InvalidAddress(_) => {
                InvalidField::new("to_address", "not a valid address").into()
            }
            RenderError::Unencodable(reason) => InvalidField::new("display_name", reason).into(),
            RenderError::Internal(error) => Self::Internal(error),
        }
    }
}
