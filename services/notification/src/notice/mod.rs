//! The emails themselves: templates (minijinja, HTML auto-escaped, in
//! `templates/`), headers, and the formatted RFC 5322 message.

mod breach;
mod cache;
mod facts;
mod prepared;
mod transactional;

use std::sync::Arc;

use anyhow::Context as _;
use candor_platform::links::PublicLinks;
use lettre::Message;
use lettre::address::Envelope;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State, Value, context};

use crate::domain::organisation::Organisation;

pub use breach::{IncidentContext, NoticeRecipient};
pub use cache::{LruMap, NOTICE_CACHE_CAPACITY, NoticeCache};
pub use facts::{HeldData, IncidentNotice, format_time};
pub use prepared::PreparedNotice;
pub use transactional::TransactionalContent;

/// The title California Civ. Code 1798.82 prescribes.
pub const BREACH_NOTICE_SUBJECT: &str = "Notice of Data Breach";

/// What a test notice's subject starts with (SendTestNotice); its body
/// opens with a line saying it is a test, in both parts.
pub const TEST_SUBJECT_PREFIX: &str = "[TEST] ";

const TEMPLATES: [(&str, &str); 10] = [
    (
        "_signature.txt",
        include_str!("../../templates/_signature.txt"),
    ),
    (
        "_signature.html",
        include_str!("../../templates/_signature.html"),
    ),
    (
        "breach_notice.txt",
        include_str!("../../templates/breach_notice.txt"),
    ),
    (
        "breach_notice.html",
        include_str!("../../templates/breach_notice.html"),
    ),
    (
        "password_reset.txt",
        include_str!("../../templates/password_reset.txt"),
    ),
    (
        "password_reset.html",
        include_str!("../../templates/password_reset.html"),
    ),
    (
        "deactivation_confirmation.txt",
        include_str!("../../templates/deactivation_confirmation.txt"),
    ),
    (
        "deactivation_confirmation.html",
        include_str!("../../templates/deactivation_confirmation.html"),
    ),
    (
        "password_changed.txt",
        include_str!("../../templates/password_changed.txt"),
    ),
    (
        "password_changed.html",
        include_str!("../../templates/password_changed.html"),
    ),
];

/// Why an email could not be produced; the job fails permanently (retrying
/// would produce the same).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("invalid recipient address {0:?}")]
    InvalidAddress(String),
    /// A header value (display name, subject) that cannot be put in a
    /// header as it is, e.g. with CR/LF; the text says which and why.
    #[error("cannot encode the message: {0}")]
    Unencodable(String),
    #[error("rendering failed: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// An email ready to format: subject, both bodies and the other headers.
#[derive(Debug, Clone)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// From, To, Reply-To (when there is a contact address), Message-ID,
    /// Auto-Submitted, in that order.
    pub headers: Vec<(String, String)>,
    from: Mailbox,
    to: Mailbox,
    reply_to: Option<Mailbox>,
    message_id: String,
}

/// Who every email comes from (`EMAIL_FROM`) and speaks for
/// (`ORGANISATION_NAME`, `ORGANISATION_CONTACT`, `ORGANISATION_LOGO_URL`),
/// as configured; [`Renderer::new`] checks them.
#[derive(Debug, Clone, Copy)]
pub struct EmailIdentity<'a> {
    /// `From` of every email; without a display name of its own, the
    /// organisation's name is shown.
    pub from: &'a str,
    /// "a data breach at …", "your … account", and every signature.
    pub organisation_name: &'a str,
    /// Where members reach the organisation; `None` or empty: the `From`
    /// address.
    pub organisation_contact: Option<&'a str>,
    /// An image above the HTML breach notice; `None` or empty: none.
    pub organisation_logo_url: Option<&'a str>,
}

impl<'a> EmailIdentity<'a> {
    /// Emails from `from` signed `organisation_name`, with the default
    /// contact and no logo.
    pub fn new(from: &'a str, organisation_name: &'a str) -> Self {
        Self {
            from,
            organisation_name,
            organisation_contact: None,
            organisation_logo_url: None,
        }
    }
}

