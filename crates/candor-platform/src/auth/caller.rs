//! The callers Candor's gRPC services know: operators, each service, and
//! front ends. Each has its own credential, so a permission can name it.

use std::fmt;
use std::str::FromStr;

/// One identity that calls Candor's gRPC services with its own credential
/// (a bearer token, or with mutual TLS a certificate naming it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Caller {
    /// A human operator or their tooling (`candorctl`), with `OPERATOR_TOKEN`.
    Operator,
    /// The account service.
    Account,
    /// The notification service.
    Notification,
    /// The membership service.
    Membership,
    /// The forum service.
    Forum,
    /// A member-facing front end (web site, app backend) that forwards
    /// members' calls and may report their address in `x-forwarded-for`.
    FrontEnd,
}

impl Caller {
    /// Every caller, in the order the permission table prints them.
    pub const ALL: [Caller; 6] = [
        Caller::Operator,
        Caller::Account,
        Caller::Notification,
        Caller::Membership,
        Caller::Forum,
        Caller::FrontEnd,
    ];

    /// The caller's name in settings (`CALLER_TOKENS`), certificates and
    /// messages.
    pub fn name(self) -> &'static str {
        match self {
            Caller::Operator => "operator",
            Caller::Account => "account",
            Caller::Notification => "notification",
            Caller::Membership => "membership",
            Caller::Forum => "forum",
            Caller::FrontEnd => "frontend",
        }
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A name that is not one of [`Caller::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown caller `{0}` (expected one of operator, account, notification, membership, forum, frontend)"
)]
pub struct UnknownCaller(pub String);

impl FromStr for Caller {
    type Err = UnknownCaller;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Caller::ALL
            .into_iter()
            .find(|caller| caller.name() == name)
            .ok_or_else(|| UnknownCaller(name.chars().take(40).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for caller in Caller::ALL {
            assert_eq!(caller.name().parse::<Caller>(), Ok(caller));
        }
        assert!("Forum".parse::<Caller>().is_err());
        assert!("".parse::<Caller>().is_err());
    }
}
