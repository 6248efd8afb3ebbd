use std::collections::BTreeSet;

use candor_proto::encode_json;
use candor_proto::events::v1::{
    self as events, AccountDeactivated, AccountsAffected, BreachReported, EnumerationCompleted,
    Event, IncidentThreadOpened, NoticeUndelivered, PayloadError, decode_payload,
};
use candor_proto::prost::{Message as _, Name};

fn key_and_name<E: Event>() -> (&'static str, String) {
    (E::ROUTING_KEY, E::full_name())
}

#[test]
fn every_event_has_a_distinct_routing_key() {
    let pairs = [
        key_and_name::<BreachReported>(),
        key_and_name::<AccountsAffected>(),
        key_and_name::<EnumerationCompleted>(),
        key_and_name::<IncidentThreadOpened>(),
        key_and_name::<AccountDeactivated>(),
        key_and_name::<NoticeUndelivered>(),
    ];
    let keys: BTreeSet<&str> = pairs.iter().map(|(key, _)| *key).collect();
    assert_eq!(
        keys.len(),
        pairs.len(),
        "duplicate routing key in {pairs:?}"
    );
    assert_eq!(keys, events::ROUTING_KEYS.into_iter().collect());
    for (key, name) in &pairs {
        assert_eq!(
            events::message_name_for_routing_key(key).as_deref(),
            Some(name.as_str())
        );
    }
    assert_eq!(events::message_name_for_routing_key("breach.unknown"), None);
}

#[test]
fn routing_keys_match_the_design() {
    assert_eq!(BreachReported::ROUTING_KEY, "breach.reported");
    assert_eq!(
        NoticeUndelivered::ROUTING_KEY,
        "notification.notice_undelivered"
    );
    assert_eq!(AccountsAffected::ROUTING_KEY, "breach.accounts_affected");
    assert_eq!(
        EnumerationCompleted::ROUTING_KEY,
        "breach.enumeration_completed"
    );
    assert_eq!(
        IncidentThreadOpened::ROUTING_KEY,
        "forum.incident_thread_opened"
    );
    assert_eq!(AccountDeactivated::ROUTING_KEY, "account.deactivated");
    assert_eq!(
        BreachReported::full_name(),
        "candor.events.v1.BreachReported"
    );
    assert_eq!(events::EXCHANGE, "candor.events");
}

#[test]
fn payloads_decode_by_content_type() {
    let event = AccountDeactivated {
        account_id: "0196b4f0-7a3e-7c1d-9a52-3f0c2d1e4b5a".into(),
        deactivated_at: Some(prost_types::Timestamp {
            seconds: 1_747_759_500,
            nanos: 0,
        }),
    };
    let binary = event.encode_to_vec();
    let json = encode_json(&event).unwrap();

    assert_eq!(
        decode_payload::<AccountDeactivated>(None, &binary).unwrap(),
        event
    );
    assert_eq!(
        decode_payload::<AccountDeactivated>(Some(events::CONTENT_TYPE_PROTOBUF), &binary).unwrap(),
        event
    );
    assert_eq!(
        decode_payload::<AccountDeactivated>(
            Some("application/json; charset=utf-8"),
            json.as_bytes()
        )
        .unwrap(),
        event
    );

    let unsupported =
        decode_payload::<AccountDeactivated>(Some("text/plain"), &binary).unwrap_err();
    assert!(matches!(
        unsupported,
        PayloadError::UnsupportedContentType { .. }
    ));
    assert!(unsupported.to_string().contains("text/plain"));

    let garbage = decode_payload::<AccountDeactivated>(None, &[0xff, 0xff, 0xff]).unwrap_err();
    assert!(
        matches!(garbage, PayloadError::Protobuf { .. }),
        "{garbage:?}"
    );
    assert!(
        garbage
            .to_string()
            .contains("candor.events.v1.AccountDeactivated")
    );

    let bad_json =
        decode_payload::<AccountDeactivated>(Some("application/json"), b"{\"x\":1}").unwrap_err();
    assert!(matches!(bad_json, PayloadError::Json(_)), "{bad_json:?}");
}

mod validation {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use candor_proto::decode_json;
    use candor_proto::events::v1::{BreachReported, CompensationKind, DataClass, DataClassTaken};

    const EXAMPLE: &str = include_str!("../data/breach_reported.json");

