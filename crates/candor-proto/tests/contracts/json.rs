use candor_proto::events::v1::{
    AccountsAffected, AffectedAccount, BreachReported, CompensationKind, DataClass,
    PasswordResetScope,
};
use candor_proto::{JsonError, decode_json, encode_json, encode_json_pretty};
use prost_types::Timestamp;

const EXAMPLE: &str = include_str!("../data/breach_reported.json");

fn timestamp(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

#[test]
fn breach_reported_parses_from_the_documented_example() {
    let event: BreachReported = decode_json(EXAMPLE.as_bytes()).unwrap();

    assert_eq!(event.incident_id, "2025-05-member-backup");
    assert_eq!(
        event.title,
        "Member email addresses and password hashes were stolen"
    );
    assert!(event.summary.contains("\n\nWe found the download"));
    assert_eq!(event.occurred_at, timestamp(1_747_188_600)); // 2025-05-14T02:10:00Z
    assert_eq!(event.discovered_at, timestamp(1_747_759_500)); // 2025-05-20T16:45:00Z
    assert_eq!(event.occurred_until, None);
    assert_eq!(event.affected_joined_before, timestamp(1_320_105_600)); // 2011-11-01T00:00:00Z
    assert_eq!(event.password_reset_scope(), PasswordResetScope::All);

    let classes: Vec<DataClass> = event
        .data_classes
        .iter()
        .map(|taken| taken.data_class())
        .collect();
    assert_eq!(classes, [DataClass::EmailAddress, DataClass::PasswordHash]);
    assert_eq!(
        event.data_classes[1].description,
        "salted SHA-1 password hashes"
    );

    let compensation = event.compensation.as_ref().unwrap();
    assert_eq!(compensation.kind(), CompensationKind::LifetimeMembership);
    assert_eq!(compensation.value_minor_units, 2500);
    assert_eq!(compensation.currency, "USD");

    assert_eq!(event.measures_taken.len(), 4);
    assert_eq!(event.recommended_actions.len(), 2);
    assert!(!event.likely_consequences.is_empty());
    let contact = event.contact.as_ref().unwrap();
    assert_eq!(contact.email, "privacy@candor.example");
    assert_eq!(contact.url, "https://candor.example/security/2025-05");
}

#[test]
fn json_round_trip_preserves_the_message() {
    let event: BreachReported = decode_json(EXAMPLE.as_bytes()).unwrap();

    let compact = encode_json(&event).unwrap();
    assert!(
        compact.contains(r#""occurredAt":"2025-05-14T02:10:00Z""#),
        "{compact}"
    );
    assert!(
        compact.contains(r#""passwordResetScope":"PASSWORD_RESET_SCOPE_ALL""#),
        "{compact}"
    );
    assert_eq!(
        decode_json::<BreachReported>(compact.as_bytes()).unwrap(),
        event
    );

    let pretty = encode_json_pretty(&event).unwrap();
    assert!(pretty.lines().count() > 10);
    assert_eq!(
        decode_json::<BreachReported>(pretty.as_bytes()).unwrap(),
        event
    );
}

#[test]
fn other_events_round_trip_too() {
    let batch = AccountsAffected {
        incident_id: "2025-05-member-backup".into(),
        batch_sequence: 7,
        accounts: vec![AffectedAccount {
            account_id: "0196b4f0-7a3e-7c1d-9a52-3f0c2d1e4b5a".into(),
            email: "ada@example.org".into(),
            display_name: "Ada <script>".into(),
            joined_at: timestamp(1_000_000_000),
            held_data_classes: vec![
                DataClass::EmailAddress as i32,
                DataClass::PasswordHash as i32,
            ],
        }],
    };
    let json = encode_json(&batch).unwrap();
    assert!(
        json.contains(r#""joinedAt":"2001-09-09T01:46:40Z""#),
        "{json}"
    );
    assert!(
        json.contains(
            r#""heldDataClasses":["DATA_CLASS_EMAIL_ADDRESS","DATA_CLASS_PASSWORD_HASH"]"#
        ),
        "{json}"
    );
    assert_eq!(
        decode_json::<AccountsAffected>(json.as_bytes()).unwrap(),
        batch
    );
}

fn example_with(from: &str, to: &str) -> String {
    assert!(EXAMPLE.contains(from), "example lacks {from}");
    EXAMPLE.replacen(from, to, 1)
}

fn error_text(json: &str) -> String {
    let Err(error) = decode_json::<BreachReported>(json.as_bytes()) else {
        panic!("accepted invalid JSON: {json}");
    };
    assert!(matches!(error, JsonError::Invalid { .. }), "{error:?}");
    let text = error.to_string();
    eprintln!("{text}");
    text
}

#[test]
fn unknown_enum_value_is_named() {
    let text = error_text(&example_with(
        "COMPENSATION_KIND_LIFETIME_MEMBERSHIP",
        "COMPENSATION_KIND_FREE_PIZZA",
    ));
    assert!(text.contains("candor.events.v1.BreachReported"), "{text}");
    assert!(text.contains("COMPENSATION_KIND_FREE_PIZZA"), "{text}");
    assert!(text.contains("enum"), "{text}");
    assert!(text.contains("line 14"), "{text}");
    assert!(text.contains(r#""kind""#), "{text}");
}

#[test]
fn bad_timestamp_is_named() {
    let text = error_text(&example_with("2025-05-20T16:45:00Z", "20 May 2025"));
    assert!(text.contains("timestamp"), "{text}");
    assert!(text.contains("line 6"), "{text}");
    assert!(text.contains("discoveredAt"), "{text}");
}

#[test]
fn unknown_field_is_named() {
    let text = error_text(&example_with("\"occurredAt\"", "\"occuredAt\""));
    assert!(text.contains("occuredAt"), "{text}");
}

#[test]
fn malformed_json_is_an_error() {
    let text = error_text(r#"{"incidentId": "x", "#);
    assert!(text.contains("line 1"), "{text}");
    let text = error_text(r#"{"incidentId": "x"} trailing"#);
    assert!(text.contains("trailing"), "{text}");
}
