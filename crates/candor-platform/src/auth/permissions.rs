//! The permission table: for every RPC of the four services, who may call
//! it. It is the one place permissions are decided; the gRPC server enforces
//! it before a request body is read ([`crate::grpc::GrpcServer`]), and the
//! README prints it ([`markdown_table`], checked by a test).
//!
//! Rows are keyed by the full method path (`/package.Service/Method`), so a
//! row can exist before its RPC is generated; a test checks the table and
//! `candor_proto`'s descriptors name the same RPCs.

use super::Caller;

/// What kind of member session an RPC takes in `authorization`. The layer
/// only lets such a call through to the handler; the handler resolves the
/// session (and checks the role) as it always has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// Any member's session.
    Member,
    /// A member's session, or the short-lived password-change token of a
    /// login that must change its password.
    MemberOrPasswordChange,
    /// A session of a member with the `staff` role (checked by the handler).
    Staff,
}

/// Who may call one RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// Full method path, `/candor.account.v1.AccountService/Login`.
    pub method: &'static str,
    /// Anyone, with or without a credential.
    pub public: bool,
    /// Members, with their session in `authorization` (forwarded by a
    /// front end or not).
    pub session: Option<Session>,
    /// Callers that may call it in their own right.
    pub callers: &'static [Caller],
    /// A client-streaming RPC (it gets the longer stream timeout).
    pub client_streaming: bool,
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No credential at all on an RPC that needs one.
    #[error("{method} needs a credential: `authorization: Bearer <token>` or a client certificate")]
    Missing { method: &'static str },
    /// A bearer token that is no caller's, on an RPC no member may call.
    #[error("unknown credential for {method}")]
    Unknown { method: &'static str },
    /// A known caller that the row does not name.
    #[error("the {caller} caller may not call {method}")]
    NotAllowed {
        caller: Caller,
        method: &'static str,
    },
}

impl From<Refusal> for tonic::Status {
    fn from(refusal: Refusal) -> Self {
        use crate::grpc::{Reason, status_with_reason};
        let (code, reason) = match refusal {
            Refusal::Missing { .. } => (tonic::Code::Unauthenticated, Reason::CREDENTIAL_MISSING),
            Refusal::Unknown { .. } => (tonic::Code::Unauthenticated, Reason::CREDENTIAL_UNKNOWN),
            Refusal::NotAllowed { .. } => {
                (tonic::Code::PermissionDenied, Reason::CALLER_NOT_PERMITTED)
            }
        };
        status_with_reason(code, refusal.to_string(), reason)
    }
}

impl Permission {
    /// Decides a call. `caller` is the caller its credential (token or
    /// certificate) identifies; `session` is true when `authorization`
    /// carries a bearer token that is not a caller's (a member session for
    /// the handler to resolve). A caller that forwards a member's session
    /// may reach every RPC members may call; on the others it acts in its
    /// own right.
    pub fn admit(&self, caller: Option<Caller>, session: bool) -> Result<(), Refusal> {
        let method = self.method;
        if self.public || (session && self.session.is_some()) {
            return Ok(());
        }
        match caller {
            Some(caller) if self.callers.contains(&caller) => Ok(()),
            Some(caller) => Err(Refusal::NotAllowed { caller, method }),
            None if session => Err(Refusal::Unknown { method }),
            None => Err(Refusal::Missing { method }),
        }
    }

    /// The callers not in this row (who get PERMISSION_DENIED).
    pub fn refused_callers(&self) -> Vec<Caller> {
        if self.public {
            return Vec::new();
        }
        Caller::ALL
            .into_iter()
            .filter(|caller| !self.callers.contains(caller))
            .collect()
    }

    /// The service part of the method path (`candor.account.v1.AccountService`).
    pub fn service(&self) -> &'static str {
        let path = self.method.trim_start_matches('/');
        path.split_once('/').map_or(path, |(service, _)| service)
    }

    /// The RPC name (`Login`).
    pub fn rpc(&self) -> &'static str {
        self.method.rsplit('/').next().unwrap_or(self.method)
    }
}

const fn public(method: &'static str) -> Permission {
    Permission {
        method,
        public: true,
        session: None,
        callers: &Caller::ALL,
        client_streaming: false,
    }
}

const fn members(method: &'static str, session: Session, callers: &'static [Caller]) -> Permission {
    Permission {
        method,
        public: false,
        session: Some(session),
        callers,
        client_streaming: false,
    }
}

const fn callers(method: &'static str, callers: &'static [Caller]) -> Permission {
    Permission {
        method,
        public: false,
        session: None,
        callers,
        client_streaming: false,
    }
}

const fn streaming(permission: Permission) -> Permission {
    Permission {
        client_streaming: true,
        ..permission
    }
}

use Caller::{Account, Forum, FrontEnd, Membership, Operator};
use Session::{Member, MemberOrPasswordChange, Staff};

