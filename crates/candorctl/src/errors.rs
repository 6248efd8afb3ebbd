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

/// `unavailable: the message` (the code in lower-case words).
fn status_text(status: &tonic::Status) -> String {
    let code = code_words(status.code());
    if status.message().trim().is_empty() {
        code
    } else {
        format!("{code}: {}", status.message().trim())
    }
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
}
