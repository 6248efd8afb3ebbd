//! The breach notice: an incident worded for the kind of member who gets
//! it (what was held about them), rendered for one recipient, as a marked
//! test copy, or prepared once for the sender to fill in per member.

use anyhow::Context as _;
use candor_proto::events::v1::BreachReported;
use lettre::message::Mailbox;
use minijinja::{Value, context};

use super::{
    BREACH_NOTICE_SUBJECT, HeldData, IncidentNotice, PreparedNotice, RenderError, RenderedEmail,
    Renderer, TEST_SUBJECT_PREFIX, greeting, prepared,
};

/// An incident, worded for each kind of member from its report (the
/// prepared notices of [`NoticeCache`](super::NoticeCache) keep each
/// wording's render).
#[derive(Debug, Clone)]
pub struct IncidentContext {
    report: BreachReported,
    reply_to: Option<String>,
}

impl IncidentContext {
    pub fn new(report: &BreachReported) -> Self {
        let email = report
            .contact
            .as_ref()
            .map(|contact| contact.email.trim().to_owned());
        Self {
            report: report.clone(),
            reply_to: email.filter(|email| !email.is_empty()),
        }
    }

    /// The template value of the incident for a member about whom `held`
    /// was held (`None`: not known, every class).
    fn value_for(&self, held: Option<&HeldData>) -> Value {
        Value::from_serialize(IncidentNotice::for_member(&self.report, held))
    }
}

/// The recipient of one breach notice.
#[derive(Debug, Clone, Copy)]
pub struct NoticeRecipient<'a> {
    /// For the greeting and the `To` header; empty: "Dear member,".
    pub display_name: &'a str,
    pub to_address: &'a str,
    /// The incident's forum thread, when known.
    pub thread_url: Option<&'a str>,
    /// What was held about them; `None` when not known (every class).
    pub held: Option<&'a HeldData>,
}

impl Renderer {
    /// The "Notice of Data Breach" for one recipient.
    pub fn breach_notice(
        &self,
        incident: &IncidentContext,
        recipient: NoticeRecipient<'_>,
        message_id: &str,
    ) -> Result<RenderedEmail, RenderError> {
        self.single_breach_notice(incident, recipient, message_id, Purpose::ToMember)
    }

    /// The notice as `recipient` would get it, marked as a test: the
    /// subject starts with [`TEST_SUBJECT_PREFIX`] and both parts open
    /// with a line saying no member received it.
    pub fn test_breach_notice(
        &self,
        incident: &IncidentContext,
        recipient: NoticeRecipient<'_>,
        message_id: &str,
    ) -> Result<RenderedEmail, RenderError> {
        self.single_breach_notice(incident, recipient, message_id, Purpose::Test)
    }

    fn single_breach_notice(
        &self,
        incident: &IncidentContext,
        recipient: NoticeRecipient<'_>,
        message_id: &str,
        purpose: Purpose,
    ) -> Result<RenderedEmail, RenderError> {
        let member = MemberSlots {
            greeting: &greeting(recipient.display_name),
            to_address: recipient.to_address,
            thread_url: recipient.thread_url,
            held: recipient.held,
        };
        let (text, html) = self.render_breach_notice(incident, member, purpose)?;
        let subject = match purpose {
            Purpose::ToMember => BREACH_NOTICE_SUBJECT.to_owned(),
            Purpose::Test => format!("{TEST_SUBJECT_PREFIX}{BREACH_NOTICE_SUBJECT}"),
        };
        self.assemble(
            &subject,
            text,
            html,
            recipient.display_name,
            recipient.to_address,
            incident.reply_to.as_deref(),
            message_id,
        )
    }

    /// The incident's notice rendered once for the members about whom
    /// `held` was held, for [`PreparedNotice::format`] to fill in per member
    /// (the sender's path for breach notices).
    pub fn prepare_breach_notice(
        &self,
        incident: &IncidentContext,
        thread_url: Option<&str>,
        held: Option<&HeldData>,
    ) -> Result<PreparedNotice, RenderError> {
        let markers = prepared::Markers::new();
        let member = MemberSlots {
            greeting: &markers.greeting,
            to_address: &markers.address,
            thread_url,
            held,
        };
        let (text, html) = self.render_breach_notice(incident, member, Purpose::ToMember)?;
        let reply_to = incident
            .reply_to
            .as_deref()
            .map(|email| email.parse().map(|address| Mailbox::new(None, address)))
            .transpose()
            .context("parsing the contact address for Reply-To")?;
        PreparedNotice::new(
            self.from.clone(),
            reply_to,
            BREACH_NOTICE_SUBJECT,
            &markers,
            &text,
            &html,
        )
    }

    /// The notice's text and HTML parts for one member (or the markers a
    /// prepared notice fills in later).
    fn render_breach_notice(
        &self,
        incident: &IncidentContext,
        member: MemberSlots<'_>,
        purpose: Purpose,
    ) -> Result<(String, String), RenderError> {
        let context = context! {
            incident => incident.value_for(member.held),
            organisation => &self.organisation,
            greeting => member.greeting,
            to_address => member.to_address,
            thread_url => member.thread_url,
            reset_url => self.reset_url(),
            deactivation_url => self.deactivation_url(),
            test => purpose == Purpose::Test,
        };
        self.render_pair("breach_notice", &context)
    }
}

/// Whom a breach notice is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// A member (or a dry run showing what a member gets).
    ToMember,
    /// An operator's test copy, marked as such.
    Test,
}

/// The member's parts of a breach notice: their values, or the markers of
/// a prepared notice.
#[derive(Debug, Clone, Copy)]
struct MemberSlots<'a> {
    greeting: &'a str,
    to_address: &'a str,
    thread_url: Option<&'a str>,
    held: Option<&'a HeldData>,
}