/// Renders and formats every email of the service.
pub struct Renderer {
    environment: Environment<'static>,
    from: Mailbox,
    organisation: Value,
    message_id_domain: String,
    links: PublicLinks,
}

impl Renderer {
    /// Emails of `identity`, with links built under `public_base_url`.
    pub fn new(identity: &EmailIdentity<'_>, public_base_url: &str) -> anyhow::Result<Arc<Self>> {
        let mut from: Mailbox = identity.from.parse().context("parsing EMAIL_FROM")?;
        let organisation = Organisation::new(
            identity.organisation_name,
            identity.organisation_contact,
            identity.organisation_logo_url,
            &from,
        );
        if from
            .name
            .as_deref()
            .is_none_or(|name| name.trim().is_empty())
        {
            from.name = Some(organisation.name.clone());
        }
        let mut environment = Environment::new();
        environment.set_keep_trailing_newline(true);
        environment.set_formatter(html_formatter);
        for (name, source) in TEMPLATES {
            environment
                .add_template(name, source)
                .with_context(|| format!("compiling template {name}"))?;
        }
        Ok(Arc::new(Self {
            organisation: Value::from_serialize(&organisation),
            message_id_domain: from.email.domain().to_owned(),
            from,
            environment,
            links: PublicLinks::new(public_base_url),
        }))
    }

    /// The stable Message-ID of a job.
    pub fn message_id_for(&self, job_id: uuid::Uuid) -> String {
        format!("<{job_id}@{}>", self.message_id_domain)
    }

    /// The domain Message-IDs are made under.
    pub fn message_id_domain(&self) -> &str {
        &self.message_id_domain
    }

    /// Where a member asks for a password reset email.
    pub fn reset_url(&self) -> String {
        self.links.password_reset()
    }

    /// Where a member starts deactivating their account.
    pub fn deactivation_url(&self) -> String {
        self.links.deactivation()
    }

    /// A placeholder thread link for dry runs.
    pub fn sample_thread_url(&self) -> String {
        self.links.forum_thread("sample")
    }

    /// A transactional email (SendEmail).
    pub fn transactional(
        &self,
        content: &TransactionalContent,
        display_name: &str,
        to_address: &str,
        message_id: &str,
    ) -> Result<RenderedEmail, RenderError> {
        let (template, context) = match content {
            TransactionalContent::PasswordReset { link, expires_at }
            | TransactionalContent::DeactivationConfirmation { link, expires_at } => (
                content.kind().as_str(),
                context! {
                    organisation => &self.organisation,
                    greeting => greeting(display_name),
                    link => link,
                    expires_at => expires_at.format("%-d %B %Y, %H:%M UTC").to_string(),
                },
            ),
            TransactionalContent::PasswordChanged { changed_at } => (
                content.kind().as_str(),
                context! {
                    organisation => &self.organisation,
                    greeting => greeting(display_name),
                    changed_at => changed_at.format("%-d %B %Y, %H:%M UTC").to_string(),
                    reset_url => self.reset_url(),
                },
            ),
        };
        let (text, html) = self.render_pair(template, &context)?;
        self.assemble(
            content.subject(),
            text,
            html,
            display_name,
            to_address,
            None,
            message_id,
        )
    }

