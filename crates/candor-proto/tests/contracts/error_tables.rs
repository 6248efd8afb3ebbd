//! Every RPC documents the statuses it answers in an errors table in its
//! proto comment (`| Code | Reason | When |`), and every package with a
//! service documents those any of its RPCs may answer. The services check
//! their own error enums against these tables; this checks the tables.

use candor_proto::reference::{DocumentedError, package_errors, rpc_errors};

const CODES: [&str; 16] = [
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

fn is_upper_snake_case(reason: &str) -> bool {
    !reason.is_empty()
        && reason.len() <= 63
        && reason.starts_with(|c: char| c.is_ascii_uppercase())
        && !reason.ends_with('_')
        && !reason.contains("__")
        && reason
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn check_rows(whose: &str, rows: &[DocumentedError], problems: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        if !CODES.contains(&row.code.as_str()) {
            problems.push(format!("{whose}: {:?} is no gRPC code name", row.code));
        }
        if !is_upper_snake_case(&row.reason) {
            problems.push(format!(
                "{whose}: reason {:?} is not UPPER_SNAKE_CASE",
                row.reason
            ));
        }
        if row.when.is_empty() {
            problems.push(format!("{whose}: {} says nothing about when", row.reason));
        }
        if !seen.insert((row.code.clone(), row.reason.clone())) {
            problems.push(format!("{whose}: {} {} twice", row.code, row.reason));
        }
    }
}

fn check_service(service: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    let common = package_errors(service)?;
    if common.is_empty() {
        problems.push(format!("{service}'s package comment has no errors table"));
    }
    check_rows(&format!("{service} (package)"), &common, &mut problems);
    for (rpc, rows) in rpc_errors(service)? {
        let whose = format!("{service}/{rpc}");
        if rows.is_empty() {
            problems.push(format!("{whose} has no errors table in its comment"));
        }
        check_rows(&whose, &rows, &mut problems);
        for row in &rows {
            if common
                .iter()
                .any(|c| c.code == row.code && c.reason == row.reason)
            {
                problems.push(format!(
                    "{whose}: {} {} is in the package's table already",
                    row.code, row.reason
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn account_rpcs_document_their_errors() {
    check_service("candor.account.v1.AccountService").unwrap();
}

#[test]
fn notification_rpcs_document_their_errors() {
    check_service("candor.notification.v1.NotificationService").unwrap();
}

#[test]
fn membership_rpcs_document_their_errors() {
    check_service("candor.membership.v1.MembershipService").unwrap();
}

#[test]
fn forum_rpcs_document_their_errors() {
    check_service("candor.forum.v1.ForumService").unwrap();
}