const OPERATOR: &[Caller] = &[Operator];
const NONE: &[Caller] = &[];

/// Every RPC of the four services and who may call it.
pub static PERMISSIONS: &[Permission] = &[
    // AccountService
    public("/candor.account.v1.AccountService/Register"),
    public("/candor.account.v1.AccountService/Login"),
    members(
        "/candor.account.v1.AccountService/ChangePassword",
        MemberOrPasswordChange,
        NONE,
    ),
    public("/candor.account.v1.AccountService/RequestPasswordReset"),
    public("/candor.account.v1.AccountService/ResetPassword"),
    callers(
        "/candor.account.v1.AccountService/ValidateSession",
        &[Membership, Forum, FrontEnd],
    ),
    members(
        "/candor.account.v1.AccountService/GetAccount",
        Member,
        OPERATOR,
    ),
    callers("/candor.account.v1.AccountService/SetRoles", OPERATOR),
    members(
        "/candor.account.v1.AccountService/RequestDeactivation",
        Member,
        NONE,
    ),
    public("/candor.account.v1.AccountService/ConfirmDeactivation"),
    streaming(callers(
        "/candor.account.v1.AccountService/ImportAccounts",
        OPERATOR,
    )),
    callers(
        "/candor.account.v1.AccountService/CountAffectedAccounts",
        OPERATOR,
    ),
    callers("/candor.account.v1.AccountService/GetIncident", OPERATOR),
    callers(
        "/candor.account.v1.AccountService/ListAffectedAccounts",
        OPERATOR,
    ),
    callers(
        "/candor.account.v1.AccountService/GetIncidentProgress",
        OPERATOR,
    ),
    callers("/candor.account.v1.AccountService/ListIncidents", OPERATOR),
    members("/candor.account.v1.AccountService/Logout", Member, NONE),
    members(
        "/candor.account.v1.AccountService/RevokeAllSessions",
        Member,
        NONE,
    ),
    members(
        "/candor.account.v1.AccountService/ListNotices",
        Member,
        NONE,
    ),
    members(
        "/candor.account.v1.AccountService/AcknowledgeNotice",
        Member,
        NONE,
    ),
    // NotificationService
    callers(
        "/candor.notification.v1.NotificationService/SendEmail",
        &[Account],
    ),
    callers(
        "/candor.notification.v1.NotificationService/GetDelivery",
        OPERATOR,
    ),
    callers(
        "/candor.notification.v1.NotificationService/ListDeliveries",
        OPERATOR,
    ),
    callers(
        "/candor.notification.v1.NotificationService/GetIncidentProgress",
        OPERATOR,
    ),
    callers(
        "/candor.notification.v1.NotificationService/RenderBreachNotice",
        OPERATOR,
    ),
    callers(
        "/candor.notification.v1.NotificationService/RetryFailedNotices",
        OPERATOR,
    ),
    callers(
        "/candor.notification.v1.NotificationService/SendTestNotice",
        OPERATOR,
    ),
    callers(
        "/candor.notification.v1.NotificationService/RecordDeliveryReport",
        OPERATOR,
    ),
    // MembershipService
    members(
        "/candor.membership.v1.MembershipService/GetMembership",
        Member,
        OPERATOR,
    ),
    members(
        "/candor.membership.v1.MembershipService/ListCredits",
        Member,
        OPERATOR,
    ),
    callers(
        "/candor.membership.v1.MembershipService/GrantCredit",
        OPERATOR,
    ),
    callers(
        "/candor.membership.v1.MembershipService/GetIncidentProgress",
        OPERATOR,
    ),
    // ForumService
    public("/candor.forum.v1.ForumService/ListBoards"),
    members(
        "/candor.forum.v1.ForumService/CreateThread",
        Member,
        OPERATOR,
    ),
    public("/candor.forum.v1.ForumService/GetThread"),
    public("/candor.forum.v1.ForumService/ListThreads"),
    members("/candor.forum.v1.ForumService/CreatePost", Member, OPERATOR),
    public("/candor.forum.v1.ForumService/ListPosts"),
    members("/candor.forum.v1.ForumService/EditPost", Member, OPERATOR),
    members("/candor.forum.v1.ForumService/DeletePost", Member, OPERATOR),
    members("/candor.forum.v1.ForumService/PinThread", Staff, OPERATOR),
    members("/candor.forum.v1.ForumService/LockThread", Staff, OPERATOR),
    public("/candor.forum.v1.ForumService/GetIncidentThread"),
    members(
        "/candor.forum.v1.ForumService/ListCannedReplies",
        Staff,
        OPERATOR,
    ),
    members(
        "/candor.forum.v1.ForumService/PostCannedReply",
        Staff,
        OPERATOR,
    ),
];

