//! Who writes to the forum: a member, a staff member, or (for a caller
//! acting in its own right, such as an operator) the staff system account.

use candor_platform::auth::{Member, Principal};
use uuid::Uuid;

/// The fixed account id of the staff system account (seeded by the
/// migrations).
pub const SYSTEM_ACCOUNT_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001);

/// The author of what a forum RPC writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poster {
    /// The account posts are attributed to.
    pub account_id: Uuid,
    /// The name shown until the account is deactivated.
    pub display_name: String,
    /// Member, staff or the system account.
    pub kind: PosterKind,
}

/// What a poster may do: staff moderate and skip the rate limit, the system
/// account is not recorded as an author.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PosterKind {
    Member,
    Staff,
    /// A caller in its own right (an operator): the staff system account.
    System,
}

impl Poster {
    /// The poster for a resolved caller.
    pub fn of(principal: Principal) -> Self {
        match principal {
            Principal::Acting(_) => Self::system(),
            Principal::Member(member) => Self::member(member),
        }
    }

    /// A member, staff when their account has the staff role.
    pub fn member(member: Member) -> Self {
        Self {
            account_id: member.account_id,
            display_name: member.display_name,
            kind: if member.staff {
                PosterKind::Staff
            } else {
                PosterKind::Member
            },
        }
    }

    /// The staff system account.
    pub fn system() -> Self {
        Self {
            account_id: SYSTEM_ACCOUNT_ID,
            display_name: "Candor staff".to_owned(),
            kind: PosterKind::System,
        }
    }

    /// Staff or the system account.
    pub fn is_staff(&self) -> bool {
        matches!(self.kind, PosterKind::Staff | PosterKind::System)
    }
}
