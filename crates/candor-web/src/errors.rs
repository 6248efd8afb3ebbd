//! What a page request can fail with, and how each failure is shown: an
//! error page with the right status, a heading saying what happened and
//! what to do. Internal causes are logged with the trace id and never shown.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use minijinja::context;
use tonic::Code;

use crate::render;

/// Why a page cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The request is malformed (a link without its token, a bad form).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A POST without the form's CSRF token, or with a stale one.
    #[error("missing or invalid CSRF token")]
    Csrf,
    /// No such page, thread or notice.
    #[error("not found")]
    NotFound,
    /// Too many attempts; try again after this many seconds (when known).
    #[error("too many requests")]
    TooManyRequests(Option<u64>),
    /// The account or forum service cannot answer now.
    #[error("a service is unavailable")]
    Unavailable,
    /// A bug or an unexpected answer; logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl PageError {
    /// The generic reading of a gRPC status the handler did not expect.
    pub fn from_status(status: &tonic::Status, rpc: &str) -> Self {
        match status.code() {
            Code::NotFound => PageError::NotFound,
            Code::ResourceExhausted => PageError::TooManyRequests(retry_after(status)),
            Code::Unavailable | Code::DeadlineExceeded => PageError::Unavailable,
            Code::InvalidArgument => PageError::BadRequest(status.message().to_owned()),
            code => PageError::Internal(anyhow::anyhow!(
                "{rpc} answered {code:?}: {}",
                status.message()
            )),
        }
    }
}

/// The `retry-after` seconds a RESOURCE_EXHAUSTED status carries.
pub fn retry_after(status: &tonic::Status) -> Option<u64> {
    status
        .metadata()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
}

/// The field an INVALID_ARGUMENT message names (`new_password: too short`)
/// and the rest of the message.
pub fn field_error(status: &tonic::Status) -> Option<(String, String)> {
    let (field, message) = status.message().split_once(": ")?;
    let is_field = !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    is_field.then(|| (field.to_owned(), message.trim().to_owned()))
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, detail) = match &self {
            PageError::BadRequest(detail) => (
                StatusCode::BAD_REQUEST,
                "This request cannot be handled",
                detail.clone(),
            ),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "For your safety the form was not sent. Go back, reload the page and send it again."
                    .to_owned(),
            ),
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is nothing at this address.".to_owned(),
            ),
            PageError::TooManyRequests(seconds) => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                match seconds {
                    Some(seconds) => format!("Please try again in {seconds} seconds."),
                    None => "Please try again in a few minutes.".to_owned(),
                },
            ),
            PageError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "We cannot answer right now",
                "Part of the site is unavailable. Please try again in a minute.".to_owned(),
            ),
            PageError::Internal(error) => {
                let trace_id = candor_platform::telemetry::current_trace_id();
                tracing::error!(error = %format!("{error:#}"), %trace_id, "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    format!("We logged the problem (reference {trace_id}). Please try again later."),
                )
            }
        };
        let mut response = render::page(
            status,
            "error.html",
            context! { title => title, detail => detail, status => status.as_u16() },
        );
        if let PageError::TooManyRequests(Some(seconds)) = self
            && let Ok(value) = http::HeaderValue::try_from(seconds.to_string())
        {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_name_the_field() {
        let status = tonic::Status::invalid_argument("new_password: must be at least 8 bytes");
        assert_eq!(
            field_error(&status),
            Some((
                "new_password".to_owned(),
                "must be at least 8 bytes".to_owned()
            ))
        );
        assert_eq!(
            field_error(&tonic::Status::invalid_argument("Something: else")),
            None
        );
        assert_eq!(
            field_error(&tonic::Status::invalid_argument("no field")),
            None
        );
    }
}
