//! Which calls may be sent twice. A call that failed with UNAVAILABLE may
//! or may not have reached the service (the connection can break after the
//! request left), so only a call whose repetition cannot change the result
//! is retried. The classification follows each RPC's proto comment: reads
//! have no side effects; writes the contract calls idempotent (by an
//! idempotency key, or because they set a state) are idempotent; everything
//! else, client streams included, is sent once.

/// What sending a call twice would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// The call only reads.
    NoSideEffects,
    /// The call changes state, and a repetition changes nothing more (the
    /// contract promises it, usually by an idempotency key).
    Idempotent,
    /// A repetition could act twice (a second post, a second email, a
    /// revoked session refused), or the call is a client stream that cannot
    /// be replayed.
    NotIdempotent,
}

impl Idempotency {
    /// True when a call that may have reached the service can be sent
    /// again.
    pub fn may_retry(self) -> bool {
        !matches!(self, Idempotency::NotIdempotent)
    }
}

use Idempotency::{Idempotent, NoSideEffects, NotIdempotent};

/// Every RPC of Candor's contracts (and the standard health check), by its
/// HTTP/2 path `/package.Service/Method`.
pub const TABLE: &[(&str, Idempotency)] = &[
    // candor.account.v1.AccountService
    ("/candor.account.v1.AccountService/Register", NotIdempotent),
    ("/candor.account.v1.AccountService/Login", NotIdempotent),
    (
        "/candor.account.v1.AccountService/ChangePassword",
        NotIdempotent,
    ),
    // A later request invalidates the earlier link and sends another email.
    (
        "/candor.account.v1.AccountService/RequestPasswordReset",
        NotIdempotent,
    ),
    // The reset token is single-use.
    (
        "/candor.account.v1.AccountService/ResetPassword",
        NotIdempotent,
    ),
    (
        "/candor.account.v1.AccountService/ValidateSession",
        NoSideEffects,
    ),
    (
        "/candor.account.v1.AccountService/GetAccount",
        NoSideEffects,
    ),
    ("/candor.account.v1.AccountService/SetRoles", Idempotent),
    // A second Logout of the same token is UNAUTHENTICATED.
    ("/candor.account.v1.AccountService/Logout", NotIdempotent),
    (
        "/candor.account.v1.AccountService/RevokeAllSessions",
        NotIdempotent,
    ),
    (
        "/candor.account.v1.AccountService/RequestDeactivation",
        NotIdempotent,
    ),
    // "Confirming again with the same token after success returns the same answer."
    (
        "/candor.account.v1.AccountService/ConfirmDeactivation",
        Idempotent,
    ),
    (
        "/candor.account.v1.AccountService/ImportAccounts",
        NotIdempotent,
    ),
    (
        "/candor.account.v1.AccountService/CountAffectedAccounts",
        NoSideEffects,
    ),
    (
        "/candor.account.v1.AccountService/GetIncident",
        NoSideEffects,
    ),
    (
        "/candor.account.v1.AccountService/ListAffectedAccounts",
        NoSideEffects,
    ),
    (
        "/candor.account.v1.AccountService/GetIncidentProgress",
        NoSideEffects,
    ),
    (
        "/candor.account.v1.AccountService/ListIncidents",
        NoSideEffects,
    ),
    (
        "/candor.account.v1.AccountService/ListNotices",
        NoSideEffects,
    ),
    (
        "/candor.account.v1.AccountService/AcknowledgeNotice",
        Idempotent,
    ),
    // candor.notification.v1.NotificationService
    (
        "/candor.notification.v1.NotificationService/SendEmail",
        Idempotent,
    ),
    (
        "/candor.notification.v1.NotificationService/GetDelivery",
        NoSideEffects,
    ),
    (
        "/candor.notification.v1.NotificationService/ListDeliveries",
        NoSideEffects,
    ),
    (
        "/candor.notification.v1.NotificationService/GetIncidentProgress",
        NoSideEffects,
    ),
    (
        "/candor.notification.v1.NotificationService/RenderBreachNotice",
        NoSideEffects,
    ),
    // "A second call queues only what failed again."
    (
        "/candor.notification.v1.NotificationService/RetryFailedNotices",
        Idempotent,
    ),
    // Each call sends a real email.
    (
        "/candor.notification.v1.NotificationService/SendTestNotice",
        NotIdempotent,
    ),
    // Idempotent by (source, report_id).
    (
        "/candor.notification.v1.NotificationService/RecordDeliveryReport",
        Idempotent,
    ),
    // candor.membership.v1.MembershipService
    (
        "/candor.membership.v1.MembershipService/GetMembership",
        NoSideEffects,
    ),
    (
        "/candor.membership.v1.MembershipService/ListCredits",
        NoSideEffects,
    ),
    // Idempotent by idempotency_key.
    (
        "/candor.membership.v1.MembershipService/GrantCredit",
        Idempotent,
    ),
    (
        "/candor.membership.v1.MembershipService/GetIncidentProgress",
        NoSideEffects,
    ),
    // candor.forum.v1.ForumService
    ("/candor.forum.v1.ForumService/ListBoards", NoSideEffects),
    // Safe to repeat only with a request_id, which the request need not carry.
    ("/candor.forum.v1.ForumService/CreateThread", NotIdempotent),
    ("/candor.forum.v1.ForumService/GetThread", NoSideEffects),
    ("/candor.forum.v1.ForumService/ListThreads", NoSideEffects),
    ("/candor.forum.v1.ForumService/CreatePost", NotIdempotent),
    ("/candor.forum.v1.ForumService/ListPosts", NoSideEffects),
    // The contract does not promise it (a repeat moves edited_at and could
    // overwrite an edit made in between).
    ("/candor.forum.v1.ForumService/EditPost", NotIdempotent),
    ("/candor.forum.v1.ForumService/DeletePost", Idempotent),
    ("/candor.forum.v1.ForumService/PinThread", Idempotent),
    ("/candor.forum.v1.ForumService/LockThread", Idempotent),
    (
        "/candor.forum.v1.ForumService/GetIncidentThread",
        NoSideEffects,
    ),
    (
        "/candor.forum.v1.ForumService/ListCannedReplies",
        NoSideEffects,
    ),
    (
        "/candor.forum.v1.ForumService/PostCannedReply",
        NotIdempotent,
    ),
    // The standard health check every port serves.
    ("/grpc.health.v1.Health/Check", NoSideEffects),
];

