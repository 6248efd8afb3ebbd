//! Errors as an operator reads them: one short line, each cause once.
//!
//! A cause chain often repeats itself (`tcp connect error: Connection
//! refused (os error 111): Connection refused (os error 111)`), and a
//! `tonic::Status` displays as a debug dump of its code, details and
//! metadata. [`describe`] walks the chain, writes a status as its code in
//! words and its message, and drops any cause already said.

use std::error::Error;

/// The error and its causes, joined by `: `, each text once.
pub fn describe(error: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let text = match error.downcast_ref::<tonic::Status>() {
            Some(status) => status_text(status),
            None => error.to_string(),
        };
        let text = text.trim();
        // tonic wraps every connection failure in a bare "transport error".
        let says_nothing = text.is_empty() || text == "transport error";
        if !says_nothing && !parts.iter().any(|part| part.contains(text)) {
            parts.push(text.to_owned());
        }
        current = error.source();
    }
    parts.join(": ")
}

/// [`describe`] for an `anyhow::Error`.
pub fn describe_anyhow(error: &anyhow::Error) -> String {
    describe(error.as_ref())
}

/// A gRPC status in words: `unavailable: tcp connect error: Connection
/// refused (os error 111)`, without the metadata dump.
pub fn describe_status(status: &tonic::Status) -> String {
    describe(status)
}

/// `invalid argument: the message [INVALID_FIELD; email: not an address]`:
/// the code in lower-case words, the message, then what the status's
/// details add — Candor's reason, and each field a request got wrong that
/// the message does not already say.
fn status_text(status: &tonic::Status) -> String {
    let code = code_words(status.code());
    let mut text = if status.message().trim().is_empty() {
        code
    } else {
        format!("{code}: {}", status.message().trim())
    };
    let details = candor_client::ErrorDetails::of(status);
    let mut added: Vec<String> = details.reason.iter().cloned().collect();
    for violation in &details.field_violations {
        let said = format!("{}: {}", violation.field, violation.description);
        if !text.contains(&said) {
            added.push(said);
        }
    }
    if !added.is_empty() {
        text.push_str(&format!(" [{}]", added.join("; ")));
    }
    text
}

/// `DeadlineExceeded` → `deadline exceeded`.
pub fn code_words(code: tonic::Code) -> String {
    candor_proto::upper_snake(&format!("{code:?}"))
        .replace('_', " ")
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    #[test]
    fn a_cause_that_repeats_its_parent_is_said_once() {
        let error = Layer {
            text: "Connection refused (os error 111)",
            source: Some(Box::new(Layer {
                text: "Connection refused (os error 111)",
                source: None,
            })),
        };
        assert_eq!(describe(&error), "Connection refused (os error 111)");
        let transport = Layer {
            text: "tcp connect error",
            source: Some(Box::new(Layer {
                text: "transport error",
                source: Some(Box::new(Layer {
                    text: "Connection refused (os error 111)",
                    source: None,
                })),
            })),
        };
        assert_eq!(
            describe(&transport),
            "tcp connect error: Connection refused (os error 111)"
        );
        let wrapped = anyhow::Error::new(error).context("cannot connect to RabbitMQ");
        assert_eq!(
            describe_anyhow(&wrapped),
            "cannot connect to RabbitMQ: Connection refused (os error 111)"
        );
    }

    #[test]
    fn a_status_is_its_code_and_message_without_a_dump() {
        let status = tonic::Status::deadline_exceeded("no answer within 30s");
        let text = describe_status(&status);
        assert_eq!(text, "deadline exceeded: no answer within 30s");
        let error = anyhow::Error::new(status).context("account service");
        let text = describe_anyhow(&error);
        assert_eq!(
            text,
            "account service: deadline exceeded: no answer within 30s"
        );
        assert!(!text.contains("metadata"), "{text}");
    }

    #[test]
    fn a_status_with_details_names_its_reason_and_fields() {
        let mut details = tonic_types::ErrorDetails::new();
        details.set_error_info("INVALID_FIELD", "candor", std::collections::HashMap::new());
        details.add_bad_request_violation("incident.discovered_at", "before occurred_at");
        details.add_bad_request_violation("email", "not an address");
        let status = <tonic::Status as tonic_types::StatusExt>::with_error_details(
            tonic::Code::InvalidArgument,
            "incident.discovered_at: before occurred_at",
            details,
        );
        assert_eq!(
            describe_status(&status),
            "invalid argument: incident.discovered_at: before occurred_at \
             [INVALID_FIELD; email: not an address]"
        );
    }
}
