//! Password hardening: imported hash costs bounded, non-policy argon2
//! rehashed at login, the login throttle reserved before verifying, the
//! Pwned Passwords range API, and the password-changed email.

use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use candor_proto::account::v1::*;
use candor_proto::notification::v1::send_email_request::Content;
use candor_testkit::environment::OPERATOR_TOKEN;
use sha1::{Digest as _, Sha1};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::Code;

use crate::helpers::{OTHER_PASSWORD, PASSWORD, TestApp, with_token};

fn argon2_hash(memory_kib: u32, iterations: u32, parallelism: u32) -> String {
    let params = Params::new(memory_kib, iterations, parallelism, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(PASSWORD.as_bytes())
        .unwrap()
        .to_string()
}

fn imported(line: u64, email: &str, algorithm: LegacyHashAlgorithm, hash: String) -> ImportRecord {
    ImportRecord {
        line_number: line,
        email: email.to_owned(),
        display_name: format!("Member {line}"),
        joined_at: Some(prost_types::Timestamp {
            seconds: 1_262_304_000,
            nanos: 0,
        }),
        password_hash: Some(LegacyPasswordHash {
            algorithm: algorithm as i32,
            salt: String::new(),
            hash,
        }),
    }
}

async fn import(app: &TestApp, records: Vec<ImportRecord>) -> ImportAccountsResponse {
    app.client
        .clone()
        .import_accounts(with_token(
            OPERATOR_TOKEN,
            tokio_stream::iter(vec![ImportAccountsRequest { records }]),
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn stored_hash(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT password_hash FROM accounts WHERE email = $1")
        .bind(email)
        .fetch_one(app.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn imported_hashes_above_the_cost_ceilings_are_rejected_per_row() {
    let app = TestApp::spawn_with(|config| config.argon2_max_memory_kib = 32_768).await;
    // Costly parameters are refused before anything is computed, so the
    // strings need not come from a real hash of that cost.
    let costly_argon2 = "$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHQxMjM0$\
                         MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"
        .to_owned();
    let slow_argon2 = "$argon2id$v=19$m=8192,t=40,p=1$c29tZXNhbHQxMjM0$\
                       MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"
        .to_owned();
    let costly_bcrypt = bcrypt::hash(PASSWORD, 4)
        .unwrap()
        .replacen("$04$", "$15$", 1);
    let response = import(
        &app,
        vec![
            imported(
                1,
                "m@example.com",
                LegacyHashAlgorithm::Argon2id,
                costly_argon2,
            ),
            imported(
                2,
                "t@example.com",
                LegacyHashAlgorithm::Argon2id,
                slow_argon2,
            ),
            imported(
                3,
                "b@example.com",
                LegacyHashAlgorithm::Bcrypt,
                costly_bcrypt,
            ),
            imported(
                4,
                "ok@example.com",
                LegacyHashAlgorithm::Argon2id,
                argon2_hash(32_768, 2, 1),
            ),
        ],
    )
    .await;
    assert_eq!(response.imported, 1, "{response:?}");
    assert_eq!(response.rejected, 3, "{response:?}");
    let reasons: Vec<(u64, ImportRejectionReason, String)> = response
        .rejections
        .iter()
        .map(|rejection| {
            (
                rejection.line_number,
                rejection.reason(),
                rejection.message.clone(),
            )
        })
        .collect();
    assert_eq!(reasons[0].1, ImportRejectionReason::HashTooCostly);
    assert!(
        reasons[0].2.contains("m=1048576") && reasons[0].2.contains("32768"),
        "{reasons:?}"
    );
    assert!(reasons[1].2.contains("iterations t=40"), "{reasons:?}");
    assert_eq!(reasons[2].1, ImportRejectionReason::HashTooCostly);
    assert!(reasons[2].2.contains("bcrypt cost 15"), "{reasons:?}");
}

#[tokio::test]
async fn a_weaker_than_policy_argon2_hash_is_rehashed_at_login() {
    let app = TestApp::spawn().await;
    let weak = argon2_hash(4096, 1, 1);
    let response = import(
        &app,
        vec![imported(
            1,
            "weak@example.com",
            LegacyHashAlgorithm::Argon2id,
            weak.clone(),
        )],
    )
    .await;
    assert_eq!(response.imported, 1, "{response:?}");
    assert_eq!(stored_hash(&app, "weak@example.com").await, weak);
    app.session("weak@example.com", PASSWORD).await;
    let upgraded = stored_hash(&app, "weak@example.com").await;
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{upgraded}"
    );
    // The policy hash stays as it is at the next login.
    app.session("weak@example.com", PASSWORD).await;
    assert_eq!(stored_hash(&app, "weak@example.com").await, upgraded);
}

#[tokio::test]
async fn concurrent_wrong_passwords_are_not_all_evaluated() {
    // login_failures_per_account is 3 in the tests.
    let app = TestApp::spawn_with(|config| config.login_failures_per_address = 1000).await;
    app.register("storm@example.com", "Storm").await;
    let attempts = (0..100).map(|_| {
        let app_client = app.client.clone();
        async move {
            app_client
                .clone()
                .login(LoginRequest {
                    email: "storm@example.com".to_owned(),
                    password: OTHER_PASSWORD.to_owned(),
                })
                .await
                .unwrap_err()
                .code()
        }
    });
    let codes = futures::future::join_all(attempts).await;
    let evaluated = codes
        .iter()
        .filter(|code| **code == Code::Unauthenticated)
        .count();
    let refused = codes
        .iter()
        .filter(|code| **code == Code::ResourceExhausted)
        .count();
    assert_eq!(evaluated + refused, 100, "{codes:?}");
    assert!(
        evaluated <= 3,
        "{evaluated} wrong passwords evaluated: {codes:?}"
    );
    assert!(evaluated >= 1, "{codes:?}");
}

/// A one-route range server: answers `/range/{prefix}` with the suffix of
/// `breached` when the prefix matches, and a padding line.
async fn range_server(breached: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let digest = hex::encode_upper(Sha1::digest(breached.as_bytes()));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let digest = digest.clone();
            tokio::spawn(async move {
                let mut request = vec![0; 4096];
                let read = socket.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..read]).to_string();
                let path = request
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                let mut body = String::from("00000000000000000000000000000000000:0\r\n");
                if path == format!("/range/{}", &digest[..5]) {
                    body.push_str(&format!("{}:3861493\r\n", &digest[5..]));
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(answer.as_bytes()).await.ok();
            });
        }
    });
    url
}

#[tokio::test]
async fn the_pwned_passwords_range_api_refuses_a_breached_password() {
    let breached = "ocean breeze sunset 1987";
    let url = range_server(breached).await;
    let app = TestApp::spawn_with(move |config| config.pwned_passwords_url = Some(url)).await;
    let status = app
        .client
        .clone()
        .register(RegisterRequest {
            email: "hibp@example.com".to_owned(),
            display_name: "Hibp".to_owned(),
            password: breached.to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "password: appears in a known data breach; choose another one"
    );
    app.register("fine@example.com", "Fine").await;
}

#[tokio::test]
async fn the_bundled_corpus_refuses_a_common_password() {
    let app = TestApp::spawn().await;
    // In SecLists' top 100,000, nowhere near the old hundred-entry list.
    for common in ["sebastian1", "qwertyuiop123"] {
        let status = app
            .client
            .clone()
            .register(RegisterRequest {
                email: "common@example.com".to_owned(),
                display_name: "Common".to_owned(),
                password: common.to_owned(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{common}");
        assert!(status.message().contains("commonly used"), "{status:?}");
    }
}

#[tokio::test]
async fn changing_the_password_sends_the_password_changed_email() {
    let app = TestApp::spawn().await;
    let account = app.register("pc@example.com", "Pat Changed").await;
    let session = app.session("pc@example.com", PASSWORD).await;
    app.client
        .clone()
        .change_password(with_token(
            &session.session_token,
            ChangePasswordRequest {
                current_password: PASSWORD.to_owned(),
                new_password: OTHER_PASSWORD.to_owned(),
            },
        ))
        .await
        .unwrap();
    let calls = app.notifications.wait_for(1).await;
    let (_, email) = &calls[0];
    assert_eq!(email.to_address, "pc@example.com");
    assert_eq!(email.to_display_name, "Pat Changed");
    assert_eq!(email.account_id, account.account_id);
    assert!(email.idempotency_key.starts_with("password-changed:"));
    let Some(Content::PasswordChanged(changed)) = &email.content else {
        panic!("expected a password-changed email, got {:?}", email.content);
    };
    let changed_at = changed.changed_at.unwrap();
    let age = chrono::Utc::now().timestamp() - changed_at.seconds;
    assert!((0..60).contains(&age), "{changed_at:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.notifications.calls().len(), 1, "sent once");
}
