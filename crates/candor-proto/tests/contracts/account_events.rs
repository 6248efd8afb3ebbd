//! The validation of `AccountsAffected`, `EnumerationCompleted`,
//! `IncidentThreadOpened`, `AccountDeactivated` and `NoticeUndelivered`:
//! one set of rules that every consumer applies.

use candor_proto::events::v1::{
    ACCOUNT_DATA_CLASSES, AccountDeactivated, AccountsAffected, AffectedAccount, DataClass,
    EnumerationCompleted, IncidentThreadOpened, MAX_BATCH_ACCOUNTS, NoticeUndelivered,
    UndeliveredReason, ValidationError,
};

fn account(index: usize) -> AffectedAccount {
    AffectedAccount {
        account_id: format!("00000000-0000-7000-8000-{index:012}"),
        email: format!("member-{index}@example.org"),
        display_name: format!("Member {index}"),
        joined_at: None,
        held_data_classes: ACCOUNT_DATA_CLASSES
            .iter()
            .map(|class| *class as i32)
            .collect(),
    }
}

fn batch(accounts: usize) -> AccountsAffected {
    AccountsAffected {
        incident_id: "2025-05-backup".to_owned(),
        batch_sequence: 1,
        accounts: (0..accounts).map(account).collect(),
    }
}

fn fields(result: Result<(), ValidationError>) -> Vec<String> {
    match result {
        Ok(()) => Vec::new(),
        Err(error) => error.violations.into_iter().map(|v| v.field).collect(),
    }
}

#[test]
fn a_well_formed_batch_is_valid() {
    assert_eq!(batch(3).validate(), Ok(()));
    assert_eq!(batch(MAX_BATCH_ACCOUNTS).validate(), Ok(()));
}

#[test]
fn a_batch_names_every_broken_rule() {
    let error = AccountsAffected::default().validate().unwrap_err();
    let fields: Vec<_> = error.violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["incident_id", "batch_sequence", "accounts"]);
    assert!(error.to_string().starts_with("incident_id: must be 1..=64"));
}

#[test]
fn incident_ids_follow_the_breach_rule() {
    for bad in ["", "Upper", "-leading", &"a".repeat(65), "inc-1\nforged"] {
        let mut event = batch(1);
        event.incident_id = bad.to_owned();
        assert_eq!(fields(event.validate()), ["incident_id"], "{bad:?}");
    }
    let mut event = batch(1);
    event.incident_id = "a".repeat(64);
    assert_eq!(event.validate(), Ok(()));
}

#[test]
fn sequences_start_at_one_and_fit_the_stores() {
    for bad in [0, u32::MAX, 1 << 31] {
        let mut event = batch(1);
        event.batch_sequence = bad;
        assert_eq!(fields(event.validate()), ["batch_sequence"], "{bad}");
    }
    let mut event = batch(1);
    event.batch_sequence = i32::MAX as u32;
    assert_eq!(event.validate(), Ok(()));
}

#[test]
fn too_many_accounts_are_refused() {
    let error = batch(MAX_BATCH_ACCOUNTS + 1).validate().unwrap_err();
    assert_eq!(error.violations[0].field, "accounts");
    assert!(error.violations[0].description.contains("got 1001"));
}

#[test]
fn account_ids_are_distinct_uuids() {
    let mut event = batch(3);
    event.accounts[1].account_id = "not-a-uuid".to_owned();
    assert_eq!(fields(event.validate()), ["accounts[1].account_id"]);

    let mut event = batch(3);
    event.accounts[2].account_id = event.accounts[0].account_id.clone();
    let error = event.validate().unwrap_err();
    assert_eq!(
        error.to_string(),
        "accounts: holds the same account_id twice"
    );

    // The same UUID written differently is still the same account.
    let mut event = batch(2);
    event.accounts[1].account_id = event.accounts[0].account_id.to_uppercase();
    assert_eq!(fields(event.validate()), ["accounts"]);
}

