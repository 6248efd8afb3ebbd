//! The first post of an incident's announcement thread: the notice in
//! Markdown. Operator text is plain text, so it is Markdown-escaped.

use candor_platform::links::PublicLinks;
use candor_proto::events::v1::{
    BreachReported, Compensation, CompensationKind, DataClass, DataClassTaken, PasswordResetScope,
};
use chrono::{DateTime, Utc};
use prost_types::Timestamp;

use super::canned::escape_markdown;

/// The notice as the thread's first post.
pub fn render(breach: &BreachReported, links: &PublicLinks) -> String {
    let mut body = String::new();
    let mut section = |heading: &str, text: String| {
        body.push_str("## ");
        body.push_str(heading);
        body.push_str("\n\n");
        body.push_str(text.trim_end());
        body.push_str("\n\n");
    };

    let paragraphs: Vec<String> = breach
        .summary
        .trim()
        .split("\n\n")
        .map(|paragraph| escape_markdown(paragraph.trim()))
        .collect();
    section("What happened", paragraphs.join("\n\n"));

    let mut when = format!("- It happened: {}", time(breach.occurred_at.as_ref()));
    if let Some(until) = breach.occurred_until.as_ref() {
        when.push_str(&format!(" until {}", time(Some(until))));
    }
    when.push_str(&format!(
        "\n- We discovered it: {}",
        time(breach.discovered_at.as_ref())
    ));
    section("When it happened", when);

    section(
        "What information was involved",
        bullets(breach.data_classes.iter().map(data_class)),
    );
    section(
        "What we have done",
        bullets(
            breach
                .measures_taken
                .iter()
                .map(|measure| escape_markdown(measure.trim())),
        ),
    );
    let consequences = if breach.likely_consequences.trim().is_empty() {
        "Whoever holds this data may try to use it against you, for example in phishing \
         emails or by trying passwords on other sites."
            .to_owned()
    } else {
        escape_markdown(breach.likely_consequences.trim())
    };
    section("What this means for you", consequences);

    let mut actions: Vec<String> = password_steps(breach, links).into_iter().collect();
    actions.extend(
        breach
            .recommended_actions
            .iter()
            .map(|action| escape_markdown(action.trim())),
    );
    actions.push("Ask us anything in this thread; staff answer here.".to_owned());
    section("What you should do", bullets(actions.into_iter()));

    section(
        "What we are offering you",
        compensation(breach.compensation.as_ref()),
    );

    let mut contact = Vec::new();
    if let Some(details) = breach.contact.as_ref() {
        if !details.email.is_empty() {
            contact.push(format!("Email: {}", escape_markdown(&details.email)));
        }
        if !details.url.is_empty() {
            contact.push(format!("Web: <{}>", details.url));
        }
        if !details.phone.is_empty() {
            contact.push(format!("Phone: {}", escape_markdown(&details.phone)));
        }
    }
    section("How to reach us", bullets(contact.into_iter()));

    section(
        "If you want to leave",
        format!(
            "You can deactivate your account at <{}>. Your sessions end and your email \
             address and display name are erased; your posts stay, shown as written by a \
             former member.",
            links.deactivation()
        ),
    );
    body.trim_end().to_owned()
}

fn bullets(items: impl Iterator<Item = String>) -> String {
    items
        .map(|item| format!("- {item}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn time(timestamp: Option<&Timestamp>) -> String {
    timestamp
        .and_then(|timestamp| {
            DateTime::<Utc>::from_timestamp(timestamp.seconds, u32::try_from(timestamp.nanos).ok()?)
        })
        .map(|time| time.format("%-d %B %Y, %H:%M UTC").to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn data_class(taken: &DataClassTaken) -> String {
    if !taken.description.trim().is_empty() {
        return escape_markdown(taken.description.trim());
    }
    let label = match DataClass::try_from(taken.data_class).unwrap_or(DataClass::Unspecified) {
        DataClass::EmailAddress => "email addresses",
        DataClass::PasswordHash => "password hashes",
        DataClass::DisplayName => "display names",
        DataClass::RealName => "real names",
        DataClass::PostalAddress => "postal addresses",
        DataClass::PhoneNumber => "telephone numbers",
        DataClass::DateOfBirth => "dates of birth",
        DataClass::IpAddress => "IP addresses",
        DataClass::PaymentCard => "payment card data",
        DataClass::SessionToken => "session tokens",
        DataClass::PrivateMessages => "private messages",
        DataClass::ActivityHistory => "activity history",
        DataClass::Other | DataClass::Unspecified => "other data",
    };
    label.to_owned()
}

fn password_steps(breach: &BreachReported, links: &PublicLinks) -> Option<String> {
    let reset = links.password_reset();
    match PasswordResetScope::try_from(breach.password_reset_scope).ok()? {
        PasswordResetScope::Affected => Some(format!(
            "If you were affected, your old password no longer works: choose a new one at <{reset}>."
        )),
        PasswordResetScope::All => Some(format!(
            "If you were affected, your old password no longer works: choose a new one at \
             <{reset}>. Every other member is asked to choose a new password at their next sign-in."
        )),
        PasswordResetScope::None | PasswordResetScope::Unspecified => None,
    }
}

fn compensation(compensation: Option<&Compensation>) -> String {
    let Some(compensation) = compensation else {
        return "Nothing is offered.".to_owned();
    };
    if !compensation.description.trim().is_empty() {
        return format!(
            "Every affected member receives {}.",
            escape_markdown(compensation.description.trim())
        );
    }
    let value = format!(
        "{}.{:02} {}",
        compensation.value_minor_units / 100,
        compensation.value_minor_units % 100,
        compensation.currency
    );
    match CompensationKind::try_from(compensation.kind).unwrap_or(CompensationKind::Unspecified) {
        CompensationKind::LifetimeMembership => {
            format!("Every affected member receives a lifetime membership (worth {value}).")
        }
        CompensationKind::PaidMembership => format!(
            "Every affected member receives {} days of paid membership.",
            compensation.duration_days
        ),
        CompensationKind::AccountCredit => {
            format!("Every affected member receives an account credit of {value}.")
        }
        CompensationKind::None | CompensationKind::Unspecified => "Nothing is offered.".to_owned(),
    }
}