/// The class of the RPC at `method_path` (`/package.Service/Method`); a
/// method the table does not know is sent once.
pub fn idempotency(method_path: &str) -> Idempotency {
    TABLE
        .iter()
        .find(|(path, _)| *path == method_path)
        .map_or(NotIdempotent, |&(_, class)| class)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails when an RPC is added to `proto/` without deciding whether it
    /// may be retried, or the table names one that no longer exists.
    #[test]
    fn every_rpc_in_the_contracts_is_classified() {
        let pool = candor_proto::descriptor_pool().unwrap();
        let mut in_contracts = Vec::new();
        for service in pool.services() {
            for method in service.methods() {
                let path = format!("/{}/{}", service.full_name(), method.name());
                if method.is_client_streaming() {
                    assert_eq!(
                        idempotency(&path),
                        NotIdempotent,
                        "{path} is a client stream"
                    );
                }
                in_contracts.push(path);
            }
        }
        assert!(in_contracts.len() > 40, "{in_contracts:?}");
        let unclassified: Vec<&String> = in_contracts
            .iter()
            .filter(|path| !TABLE.iter().any(|(known, _)| known == path))
            .collect();
        assert!(unclassified.is_empty(), "not classified: {unclassified:?}");
        let stale: Vec<&str> = TABLE
            .iter()
            .map(|(path, _)| *path)
            .filter(|path| !path.starts_with("/grpc.") && !in_contracts.iter().any(|p| p == path))
            .collect();
        assert!(stale.is_empty(), "not in the contracts: {stale:?}");
    }

    #[test]
    fn unknown_methods_are_sent_once() {
        assert_eq!(idempotency("/x.Y/Z"), NotIdempotent);
        assert!(!NotIdempotent.may_retry());
        assert!(idempotency("/candor.membership.v1.MembershipService/GrantCredit").may_retry());
    }
}