    fn example() -> BreachReported {
        match decode_json(EXAMPLE.as_bytes()) {
            Ok(event) => event,
            Err(error) => panic!("example does not parse: {error}"),
        }
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_750_000_000) // 2025-06-15
    }

    fn fields(event: &BreachReported) -> Vec<String> {
        match event.validate(now()) {
            Ok(()) => Vec::new(),
            Err(error) => error.violations.into_iter().map(|v| v.field).collect(),
        }
    }

    #[test]
    fn the_documented_example_is_valid() {
        assert_eq!(example().validate(now()), Ok(()));
    }

    #[test]
    fn empty_event_names_every_required_field() {
        let error = BreachReported::default().validate(now()).unwrap_err();
        let text = error.to_string();
        for field in [
            "incident_id",
            "title",
            "summary",
            "occurred_at",
            "discovered_at",
            "data_classes",
            "affected_joined_before",
            "password_reset_scope",
            "compensation",
            "measures_taken",
            "contact",
        ] {
            assert!(
                text.contains(&format!("{field}:")),
                "{field} not named in {text}"
            );
        }
    }

    #[test]
    fn discovered_before_occurred_is_refused() {
        let mut event = example();
        event.discovered_at = Some(prost_types::Timestamp {
            seconds: 1_747_000_000,
            nanos: 0,
        });
        assert_eq!(fields(&event), ["discovered_at"]);
    }

    #[test]
    fn discovered_in_the_future_is_refused() {
        let mut event = example();
        event.discovered_at = Some(prost_types::Timestamp {
            seconds: 1_760_000_000,
            nanos: 0,
        });
        assert_eq!(fields(&event), ["discovered_at"]);
    }

    #[test]
    fn unknown_enum_numbers_and_bad_compensation_are_refused() {
        let mut event = example();
        event.password_reset_scope = 42;
        event.data_classes.push(DataClassTaken {
            data_class: DataClass::EmailAddress as i32,
            description: String::new(),
        });
        event.data_classes.push(DataClassTaken {
            data_class: DataClass::Other as i32,
            description: " ".into(),
        });
        let compensation = event.compensation.as_mut().unwrap();
        compensation.kind = CompensationKind::PaidMembership as i32;
        compensation.currency = "usd".into();
        assert_eq!(
            fields(&event),
            [
                "data_classes[2].data_class",
                "data_classes[3].description",
                "password_reset_scope",
                "compensation.currency",
                "compensation.duration_days",
            ]
        );
    }

    #[test]
    fn an_exact_duplicate_in_a_list_is_refused_naming_the_entry_it_repeats() {
        let mut event = example();
        let action = event.recommended_actions[1].clone();
        event
            .recommended_actions
            .push("Keep an eye on your accounts.".into());
        // Surrounding blanks do not make a different entry.
        event.recommended_actions.push(format!("  {action} "));
        let measure = event.measures_taken[0].clone();
        event.measures_taken.push(measure);
        event.data_classes.push(DataClassTaken {
            data_class: DataClass::PasswordHash as i32,
            description: "unsalted MD5 hashes".into(),
        });
        for description in ["reading lists", "reading lists ", "shelves"] {
            event.data_classes.push(DataClassTaken {
                data_class: DataClass::Other as i32,
                description: description.into(),
            });
        }
        let error = event.validate(now()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "data_classes[2].data_class: duplicate of data_classes[1]; \
             data_classes[4]: duplicate of data_classes[3]; \
             measures_taken[4]: duplicate of measures_taken[0]; \
             recommended_actions[3]: duplicate of recommended_actions[1]"
        );
    }

    #[test]
    fn a_repeated_word_is_not_a_duplicate_entry() {
        let mut event = example();
        event
            .recommended_actions
            .push(event.recommended_actions[0].to_uppercase());
        assert_eq!(fields(&event), Vec::<String>::new());
    }

    #[test]
    fn contact_needs_a_usable_channel() {
        let mut event = example();
        let contact = event.contact.as_mut().unwrap();
        contact.email = "not an email".into();
        contact.url = "ftp://example.org".into();
        contact.phone = "0800 123".into();
        assert_eq!(
            fields(&event),
            ["contact.email", "contact.url", "contact.phone"]
        );
        event.contact.as_mut().unwrap().email.clear();
        event.contact.as_mut().unwrap().url.clear();
        event.contact.as_mut().unwrap().phone.clear();
        assert_eq!(fields(&event), ["contact"]);
    }

    #[test]
    fn incident_id_must_be_a_lower_case_slug() {
        for bad in ["", "Upper", "-leading", "has space", &"x".repeat(65)] {
            let mut event = example();
            event.incident_id = bad.to_owned();
            assert_eq!(fields(&event), ["incident_id"], "{bad:?}");
        }
        let mut event = example();
        event.incident_id = "0196b4f0-7a3e-7c1d-9a52-3f0c2d1e4b5a".into();
        assert_eq!(fields(&event), Vec::<String>::new());
    }
}
