//! ImportAccounts: each legacy format imports, logs in and is upgraded to
//! argon2id; bad records are reported with their line numbers.

use argon2::PasswordHasher as _;
use candor_platform::auth::Caller;
use candor_proto::account::v1::*;
use candor_testkit::environment::{OPERATOR_TOKEN, caller_token};
use md5::{Digest as _, Md5};
use sha1::Sha1;
use tonic::Code;

use crate::helpers::{PASSWORD, TestApp, with_token};

fn record(
    line: u64,
    email: &str,
    hash: Option<(LegacyHashAlgorithm, &str, String)>,
) -> ImportRecord {
    ImportRecord {
        line_number: line,
        email: email.to_owned(),
        display_name: format!("Member {line}"),
        joined_at: Some(prost_types::Timestamp {
            seconds: 1_262_304_000,
            nanos: 0,
        }),
        password_hash: hash.map(|(algorithm, salt, hash)| LegacyPasswordHash {
            algorithm: algorithm as i32,
            salt: salt.to_owned(),
            hash,
        }),
    }
}

async fn import(
    app: &TestApp,
    chunks: Vec<ImportAccountsRequest>,
) -> Result<ImportAccountsResponse, tonic::Status> {
    app.client
        .clone()
        .import_accounts(with_token(OPERATOR_TOKEN, tokio_stream::iter(chunks)))
        .await
        .map(tonic::Response::into_inner)
}

#[derive(sqlx::FromRow)]
struct Stored {
    password_hash: Option<String>,
    legacy_algorithm: Option<i16>,
}

async fn stored(app: &TestApp, email: &str) -> Stored {
    sqlx::query_as("SELECT password_hash, legacy_algorithm FROM accounts WHERE email = $1")
        .bind(email)
        .fetch_one(app.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn each_legacy_format_imports_logs_in_and_is_upgraded_to_argon2id() {
    let app = TestApp::spawn().await;
    let sha1 = hex::encode(Sha1::digest(format!("s4lt{PASSWORD}")));
    let salted_md5 = hex::encode(Md5::digest(format!("pepper{PASSWORD}"))).to_uppercase();
    let md5 = hex::encode(Md5::digest(PASSWORD));
    let bcrypt = bcrypt::hash(PASSWORD, 4).unwrap();
    let argon2 = argon2::Argon2::default()
        .hash_password(PASSWORD.as_bytes())
        .unwrap()
        .to_string();
    let formats = [
        (
            "sha1@example.com",
            LegacyHashAlgorithm::SaltedSha1,
            "s4lt",
            sha1.clone(),
        ),
        (
            "smd5@example.com",
            LegacyHashAlgorithm::SaltedMd5,
            "pepper",
            salted_md5,
        ),
        ("md5@example.com", LegacyHashAlgorithm::Md5, "", md5.clone()),
        (
            "bcrypt@example.com",
            LegacyHashAlgorithm::Bcrypt,
            "",
            bcrypt,
        ),
        (
            "argon@example.com",
            LegacyHashAlgorithm::Argon2id,
            "",
            argon2,
        ),
    ];
    let mut records: Vec<ImportRecord> = formats
        .iter()
        .enumerate()
        .map(|(index, (email, algorithm, salt, hash))| {
            record(
                10 + index as u64,
                email,
                Some((*algorithm, salt, hash.clone())),
            )
        })
        .collect();
    records.push(record(20, "nohash@example.com", None));
    records.push(record(21, "", None));
    let mut future = record(22, "future@example.com", None);
    future.joined_at = Some(prost_types::Timestamp {
        seconds: 4_102_444_800,
        nanos: 0,
    });
    let bad = vec![
        record(30, "not-an-email", None),
        record(31, "SHA1@example.com", None),
        record(
            32,
            "unknown@example.com",
            Some((LegacyHashAlgorithm::Unspecified, "", "x".into())),
        ),
        record(
            33,
            "badhex@example.com",
            Some((LegacyHashAlgorithm::Md5, "", "zz".repeat(16))),
        ),
        future,
        ImportRecord {
            line_number: 0,
            display_name: String::new(),
            ..record(0, "noname@example.com", None)
        },
    ];
    let response = import(
        &app,
        vec![
            ImportAccountsRequest { records },
            ImportAccountsRequest { records: bad },
        ],
    )
    .await
    .unwrap();
    assert_eq!(response.received, 13);
    assert_eq!(response.imported, 7);
    assert_eq!(response.rejected, 6);
    let rejections: Vec<(u64, i32)> = response
        .rejections
        .iter()
        .map(|rejection| (rejection.line_number, rejection.reason))
        .collect();
    assert_eq!(
        rejections,
        vec![
            (30, ImportRejectionReason::InvalidEmail as i32),
            (31, ImportRejectionReason::DuplicateEmail as i32),
            (32, ImportRejectionReason::UnknownAlgorithm as i32),
            (33, ImportRejectionReason::InvalidHash as i32),
            (22, ImportRejectionReason::InvalidJoinedAt as i32),
            // No line number: its 1-based position in the stream.
            (13, ImportRejectionReason::InvalidDisplayName as i32),
        ]
    );
    for rejection in &response.rejections {
        assert!(!rejection.message.contains("zz"), "never echoes the hash");
    }

    // Never stored as received.
    let before = stored(&app, "sha1@example.com").await;
    assert_ne!(before.password_hash.as_deref(), Some(sha1.as_str()));
    assert_eq!(
        before.legacy_algorithm,
        Some(LegacyHashAlgorithm::SaltedSha1 as i16)
    );
    assert_ne!(
        stored(&app, "md5@example.com")
            .await
            .password_hash
            .as_deref(),
        Some(md5.as_str())
    );

    for (email, ..) in &formats {
        assert_eq!(
            app.login(email, "not the right password")
                .await
                .unwrap_err()
                .code(),
            Code::Unauthenticated,
            "{email}"
        );
        app.session(email, PASSWORD).await;
        let after = stored(&app, email).await;
        assert_eq!(after.legacy_algorithm, None, "{email}");
        assert!(
            after.password_hash.unwrap().starts_with("$argon2id$"),
            "{email}"
        );
        // Still logs in after the upgrade.
        app.session(email, PASSWORD).await;
    }

    // Imported without a hash: the password must be reset by email.
    let status = app.login("nohash@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // A re-run reports everything as duplicates.
    let again = import(
        &app,
        vec![ImportAccountsRequest {
            records: vec![record(10, "sha1@example.com", None)],
        }],
    )
    .await
    .unwrap();
    assert_eq!(again.imported, 0);
    assert_eq!(
        again.rejections[0].reason,
        ImportRejectionReason::DuplicateEmail as i32
    );
}

#[tokio::test]
async fn import_needs_the_operator_and_chunks_of_at_most_1000() {
    let app = TestApp::spawn().await;
    let status = app
        .client
        .clone()
        .import_accounts(with_token(
            caller_token(Caller::Account),
            tokio_stream::iter(vec![ImportAccountsRequest::default()]),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let records = (1..=1001)
        .map(|line| record(line, &format!("m{line}@example.com"), None))
        .collect();
    let status = import(&app, vec![ImportAccountsRequest { records }])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("records:"));
}
