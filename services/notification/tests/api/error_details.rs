//! What a caller reads from the rich error details of the notification
//! service's answers (`tonic_types::StatusExt`, Google's AIP-193): every
//! error's ErrorInfo with its documented reason and domain `candor`, the
//! field of an INVALID_ARGUMENT in a BadRequest, the retry delay of an
//! UNAVAILABLE in a RetryInfo.

use std::time::Duration;

use candor_proto::notification::v1::{
    GetDeliveryRequest, GetIncidentProgressRequest, PasswordResetEmail, RenderBreachNoticeRequest,
    SendEmailRequest, SendTestNoticeRequest, send_email_request,
};
use candor_testkit::environment::TestEnvironment;
use candor_testkit::error_details::{error_info, invalid_field, violated_fields};
use candor_testkit::smtp::{Refusal, SmtpSink};
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::*;

fn send_email(key: &str, link: &str) -> SendEmailRequest {
    SendEmailRequest {
        idempotency_key: key.to_owned(),
        to_address: "ada@example.org".to_owned(),
        to_display_name: "Ada".to_owned(),
        content: Some(send_email_request::Content::PasswordReset(
            PasswordResetEmail {
                reset_url: link.to_owned(),
                expires_at: Some(now()),
            },
        )),
        ..Default::default()
    }
}

fn test_notice(to_address: &str) -> SendTestNoticeRequest {
    SendTestNoticeRequest {
        incident: Some(incident()),
        to_address: to_address.to_owned(),
        display_name: "Ada Lovelace".to_owned(),
        thread_url: String::new(),
    }
}

#[tokio::test]
async fn every_error_names_its_documented_reason() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let mut client = client(&service).await;

    // INVALID_ARGUMENT: the field in the BadRequest and the ErrorInfo.
    let status = client
        .get_delivery(as_operator(GetDeliveryRequest {
            delivery_id: "not-a-uuid".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let info = error_info(&status, "INVALID_FIELD");
    assert_eq!(
        info.metadata.get("field").map(String::as_str),
        Some("delivery_id")
    );
    assert_eq!(violated_fields(&status), ["delivery_id"]);
    assert!(status.get_details_retry_info().is_none());

    // NOT_FOUND, each with the reason of what was not found.
    let status = client
        .get_delivery(as_operator(GetDeliveryRequest {
            delivery_id: uuid::Uuid::new_v4().to_string(),
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    error_info(&status, "DELIVERY_NOT_FOUND");
    assert!(status.get_details_bad_request().is_none());
    let status = client
        .get_incident_progress(as_operator(GetIncidentProgressRequest {
            incident_id: "never-reported".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    error_info(&status, "INCIDENT_NOT_FOUND");

    // FAILED_PRECONDITION: a key used for another request.
    client
        .send_email(as_account(send_email(
            "reset:1",
            "https://books.example/r/1",
        )))
        .await
        .unwrap();
    let status = client
        .send_email(as_account(send_email(
            "reset:1",
            "https://books.example/r/2",
        )))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    error_info(&status, "IDEMPOTENCY_KEY_REUSED");

    // Refused credentials, by the permission layer.
    let status = client
        .get_delivery(GetDeliveryRequest {
            delivery_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    error_info(&status, "CREDENTIAL_MISSING");
    let status = client
        .send_email(as_operator(send_email(
            "reset:2",
            "https://books.example/r/3",
        )))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    error_info(&status, "CALLER_NOT_PERMITTED");
    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_broken_incident_is_one_violation_of_the_incident_field_listing_each_rule() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let mut broken = incident();
    broken.title = String::new();
    broken.discovered_at = Some(prost_types::Timestamp {
        seconds: 0,
        nanos: 0,
    });
    let status = client(&service)
        .await
        .render_breach_notice(as_operator(RenderBreachNoticeRequest {
            incident: Some(broken),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    let violation = invalid_field(&status, "incident");
    assert_eq!(violation.description, status.message());
    for field in ["incident.title", "incident.discovered_at"] {
        assert!(status.message().contains(field), "{}", status.message());
    }
    service.stop().await.unwrap();
}

#[tokio::test]
async fn the_smtp_servers_refusal_is_final_and_its_temporary_failure_has_a_retry_delay() {
    let environment = TestEnvironment::new().await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let service = start(config(&environment, &sink.url())).await;
    let mut client = client(&service).await;

    sink.refuse("gone@books.example", Refusal::Permanent);
    let status = client
        .send_test_notice(as_operator(test_notice("gone@books.example")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    error_info(&status, "SMTP_REFUSED");
    assert!(status.get_details_retry_info().is_none());

    sink.refuse("busy@books.example", Refusal::Temporary);
    let status = client
        .send_test_notice(as_operator(test_notice("busy@books.example")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    error_info(&status, "DEPENDENCY_UNAVAILABLE");
    let retry = status.get_details_retry_info().expect("a RetryInfo");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(1)));
    service.stop().await.unwrap();
}
