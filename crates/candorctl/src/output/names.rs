//! Human names of the contract's enums, for people's output (a report's
//! Markdown, tables). Scripts get the short snake_case names instead
//! (`candor_proto::encode_snake_json`); nobody gets `PASSWORD_RESET_SCOPE_ALL`.

use candor_proto::events::v1::{CompensationKind, DataClass, PasswordResetScope};

/// Who must choose a new password.
pub fn password_reset_scope(scope: PasswordResetScope) -> &'static str {
    match scope {
        PasswordResetScope::Unspecified => "not specified",
        PasswordResetScope::Affected => "affected members",
        PasswordResetScope::All => {
            "all members (affected members at once, every other member at their next login)"
        }
        PasswordResetScope::None => "no one (affected members' sessions are still revoked)",
    }
}

/// What kind of data was taken.
pub fn data_class(class: DataClass) -> &'static str {
    match class {
        DataClass::Unspecified => "not specified",
        DataClass::EmailAddress => "email addresses",
        DataClass::PasswordHash => "password hashes",
        DataClass::DisplayName => "display names",
        DataClass::RealName => "real names",
        DataClass::PostalAddress => "postal addresses",
        DataClass::PhoneNumber => "phone numbers",
        DataClass::DateOfBirth => "dates of birth",
        DataClass::IpAddress => "IP addresses",
        DataClass::PaymentCard => "payment card data",
        DataClass::SessionToken => "session or API tokens",
        DataClass::PrivateMessages => "private messages",
        DataClass::ActivityHistory => "activity history",
        DataClass::Other => "other data",
    }
}

/// What each affected member receives.
pub fn compensation_kind(kind: CompensationKind) -> &'static str {
    match kind {
        CompensationKind::Unspecified => "not specified",
        CompensationKind::None => "nothing",
        CompensationKind::LifetimeMembership => "a lifetime membership",
        CompensationKind::PaidMembership => "a paid membership",
        CompensationKind::AccountCredit => "an account credit",
    }
}

/// The human name of a short snake_case enum value of `enum_name`
/// (`PasswordResetScope`, `DataClass`, `CompensationKind`), as found in
/// [`candor_proto::encode_snake_json`]'s output; the value itself otherwise.
pub fn from_short_name(enum_name: &str, value: &str) -> String {
    let upper = value.to_ascii_uppercase();
    let human = match enum_name {
        "PasswordResetScope" => {
            PasswordResetScope::from_str_name(&format!("PASSWORD_RESET_SCOPE_{upper}"))
                .map(password_reset_scope)
        }
        "DataClass" => DataClass::from_str_name(&format!("DATA_CLASS_{upper}")).map(data_class),
        "CompensationKind" => {
            CompensationKind::from_str_name(&format!("COMPENSATION_KIND_{upper}"))
                .map(compensation_kind)
        }
        _ => None,
    };
    human.map_or_else(|| value.to_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_short_name_has_a_human_name_that_is_not_the_proto_name() {
        for (enum_name, full) in [
            ("PasswordResetScope", "candor.events.v1.PasswordResetScope"),
            ("DataClass", "candor.events.v1.DataClass"),
            ("CompensationKind", "candor.events.v1.CompensationKind"),
        ] {
            let names = candor_proto::enum_value_names(full);
            assert!(!names.is_empty(), "{full}");
            for short in names {
                let human = from_short_name(enum_name, &short);
                assert!(!human.contains('_'), "{enum_name}.{short} reads {human:?}");
                assert_ne!(human, "not specified", "{enum_name}.{short}");
            }
        }
        assert_eq!(
            from_short_name("PasswordResetScope", "affected"),
            "affected members"
        );
    }
}
