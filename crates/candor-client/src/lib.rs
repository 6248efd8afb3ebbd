//! A client for programs calling Candor's gRPC services: a typed client
//! per service over one [`Connection`] that carries the caller's
//! credential (a bearer token, or a mutual-TLS identity), gives every call
//! a deadline, and sends a call again only when that is safe: the RPC is
//! idempotent ([`idempotency`]) and the service was UNAVAILABLE.
//!
//! One dependency is enough: the request and response types are
//! re-exported in [`proto`], tonic in [`tonic`].
//!
//! # A caller with a bearer token
//!
//! ```no_run
//! use candor_client::Connection;
//! use candor_client::proto::membership::v1::GetMembershipRequest;
//! use secrecy::SecretString;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let connection = Connection::builder("http://127.0.0.1:50053")
//!     .bearer_token(SecretString::from("the operator's token"))
//!     .connect_lazy()?;
//! let membership = connection
//!     .membership()
//!     .get_membership(GetMembershipRequest {
//!         account_id: "0190c1f6-5bd5-7c4e-9a1e-3f1f0e0e0e0e".to_owned(),
//!     })
//!     .await?
//!     .into_inner();
//! println!("{membership:?}");
//! # Ok(()) }
//! ```
//!
//! # Mutual TLS
//!
//! The certificate names the caller (`forum`, `operator`, …); the service
//! verifies it against its CA, and this side verifies the service against
//! `ca.pem`.
//!
//! ```no_run
//! use candor_client::Connection;
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let connection = Connection::builder("https://account.candor.internal:50051")
//!     .tls_ca_pem(std::fs::read("ca.pem")?)
//!     .tls_identity_pem(std::fs::read("operator-cert.pem")?, std::fs::read("operator-key.pem")?)
//!     .connect_lazy()?;
//! let account = connection.account();
//! # drop(account); Ok(()) }
//! ```
//!
//! # A front end calling for a member
//!
//! The member's session goes in `authorization`; the connection moves its
//! own token to `x-caller-authorization`.
//!
//! ```no_run
//! use candor_client::{Connection, as_member};
//! use candor_client::proto::account::v1::ListNoticesRequest;
//! use secrecy::SecretString;
//!
//! # async fn run(session_token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let connection = Connection::builder("http://127.0.0.1:50051")
//!     .bearer_token(SecretString::from("the front end's token"))
//!     .connect_lazy()?;
//! let mut request = tonic::Request::new(ListNoticesRequest::default());
//! as_member(&mut request, session_token)?;
//! let notices = connection.account().list_notices(request).await?.into_inner();
//! # drop(notices); Ok(()) }
//! ```
//!
//! # Reading why a call was refused
//!
//! Every Candor error carries a stable reason, and INVALID_ARGUMENT names
//! the fields:
//!
//! ```
//! use candor_client::ErrorDetails;
//!
//! fn explain(status: &tonic::Status) -> String {
//!     let details = ErrorDetails::of(status);
//!     match details.reason.as_deref() {
//!         Some("INVALID_FIELD") => {
//!             format!("fix: {}", details.fields().collect::<Vec<_>>().join(", "))
//!         }
//!         Some("THROTTLED") => format!("wait {:?}", details.retry_delay.unwrap_or_default()),
//!         Some(reason) => format!("refused: {reason}"),
//!         None => status.message().to_owned(),
//!     }
//! }
//! # assert_eq!(explain(&tonic::Status::unavailable("down")), "down");
//! ```
//!
//! # Deadlines and retries
//!
//! A call without its own deadline (`Request::set_timeout`) gets the
//! connection's default ([`ConnectionBuilder::default_deadline`], 10 s),
//! sent as `grpc-timeout` so the service stops working for a caller that
//! stopped waiting; when it passes, the call ends with DEADLINE_EXCEEDED on
//! this side too. A call that met UNAVAILABLE is sent again, with jittered
//! exponential backoff ([`RetryPolicy`]), only if its RPC is idempotent,
//! honouring the service's RetryInfo and never past the deadline.

mod call;
mod connection;
mod error_details;
pub mod grpc_timeout;
pub mod idempotency;
mod member;
mod retry;

pub use call::CALLER_AUTHORIZATION;
pub use connection::{CallHook, ConnectError, Connection, ConnectionBuilder, DEFAULT_DEADLINE};
pub use error_details::{CANDOR_DOMAIN, ErrorDetails, FieldViolation};
pub use idempotency::{Idempotency, idempotency};
pub use member::as_member;
pub use retry::RetryPolicy;
pub use tonic;

/// Candor's contracts: the request and response messages and the generated
/// clients of each service.
pub mod proto {
    pub use candor_proto::{account, forum, membership, notification};
}

use candor_proto::account::v1::account_service_client::AccountServiceClient;
use candor_proto::forum::v1::forum_service_client::ForumServiceClient;
use candor_proto::membership::v1::membership_service_client::MembershipServiceClient;
use candor_proto::notification::v1::notification_service_client::NotificationServiceClient;

/// The account service: members, sessions, incidents.
pub type AccountClient = AccountServiceClient<Connection>;
/// The notification service: emails and their deliveries.
pub type NotificationClient = NotificationServiceClient<Connection>;
/// The membership service: tiers and the credit ledger.
pub type MembershipClient = MembershipServiceClient<Connection>;
/// The forum service: boards, threads, posts.
pub type ForumClient = ForumServiceClient<Connection>;

impl Connection {
    /// The account service's client over this connection.
    pub fn account(&self) -> AccountClient {
        AccountServiceClient::new(self.clone())
    }

    /// The notification service's client over this connection.
    pub fn notification(&self) -> NotificationClient {
        NotificationServiceClient::new(self.clone())
    }

    /// The membership service's client over this connection.
    pub fn membership(&self) -> MembershipClient {
        MembershipServiceClient::new(self.clone())
    }

    /// The forum service's client over this connection.
    pub fn forum(&self) -> ForumClient {
        ForumServiceClient::new(self.clone())
    }
}
