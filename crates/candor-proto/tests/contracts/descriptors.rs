use std::collections::BTreeSet;

use candor_proto::prost::Message as _;
use candor_proto::{FILE_DESCRIPTOR_SET, descriptor_pool};

const PACKAGES: [&str; 5] = [
    "candor.account.v1",
    "candor.events.v1",
    "candor.forum.v1",
    "candor.membership.v1",
    "candor.notification.v1",
];

const SERVICES: [&str; 4] = [
    "candor.account.v1.AccountService",
    "candor.forum.v1.ForumService",
    "candor.membership.v1.MembershipService",
    "candor.notification.v1.NotificationService",
];

#[test]
fn encoded_set_has_every_package_and_service() {
    let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
    let packages: BTreeSet<&str> = set.file.iter().map(|file| file.package()).collect();
    for package in PACKAGES {
        assert!(
            packages.contains(package),
            "{package} missing from {packages:?}"
        );
    }
    let services: BTreeSet<String> = set
        .file
        .iter()
        .flat_map(|file| {
            file.service
                .iter()
                .map(move |service| format!("{}.{}", file.package(), service.name()))
        })
        .collect();
    assert_eq!(
        services,
        SERVICES.iter().map(|name| name.to_string()).collect()
    );
    assert!(
        set.file
            .iter()
            .any(|file| file.name() == "google/protobuf/timestamp.proto"),
        "imports must be included for reflection"
    );
}

#[test]
fn pool_knows_every_service_and_its_rpcs() {
    let pool = descriptor_pool().unwrap();
    let rpcs = |service: &str| -> BTreeSet<String> {
        pool.get_service_by_name(service)
            .unwrap_or_else(|| panic!("{service} missing"))
            .methods()
            .map(|method| method.name().to_owned())
            .collect()
    };
    let expect = |service: &str, names: &[&str]| {
        let have = rpcs(service);
        for name in names {
            assert!(
                have.contains(*name),
                "{service}.{name} missing from {have:?}"
            );
        }
    };
    expect(
        "candor.account.v1.AccountService",
        &[
            "Register",
            "Login",
            "ChangePassword",
            "RequestPasswordReset",
            "ResetPassword",
            "ValidateSession",
            "GetAccount",
            "SetRoles",
            "RequestDeactivation",
            "ConfirmDeactivation",
            "ImportAccounts",
            "ListAffectedAccounts",
            "GetIncidentProgress",
            "CountAffectedAccounts",
        ],
    );
    expect(
        "candor.notification.v1.NotificationService",
        &[
            "SendEmail",
            "GetDelivery",
            "ListDeliveries",
            "GetIncidentProgress",
            "RenderBreachNotice",
        ],
    );
    expect(
        "candor.membership.v1.MembershipService",
        &[
            "GetMembership",
            "ListCredits",
            "GrantCredit",
            "GetIncidentProgress",
        ],
    );
    expect(
        "candor.forum.v1.ForumService",
        &[
            "CreateThread",
            "GetThread",
            "ListThreads",
            "CreatePost",
            "ListPosts",
            "EditPost",
            "DeletePost",
            "PinThread",
            "LockThread",
            "GetIncidentThread",
            "PostCannedReply",
        ],
    );

    let import = pool
        .get_service_by_name("candor.account.v1.AccountService")
        .unwrap()
        .methods()
        .find(|method| method.name() == "ImportAccounts")
        .unwrap();
    assert!(import.is_client_streaming() && !import.is_server_streaming());
}

#[test]
fn comments_are_kept_for_reflection() {
    let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
    let events = set
        .file
        .iter()
        .find(|file| file.name() == "candor/events/v1/events.proto")
        .unwrap();
    let comments = events.source_code_info.as_ref().unwrap();
    assert!(
        comments
            .location
            .iter()
            .any(|location| location.leading_comments().contains("idempotency key"))
    );
}

#[test]
fn every_enum_starts_with_unspecified_zero() {
    let pool = descriptor_pool().unwrap();
    for enumeration in pool
        .all_enums()
        .filter(|e| e.full_name().starts_with("candor."))
    {
        let zero = enumeration
            .get_value(0)
            .unwrap_or_else(|| panic!("{} has no 0", enumeration.full_name()));
        assert!(
            zero.name().ends_with("_UNSPECIFIED"),
            "{} zero is {}",
            enumeration.full_name(),
            zero.name()
        );
    }
}

/// The contract rule: every field, enum value and RPC carries a comment
/// (unit, format, validation; status codes and credential for RPCs).
#[test]
fn every_field_value_and_rpc_is_commented() {
    let pool = descriptor_pool().unwrap();
    let comment = |file: &prost_reflect::FileDescriptor, path: &[i32]| -> bool {
        file.file_descriptor_proto()
            .source_code_info
            .as_ref()
            .into_iter()
            .flat_map(|info| info.location.iter())
            .any(|location| {
                location.path == path
                    && !(location.leading_comments().trim().is_empty()
                        && location.trailing_comments().trim().is_empty())
            })
    };
    let mut missing = Vec::new();
    // Map entry messages are synthetic: their key/value cannot carry comments.
    for message in pool
        .all_messages()
        .filter(|m| m.package_name().starts_with("candor.") && !m.is_map_entry())
    {
        for field in message.fields() {
            if !comment(&message.parent_file(), field.path()) {
                missing.push(field.full_name().to_owned());
            }
        }
    }
    for enumeration in pool
        .all_enums()
        .filter(|e| e.package_name().starts_with("candor."))
    {
        for value in enumeration.values() {
            if !comment(&enumeration.parent_file(), value.path()) {
                missing.push(value.full_name().to_owned());
            }
        }
    }
    for service in pool.services() {
        for method in service.methods() {
            let text = method
                .parent_file()
                .file_descriptor_proto()
                .source_code_info
                .as_ref()
                .and_then(|info| info.location.iter().find(|l| l.path == method.path()))
                .map(|l| l.leading_comments().to_owned())
                .unwrap_or_default();
            if !(text.contains("Credential:") && text.contains("Errors:")) {
                missing.push(format!("{} (Credential:/Errors:)", method.full_name()));
            }
        }
    }
    assert!(missing.is_empty(), "uncommented: {missing:#?}");
}