#[test]
fn an_email_address_when_given_is_well_formed() {
    for bad in ["no-at-sign", "a@", "@b", "a b@example.org", "x@.example"] {
        let mut event = batch(2);
        event.accounts[1].email = bad.to_owned();
        assert_eq!(fields(event.validate()), ["accounts[1].email"], "{bad:?}");
    }
    let mut event = batch(1);
    event.accounts[0].email = format!("{}@example.org", "a".repeat(250));
    assert_eq!(fields(event.validate()), ["accounts[0].email"]);
    // Surrounding blanks are ignored, as the notification service trims.
    let mut event = batch(1);
    event.accounts[0].email = " member@example.org ".to_owned();
    assert_eq!(event.validate(), Ok(()));
}

#[test]
fn an_account_without_an_email_address_is_affected_too() {
    let email = DataClass::EmailAddress as i32;
    let name = DataClass::DisplayName as i32;
    let password = DataClass::PasswordHash as i32;
    // Since API 1.1.0: empty (or blank) with held classes that leave the
    // email address out, or with none known.
    for (address, held) in [
        ("", vec![name, password]),
        ("", vec![password]),
        ("", vec![]),
        ("   ", vec![name]),
    ] {
        let mut event = batch(2);
        event.accounts[1].email = address.to_owned();
        event.accounts[1].held_data_classes = held.clone();
        assert_eq!(event.validate(), Ok(()), "{address:?} {held:?}");
    }

    // An account without an address cannot have had it taken.
    let mut event = batch(2);
    event.accounts[1].email = String::new();
    event.accounts[1].held_data_classes = vec![email, name];
    let error = event.validate().unwrap_err();
    assert_eq!(
        error.to_string(),
        "accounts[1].held_data_classes: must not include DATA_CLASS_EMAIL_ADDRESS \
         (the account has no email address)"
    );

    // And one with an address lists it whenever it lists anything.
    let mut event = batch(2);
    event.accounts[0].held_data_classes = vec![name, password];
    let error = event.validate().unwrap_err();
    assert_eq!(
        error.to_string(),
        "accounts[0].held_data_classes: must include DATA_CLASS_EMAIL_ADDRESS \
         (the account has an email address)"
    );
}

#[test]
fn a_display_name_never_refuses_the_whole_batch() {
    // The notice of that one member fails; the batch's others go out.
    let mut event = batch(2);
    event.accounts[1].display_name = "Eve\r\nBcc: attacker@example.org".to_owned();
    assert_eq!(event.validate(), Ok(()));
}

#[test]
fn held_data_classes_are_the_account_services_own_each_once_with_the_email() {
    let email = DataClass::EmailAddress as i32;
    let password = DataClass::PasswordHash as i32;
    // Unknown (an older publisher), or only some of them held: valid.
    for held in [vec![], vec![email], vec![password, email]] {
        let mut event = batch(1);
        event.accounts[0].held_data_classes = held.clone();
        assert_eq!(event.validate(), Ok(()), "{held:?}");
    }

    let mut event = batch(2);
    event.accounts[1].held_data_classes =
        vec![email, DataClass::PaymentCard as i32, password, 77, password];
    let error = event.validate().unwrap_err();
    assert_eq!(
        error.to_string(),
        "accounts[1].held_data_classes[1]: must be DATA_CLASS_EMAIL_ADDRESS, \
         DATA_CLASS_DISPLAY_NAME or DATA_CLASS_PASSWORD_HASH; \
         accounts[1].held_data_classes[3]: must be DATA_CLASS_EMAIL_ADDRESS, \
         DATA_CLASS_DISPLAY_NAME or DATA_CLASS_PASSWORD_HASH; \
         accounts[1].held_data_classes[4]: duplicate of accounts[1].held_data_classes[2]"
    );

    let mut event = batch(1);
    event.accounts[0].held_data_classes = vec![password];
    assert_eq!(fields(event.validate()), ["accounts[0].held_data_classes"]);
}

fn enumeration(affected_accounts: u64, batch_count: u32) -> EnumerationCompleted {
    EnumerationCompleted {
        incident_id: "2025-05-backup".to_owned(),
        affected_accounts,
        batch_count,
        ..EnumerationCompleted::default()
    }
}