/// The callers `service` (`account`, `notification`, `membership`, `forum`)
/// must know the credentials of: every caller its non-public rows name, and
/// the front end wherever members may call (it forwards their sessions with
/// its own credential). A deployment gives each service exactly these in
/// `CALLER_TOKENS` (operators come from `OPERATOR_TOKEN`), so no service holds
/// the credential of a caller it does not serve.
pub fn callers_of_service(service: &str) -> Vec<Caller> {
    let package = format!("candor.{service}.");
    let mut callers: Vec<Caller> = PERMISSIONS
        .iter()
        .filter(|permission| !permission.public && permission.service().starts_with(&package))
        .flat_map(|permission| {
            let forwarded = permission.session.map(|_| FrontEnd);
            permission.callers.iter().copied().chain(forwarded)
        })
        .filter(|caller| *caller != Operator)
        .collect();
    callers.sort();
    callers.dedup();
    callers
}

/// The row of `method` (a request's URI path), if the table has one.
pub fn permission_of(method: &str) -> Option<&'static Permission> {
    PERMISSIONS
        .iter()
        .find(|permission| permission.method == method)
}

/// The table as Markdown, as the README prints it.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| service | RPC | without a credential | member session | callers in their own right |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    for permission in PERMISSIONS {
        let service = permission.service().rsplit('.').next().unwrap_or_default();
        let public = if permission.public { "yes" } else { "" };
        let session = match (permission.public, permission.session) {
            (true, _) => "",
            (false, None) => "",
            (false, Some(Member)) => "member",
            (false, Some(MemberOrPasswordChange)) => "member (or password-change token)",
            (false, Some(Staff)) => "staff member",
        };
        let callers = if permission.public {
            "any".to_owned()
        } else if permission.callers.is_empty() {
            "none".to_owned()
        } else {
            permission
                .callers
                .iter()
                .map(|caller| format!("`{caller}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "| {service} | `{}` | {public} | {session} | {callers} |\n",
            permission.rpc()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(method: &str) -> &'static Permission {
        permission_of(method).unwrap()
    }

    #[test]
    fn every_method_has_one_row() {
        for permission in PERMISSIONS {
            let count = PERMISSIONS
                .iter()
                .filter(|other| other.method == permission.method)
                .count();
            assert_eq!(count, 1, "{}", permission.method);
            assert!(permission.method.starts_with("/candor."));
        }
    }

    #[test]
    fn send_email_is_for_the_account_service_only() {
        let send_email = row("/candor.notification.v1.NotificationService/SendEmail");
        assert_eq!(send_email.admit(Some(Caller::Account), false), Ok(()));
        for caller in [Caller::Operator, Caller::Forum, Caller::FrontEnd] {
            assert_eq!(
                send_email.admit(Some(caller), false),
                Err(Refusal::NotAllowed {
                    caller,
                    method: send_email.method
                })
            );
        }
        assert!(matches!(
            send_email.admit(None, true),
            Err(Refusal::Unknown { .. })
        ));
        assert!(matches!(
            send_email.admit(None, false),
            Err(Refusal::Missing { .. })
        ));
    }

    #[test]
    fn member_rpcs_let_sessions_through_and_check_callers() {
        let create_post = row("/candor.forum.v1.ForumService/CreatePost");
        assert_eq!(create_post.admit(None, true), Ok(()));
        // A front end forwarding a member's session.
        assert_eq!(create_post.admit(Some(Caller::FrontEnd), true), Ok(()));
        assert_eq!(create_post.admit(Some(Caller::Operator), false), Ok(()));
        assert!(matches!(
            create_post.admit(Some(Caller::FrontEnd), false),
            Err(Refusal::NotAllowed { .. })
        ));
        assert!(matches!(
            create_post.admit(None, false),
            Err(Refusal::Missing { .. })
        ));
    }

    #[test]
    fn public_rpcs_admit_anyone() {
        let login = row("/candor.account.v1.AccountService/Login");
        for caller in Caller::ALL {
            assert_eq!(login.admit(Some(caller), false), Ok(()));
        }
        assert_eq!(login.admit(None, false), Ok(()));
        assert!(login.refused_callers().is_empty());
    }

    #[test]
    fn refusals_name_the_caller_and_the_rpc() {
        let refusal = Refusal::NotAllowed {
            caller: Caller::Forum,
            method: "/candor.membership.v1.MembershipService/GrantCredit",
        };
        assert_eq!(
            refusal.to_string(),
            "the forum caller may not call /candor.membership.v1.MembershipService/GrantCredit"
        );
    }

    #[test]
    fn each_service_knows_only_the_callers_its_rows_name() {
        assert_eq!(callers_of_service("notification"), vec![Account]);
        assert_eq!(
            callers_of_service("account"),
            vec![Membership, Forum, FrontEnd]
        );
        assert_eq!(callers_of_service("membership"), vec![FrontEnd]);
        assert_eq!(callers_of_service("forum"), vec![FrontEnd]);
        assert!(callers_of_service("nonexistent").is_empty());
    }
}
