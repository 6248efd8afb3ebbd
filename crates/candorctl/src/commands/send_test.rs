//! `candorctl breach report --dry-run --send-test-to ADDRESS`: the notice,
//! rendered as a sample member would get it (text and HTML), sent to one
//! address through the notification service's own SMTP server, marked as
//! a test ("[TEST]" before the subject, a line at the top of the body).
//! Nothing is published and the service records nothing.

use candor_proto::events::v1::BreachReported;
use candor_proto::notification::v1::SendTestNoticeRequest;
use tonic::Code;

use super::{EXIT_INVALID_INPUT, EXIT_NOT_OK, EXIT_UNREACHABLE};
use crate::endpoints::Endpoints;
use crate::errors;

/// The sample member the test copy greets.
const SAMPLE_MEMBER: &str = "Ada Lovelace";

/// Parses `--send-test-to`: one email address, checked before anything is
/// sent (the service checks it again).
pub fn parse_address(value: &str) -> Result<String, String> {
    let address = value.trim();
    let valid = (3..=254).contains(&address.chars().count())
        && address
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !address
            .chars()
            .any(|character| character.is_whitespace() || character.is_control());
    if valid {
        Ok(address.to_owned())
    } else {
        Err("must be one email address, e.g. you@example.org".to_owned())
    }
}

/// Sends the test copy to `address` and says what became of it; `Err` is
/// the exit code for a copy that was not sent.
pub async fn send_test_notice(
    breach: &BreachReported,
    endpoints: &Endpoints,
    address: &str,
) -> Result<(), u8> {
    let url = &endpoints.notification_grpc_url;
    let channel = endpoints.operator_channel(url).map_err(|error| {
        eprintln!(
            "candorctl: notification service ({url}): {}",
            errors::describe_anyhow(&error)
        );
        EXIT_UNREACHABLE
    })?;
    let request = SendTestNoticeRequest {
        incident: Some(breach.clone()),
        to_address: address.to_owned(),
        display_name: SAMPLE_MEMBER.to_owned(),
        thread_url: String::new(),
    };
    match channel.notification().send_test_notice(request).await {
        Ok(response) => {
            let sent = response.into_inner();
            println!(
                "--- test notice sent to {} (subject {:?}, Message-ID {}); no member was emailed and nothing was recorded",
                sent.to_address, sent.subject, sent.message_id
            );
            Ok(())
        }
        Err(status) => {
            eprintln!(
                "candorctl: test notice to {address} not sent: {}",
                errors::describe_status(&status)
            );
            Err(exit_code(status.code()))
        }
    }
}

/// The exit code of a copy the service did not send.
fn exit_code(code: Code) -> u8 {
    match code {
        Code::InvalidArgument => EXIT_INVALID_INPUT,
        Code::Unavailable | Code::DeadlineExceeded => EXIT_UNREACHABLE,
        _ => EXIT_NOT_OK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_one_address() {
        assert_eq!(
            parse_address(" ops@acme.example "),
            Ok("ops@acme.example".to_owned())
        );
        for bad in [
            "",
            "ops",
            "ops@localhost",
            "a b@acme.example",
            "@acme.example",
        ] {
            assert!(parse_address(bad).is_err(), "{bad:?}");
        }
    }
}