    fn render_pair(&self, name: &str, context: &Value) -> Result<(String, String), RenderError> {
        let render = |extension: &str| -> anyhow::Result<String> {
            let template_name = format!("{name}.{extension}");
            let template = self.environment.get_template(&template_name)?;
            Ok(template.render(context)?)
        };
        Ok((render("txt")?, render("html")?))
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        &self,
        subject: &str,
        text: String,
        html: String,
        display_name: &str,
        to_address: &str,
        reply_to: Option<&str>,
        message_id: &str,
    ) -> Result<RenderedEmail, RenderError> {
        let address = to_address
            .parse()
            .map_err(|_| RenderError::InvalidAddress(to_address.to_owned()))?;
        check_header_text("display name", display_name)?;
        check_header_text("subject", subject)?;
        let name = Some(display_name.to_owned()).filter(|name| !name.is_empty());
        let to = Mailbox::new(name, address);
        let reply_to = reply_to
            .map(|email| email.parse().map(|address| Mailbox::new(None, address)))
            .transpose()
            .context("parsing the contact address for Reply-To")?;
        let mut headers = vec![
            ("From".to_owned(), self.from.to_string()),
            ("To".to_owned(), to.to_string()),
        ];
        if let Some(reply_to) = &reply_to {
            headers.push(("Reply-To".to_owned(), reply_to.to_string()));
        }
        headers.push(("Message-ID".to_owned(), message_id.to_owned()));
        headers.push(("Auto-Submitted".to_owned(), AUTO_GENERATED.to_owned()));
        Ok(RenderedEmail {
            subject: subject.to_owned(),
            text,
            html,
            headers,
            from: self.from.clone(),
            to,
            reply_to,
            message_id: message_id.to_owned(),
        })
    }
}

impl RenderedEmail {
    /// The envelope and the formatted message (multipart/alternative, text
    /// then HTML).
    pub fn format(self) -> Result<(Envelope, Vec<u8>), RenderError> {
        let mut builder = Message::builder()
            .from(self.from)
            .to(self.to)
            .subject(self.subject)
            .message_id(Some(self.message_id))
            .header(AutoSubmitted);
        if let Some(reply_to) = self.reply_to {
            builder = builder.reply_to(reply_to);
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(self.text, self.html))
            .context("building the message")?;
        Ok((message.envelope().clone(), message.formatted()))
    }
}

/// Refuses text that cannot go into a header: the gRPC API refuses it, but
/// a job written by another path (an older version, a manual fix) must fail
/// with a reason rather than reach the encoder. 998 characters is RFC 5322's
/// line limit.
pub(crate) fn check_header_text(what: &str, value: &str) -> Result<(), RenderError> {
    candor_platform::validation::TextRule::single_line(0, 998)
        .check_verbatim(value)
        .map_err(|reason| RenderError::Unencodable(format!("{what} {reason}")))
}

/// Runs a formatting step of the email library, turning a panic inside it
/// into a permanent failure of the job: one bad message must fail alone,
/// never take down its worker and come back forever.
pub(crate) fn without_panics<T>(
    format: impl FnOnce() -> Result<T, RenderError>,
) -> Result<T, RenderError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(format)).unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the email library panicked".to_owned());
        Err(RenderError::Unencodable(reason))
    })
}

fn greeting(display_name: &str) -> String {
    if display_name.trim().is_empty() {
        "Dear member,".to_owned()
    } else {
        format!("Dear {},", display_name.trim())
    }
}

/// HTML escaping of `& < > " '` (enough for text and quoted attributes).
/// minijinja's default also writes `/` as `&#x2f;`, which is valid but
/// leaves links unreadable in the source and unsearchable; this keeps them.
fn html_formatter(
    output: &mut Output<'_>,
    state: &State<'_, '_>,
    value: &Value,
) -> Result<(), Error> {
    if state.auto_escape() != AutoEscape::Html
        || value.is_safe()
        || value.is_undefined()
        || value.is_none()
    {
        return minijinja::escape_formatter(output, state, value);
    }
    let escaped = escape_html(&value.to_string());
    output
        .write_str(&escaped)
        .map_err(|_| Error::new(ErrorKind::WriteFailure, "writing the rendered template"))
}

/// `& < > " '` as HTML entities (the template formatter's escaping).
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 16);
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            other => escaped.push(other),
        }
    }
    escaped
}

const AUTO_GENERATED: &str = "auto-generated";

/// `Auto-Submitted: auto-generated` (RFC 3834), so auto-responders stay quiet.
#[derive(Debug, Clone, Copy)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_value: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), AUTO_GENERATED.to_owned())
    }
}

#[cfg(test)]
mod tests;
