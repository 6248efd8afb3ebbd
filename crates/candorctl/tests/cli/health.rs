//! `candorctl health` checks every service of the connection settings at
//! once, one line each; errors are short and said once; colour only on a
//! terminal without NO_COLOR.

use std::time::Duration;

use candor_platform::grpc::{GrpcServer, bind};
use candor_testkit::service::RunningService;

use crate::{NOWHERE, candorctl, candorctl_on_terminal, text};

/// A gRPC server with the standard health service, SERVING.
async fn serving() -> RunningService {
    let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = GrpcServer::new(
        candor_testkit::environment::test_guard().unwrap(),
        candor_platform::grpc::Limits::default(),
    )
    .unwrap();
    RunningService::serving("health-probe", addr, move |shutdown| async move {
        server
            .serve(listener, shutdown, Duration::from_secs(1))
            .await
    })
    .await
    .unwrap()
}

fn run(
    args: Vec<String>,
    env: Vec<(String, String)>,
) -> tokio::task::JoinHandle<std::process::Output> {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        candorctl(&args, &env)
    })
}

#[tokio::test]
async fn every_service_is_checked_without_an_address() {
    let service = serving().await;
    // Three services answer; the forum is nowhere.
    let address = service.addr().to_string();
    let env = vec![
        ("ACCOUNT_GRPC_URL".to_owned(), service.url()),
        ("NOTIFICATION_GRPC_URL".to_owned(), service.url()),
        // No scheme: http:// is assumed.
        ("MEMBERSHIP_GRPC_URL".to_owned(), address.clone()),
        ("FORUM_GRPC_URL".to_owned(), "http://127.0.0.1:1".to_owned()),
    ];
    let output = run(vec!["health".into()], env.clone()).await.unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let line = |name: &str| {
        stdout
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} line: {stdout}"))
            .to_owned()
    };
    assert!(line("account").ends_with("serving"), "{stdout}");
    assert!(line("notification").ends_with("serving"), "{stdout}");
    assert!(
        line("membership").contains(&format!("http://{address}")),
        "{stdout}"
    );
    assert!(line("membership").ends_with("serving"), "{stdout}");
    let forum = line("forum");
    assert!(
        forum.contains("http://127.0.0.1:1") && forum.contains("unreachable"),
        "{forum}"
    );
    assert!(!stdout.contains("metadata"), "no status dump: {stdout}");
    assert_eq!(
        forum.matches("Connection refused").count(),
        1,
        "the cause is said once: {forum}"
    );

    // JSON for scripts, with lower snake_case values.
    let mut json_args = vec!["health".to_owned(), "-o".to_owned(), "json".to_owned()];
    let json = run(json_args.clone(), env.clone()).await.unwrap();
    let lines: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(lines[0]["service"], "account");
    assert_eq!(lines[0]["status"], "serving");
    assert_eq!(lines[3]["status"], "unreachable");
    assert!(
        lines[3]["error"]
            .as_str()
            .unwrap()
            .contains("Connection refused")
    );

    // All four answering: exit 0.
    let mut all = env;
    all[3].1 = service.url();
    let output = run(vec!["health".into()], all.clone()).await.unwrap();
    assert!(output.status.success(), "{}", text(&output.stdout));
    json_args.push("--addr".to_owned());
    json_args.push(address);
    let one = run(json_args, all).await.unwrap();
    assert!(one.status.success());
    let lines: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(lines.as_array().unwrap().len(), 1);
    service.stop().await.unwrap();
}

#[test]
fn an_address_without_a_scheme_gets_http() {
    let output = candorctl(&["health", "--addr", "127.0.0.1:1"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("http://127.0.0.1:1"), "{stdout}");
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let red = "\u{1b}[31m";
    let on_terminal = candorctl_on_terminal(&["health", "--timeout-seconds", "2"], &NOWHERE);
    assert!(on_terminal.contains(red), "{on_terminal:?}");
    let mut no_color = NOWHERE.to_vec();
    no_color.push(("NO_COLOR", "1"));
    let plain = candorctl_on_terminal(&["health", "--timeout-seconds", "2"], &no_color);
    assert!(
        plain.contains("unreachable") && !plain.contains('\u{1b}'),
        "{plain:?}"
    );
    let piped = candorctl(&["health", "--timeout-seconds", "2"], &NOWHERE);
    assert!(!text(&piped.stdout).contains('\u{1b}'));
}
