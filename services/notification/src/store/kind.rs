//! Which email a job is: stored as text in `email_jobs.kind` (the column's
//! CHECK lists the same names), parsed here, once, when a row is read.

use std::fmt;
use std::str::FromStr;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

/// The kind of an email job.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// A "Notice of Data Breach" to one affected member.
    BreachNotice,
    /// SendEmail: a password reset link.
    PasswordReset,
    /// SendEmail: the link confirming an account's deactivation.
    DeactivationConfirmation,
    /// SendEmail: the notice that a password was changed.
    PasswordChanged,
}

impl JobKind {
    /// Every kind, in the order of the column's CHECK.
    pub const ALL: [Self; 4] = [
        Self::BreachNotice,
        Self::PasswordReset,
        Self::DeactivationConfirmation,
        Self::PasswordChanged,
    ];

    /// The name stored in `email_jobs.kind` (also the template's name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BreachNotice => "breach_notice",
            Self::PasswordReset => "password_reset",
            Self::DeactivationConfirmation => "deactivation_confirmation",
            Self::PasswordChanged => "password_changed",
        }
    }
}

/// Debug-formats as the stored name in quotes, as the `&str` it replaced
/// did: ListDeliveries' page tokens carry a digest of the filter's Debug
/// text, and tokens issued before must stay valid.
impl fmt::Debug for JobKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), formatter)
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A stored kind this build does not know (written by a newer version).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown email job kind {0:?}")]
pub struct UnknownJobKind(pub String);

impl FromStr for JobKind {
    type Err = UnknownJobKind;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| UnknownJobKind(name.to_owned()))
    }
}

impl Type<Postgres> for JobKind {
    fn type_info() -> PgTypeInfo {
        <str as Type<Postgres>>::type_info()
    }

    fn compatible(type_info: &PgTypeInfo) -> bool {
        <str as Type<Postgres>>::compatible(type_info)
    }
}

impl Encode<'_, Postgres> for JobKind {
    fn encode_by_ref(&self, buffer: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Postgres>>::encode(self.as_str(), buffer)
    }
}

impl<'row> Decode<'row, Postgres> for JobKind {
    fn decode(value: PgValueRef<'row>) -> Result<Self, BoxDynError> {
        Ok(<&str as Decode<Postgres>>::decode(value)?.parse()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_stored_name_and_an_unknown_name_is_an_error() {
        for kind in JobKind::ALL {
            assert_eq!(kind.as_str().parse::<JobKind>(), Ok(kind));
        }
        assert_eq!(
            "newsletter".parse::<JobKind>(),
            Err(UnknownJobKind("newsletter".to_owned()))
        );
    }

    #[test]
    fn debug_text_is_the_quoted_stored_name_as_page_token_digests_expect() {
        assert_eq!(
            format!("{:?}", Some(JobKind::PasswordReset)),
            format!("{:?}", Some("password_reset"))
        );
    }
}
