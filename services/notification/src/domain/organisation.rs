//! Who the emails speak for: `ORGANISATION_NAME`, `ORGANISATION_CONTACT`
//! and `ORGANISATION_LOGO_URL`, checked once at start. The name is
//! required: a notice that tells members of one organisation about "a data
//! breach at" another is worse than a service that does not start.

use candor_platform::validation::TextRule;
use lettre::Address;
use lettre::message::Mailbox;
use serde::Serialize;

/// A name as it appears in a sentence and a signature.
const NAME: TextRule = TextRule::single_line(1, 100);
/// An address or a link: one line, at most 2048 characters.
const CONTACT: TextRule = TextRule::single_line(3, 2048);

/// The organisation in the emails' wording and signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    /// Its name: "a data breach at {name}", "your {name} account", and the
    /// signature.
    pub name: String,
    /// Where members reach it, printed under the signature: an email
    /// address or a web page.
    pub contact: String,
    /// The link behind `contact` in HTML (`mailto:` for an address).
    pub contact_href: String,
    /// An image shown above the HTML breach notice; none when unset.
    pub logo_url: Option<String>,
}

impl Organisation {
    /// The organisation of checked settings; without a contact (`None` or
    /// empty), members are pointed at the address the emails come from
    /// (where a reply to them goes).
    pub fn new(name: &str, contact: Option<&str>, logo_url: Option<&str>, from: &Mailbox) -> Self {
        let contact = contact
            .filter(|contact| !contact.is_empty())
            .map_or_else(|| from.email.to_string(), str::to_owned);
        let contact_href = if is_web_link(&contact) {
            contact.clone()
        } else {
            format!("mailto:{contact}")
        };
        Self {
            name: name.to_owned(),
            contact,
            contact_href,
            logo_url: logo_url
                .filter(|logo_url| !logo_url.is_empty())
                .map(str::to_owned),
        }
    }
}

/// Parses `ORGANISATION_NAME`: 1..=100 characters on one line, trimmed.
pub fn parse_name(value: &str) -> Result<String, String> {
    NAME.check(value)
        .map(|name| name.into_owned())
        .map_err(|reason| reason.to_string())
}

/// Parses `ORGANISATION_CONTACT`: an email address or an absolute http(s)
/// URL, trimmed; empty (as compose passes an unset variable) for none.
pub fn parse_contact(value: &str) -> Result<String, String> {
    optional(value, |value| {
        if value.contains("://") {
            return parse_web_link(value);
        }
        value
            .parse::<Address>()
            .map(|_| value.to_owned())
            .map_err(|_| {
                "must be an email address (support@example.org) or an http(s) URL".to_owned()
            })
    })
}

/// Parses `ORGANISATION_LOGO_URL`: an absolute http(s) URL, trimmed; empty
/// for none.
pub fn parse_logo_url(value: &str) -> Result<String, String> {
    optional(value, parse_web_link)
}

/// An optional one-line setting: empty stays empty, anything else is
/// trimmed, checked as one line and given to `parse`.
fn optional(
    value: &str,
    parse: impl FnOnce(&str) -> Result<String, String>,
) -> Result<String, String> {
    if value.trim().is_empty() {
        return Ok(String::new());
    }
    let value = CONTACT.check(value).map_err(|reason| reason.to_string())?;
    parse(&value)
}

fn parse_web_link(value: &str) -> Result<String, String> {
    if is_web_link(value) && !value.contains(char::is_whitespace) {
        Ok(value.to_owned())
    } else {
        Err("must be an absolute http:// or https:// URL with a host".to_owned())
    }
}

fn is_web_link(value: &str) -> bool {
    value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn from() -> Mailbox {
        "security@acme.example".parse().unwrap()
    }

    #[test]
    fn the_contact_defaults_to_the_sending_address_and_links_either_kind() {
        let organisation = Organisation::new("Acme", None, None, &from());
        assert_eq!(organisation.contact, "security@acme.example");
        assert_eq!(organisation.contact_href, "mailto:security@acme.example");
        let organisation = Organisation::new(
            "Acme",
            Some("https://acme.example/help"),
            Some("https://acme.example/logo.png"),
            &from(),
        );
        assert_eq!(organisation.contact_href, "https://acme.example/help");
        assert_eq!(
            organisation.logo_url.as_deref(),
            Some("https://acme.example/logo.png")
        );
    }

    #[test]
    fn settings_are_checked_with_a_reason() {
        assert_eq!(parse_name("  Acme Books "), Ok("Acme Books".to_owned()));
        for bad in ["", "   ", "Acme\nBcc: x", &"a".repeat(101)] {
            assert!(parse_name(bad).is_err(), "{bad:?}");
        }
        assert!(parse_contact("help@acme.example").is_ok());
        assert!(parse_contact("https://acme.example/help").is_ok());
        for bad in ["acme", "ftp://acme.example", "https://", "https://a b"] {
            assert!(parse_contact(bad).is_err(), "{bad:?}");
        }
        assert!(parse_logo_url("https://acme.example/logo.png").is_ok());
        assert!(parse_logo_url("logo.png").is_err());
        // Compose passes an unset variable as empty: none.
        assert_eq!(parse_contact(" "), Ok(String::new()));
        assert_eq!(parse_logo_url(""), Ok(String::new()));
        let organisation = Organisation::new("Acme", Some(""), Some(""), &from());
        assert_eq!(organisation.contact, "security@acme.example");
        assert_eq!(organisation.logo_url, None);
    }
}
