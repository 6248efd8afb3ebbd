use crate::{candorctl, text};

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["health", "--help"],
        vec!["breach", "--help"],
        vec!["breach", "report", "--help"],
        vec!["incident", "--help"],
        vec!["incident", "status", "--help"],
        vec!["incident", "report", "--help"],
        vec!["config", "view", "--help"],
        vec!["config", "get-contexts", "--help"],
        vec!["config", "use-context", "--help"],
        vec!["dead-letters", "--help"],
        vec!["dead-letters", "list", "--help"],
        vec!["dead-letters", "show", "--help"],
        vec!["dead-letters", "replay", "--help"],
        vec!["dead-letters", "purge", "--help"],
    ] {
        let output = candorctl(&args, &[]);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
        let help = text(&output.stdout);
        assert!(help.contains("Usage:"), "{args:?}");
        // The connection flags are global: every command lists them.
        assert!(help.contains("--context"), "{args:?}: {help}");
    }
    let report_help = text(&candorctl(&["breach", "report", "--help"], &[]).stdout);
    for setting in [
        "[env: AMQP_URL",
        "[env: ACCOUNT_GRPC_URL",
        "[env: OPERATOR_TOKEN",
        "--dry-run",
        "--file",
    ] {
        assert!(
            report_help.contains(setting),
            "breach report --help lists {setting}"
        );
    }
}

#[test]
fn bad_usage_exits_64() {
    let output = candorctl(&["breach", "report", "--no-such-flag"], &[]);
    assert_eq!(output.status.code(), Some(64));
}