#[test]
fn enumeration_totals_agree_and_fit() {
    assert_eq!(enumeration(1200, 3).validate(), Ok(()));
    assert_eq!(enumeration(0, 0).validate(), Ok(()));
    assert_eq!(fields(enumeration(0, 1).validate()), ["batch_count"]);
    assert_eq!(fields(enumeration(5, 0).validate()), ["batch_count"]);
    assert_eq!(
        fields(enumeration(u64::MAX, 1).validate()),
        ["affected_accounts"]
    );
    assert_eq!(fields(enumeration(5, u32::MAX).validate()), ["batch_count"]);
    let mut event = enumeration(5, 1);
    event.incident_id = String::new();
    assert_eq!(fields(event.validate()), ["incident_id"]);
}

fn thread() -> IncidentThreadOpened {
    IncidentThreadOpened {
        incident_id: "2025-05-backup".to_owned(),
        thread_id: "0197a1b2-0000-7000-8000-000000000001".to_owned(),
        url: "https://books.example/forum/threads/0197a1b2-0000-7000-8000-000000000001".to_owned(),
        opened_at: None,
    }
}

#[test]
fn a_thread_needs_a_uuid_and_an_absolute_link() {
    assert_eq!(thread().validate(), Ok(()));
    let mut http = thread();
    http.url = " http://localhost:8080/forum/threads/1 ".to_owned();
    assert_eq!(http.validate(), Ok(()));
    for bad in [
        "",
        "/forum/threads/1",
        "ftp://example.org/x",
        "https://",
        "https://a b",
    ] {
        let mut event = thread();
        event.url = bad.to_owned();
        assert_eq!(fields(event.validate()), ["url"], "{bad:?}");
    }
    let mut long = thread();
    long.url = format!("https://example.org/{}", "a".repeat(2048));
    assert_eq!(fields(long.validate()), ["url"]);
    let mut event = thread();
    event.thread_id = "thread-1".to_owned();
    event.incident_id = String::new();
    assert_eq!(fields(event.validate()), ["incident_id", "thread_id"]);
}

#[test]
fn a_deactivation_names_a_uuid() {
    let event = AccountDeactivated {
        account_id: "0197a1b2-0000-7000-8000-000000000001".to_owned(),
        deactivated_at: None,
    };
    assert_eq!(event.validate(), Ok(()));
    let error = AccountDeactivated::default().validate().unwrap_err();
    assert_eq!(error.to_string(), "account_id: must be a UUID");
}

fn undelivered(reason: UndeliveredReason) -> NoticeUndelivered {
    NoticeUndelivered {
        incident_id: "2025-05-backup".to_owned(),
        account_id: "0197a1b2-0000-7000-8000-000000000001".to_owned(),
        reason: reason as i32,
        occurred_at: Some(prost_types::Timestamp {
            seconds: 1_765_000_000,
            nanos: 0,
        }),
    }
}

#[test]
fn an_undelivered_notice_names_its_member_reason_and_time() {
    for reason in [
        UndeliveredReason::Failed,
        UndeliveredReason::Suppressed,
        UndeliveredReason::Bounced,
        UndeliveredReason::NoEmailAddress,
    ] {
        assert_eq!(undelivered(reason).validate(), Ok(()), "{reason:?}");
    }
    let mut unknown = undelivered(UndeliveredReason::Failed);
    unknown.reason = 99;
    assert_eq!(fields(unknown.validate()), ["reason"]);
    assert_eq!(
        fields(undelivered(UndeliveredReason::Unspecified).validate()),
        ["reason"]
    );

    let error = NoticeUndelivered::default().validate().unwrap_err();
    let fields: Vec<_> = error.violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        ["incident_id", "account_id", "reason", "occurred_at"]
    );

    let mut event = undelivered(UndeliveredReason::Bounced);
    event.incident_id = "Upper".to_owned();
    event.account_id = "member-1".to_owned();
    let error = event.validate().unwrap_err();
    assert_eq!(
        error
            .violations
            .iter()
            .map(|v| v.field.as_str())
            .collect::<Vec<_>>(),
        ["incident_id", "account_id"]
    );
}
