//! The regulator's view of an incident report: GDPR Art. 33's 72-hour clock
//! from discovery to the supervisory authority's notification (with the
//! operator's reason when late), and Art. 34's question — how many members
//! were actually reached, by which channel, and when the last one was.
//!
//! "Reached" counts a member once: by email when the notice is still
//! delivered (SENT; COMPLAINED too — the member got it and marked it as
//! spam), or in the product when the member acknowledged the in-app notice
//! raised because email did not reach them (bounced, failed, suppressed, no
//! address). The two sets do not overlap: an in-app notice is raised only
//! for a member email did not reach. Everyone else can read the incident's
//! pinned forum thread, the public communication of Art. 34(3)(c).

use std::fmt::Write as _;

use chrono::{DateTime, TimeZone, Utc};
use prost_types::Timestamp;
use serde::Serialize;

use super::progress::IncidentSnapshot;
use crate::timefmt::rfc3339;

/// GDPR Art. 33(1): "without undue delay and, where feasible, not later
/// than 72 hours after having become aware of it".
pub const GDPR_NOTIFICATION_SECONDS: i64 = 72 * 3600;

/// The 72-hour clock and the members reached.
#[derive(Debug, Serialize, Default, PartialEq)]
pub struct RegulatorView {
    pub notification_clock: Option<NotificationClock>,
    pub reach: Option<Reach>,
}

/// Discovery to the authority's notification.
#[derive(Debug, Serialize, PartialEq)]
pub struct NotificationClock {
    pub discovered_at: String,
    /// discovered_at + 72 hours.
    pub deadline: String,
    /// When the authority was notified, as the incident states
    /// (`authority_notified_at`); unset when it does not say.
    pub authority_notified_at: Option<String>,
    /// When the breach was reported to Candor (recorded by account): the
    /// clock's end when `authority_notified_at` is not stated.
    pub reported_at: Option<String>,
    /// Hours from discovery to the notification (or, without one, to the
    /// report), one decimal.
    pub delay_hours: Option<f64>,
    /// `on_time`, `late`, or `not_notified` (no `authority_notified_at`;
    /// `overdue` once the deadline has passed).
    pub status: String,
    /// The operator's stated reason for a late notification.
    pub late_notification_reason: Option<String>,
    /// Late (or overdue) with no reason stated: Art. 33(1) asks for one.
    pub late_without_reason: bool,
}

/// Members reached, by channel.
#[derive(Debug, Serialize, Default, PartialEq)]
pub struct Reach {
    /// Members affected (notices expected).
    pub affected: u64,
    /// Notices accepted and not reported undeliverable since (SENT).
    pub emails_delivered: u64,
    /// Delivered, then reported as spam by the member.
    pub emails_complained: u64,
    /// Reported undeliverable by the member's provider.
    pub emails_bounced: u64,
    /// Given up on: refused, unsendable or retries exhausted.
    pub emails_failed: u64,
    /// Not sent on purpose, other than for members without an address: the
    /// address was on the suppression list, or the member deactivated
    /// before the notice went out.
    pub emails_suppressed: u64,
    /// Members without an email address.
    pub no_email_address: u64,
    /// Still queued or being sent.
    pub emails_pending: u64,
    /// In-app notices raised (email did not reach the member).
    pub in_app_raised: u64,
    /// In-app notices the member acknowledged: reached in the product.
    pub in_app_acknowledged: u64,
    /// Members reached by either channel.
    pub members_reached: u64,
    /// Members not (yet) reached by either channel.
    pub members_not_reached: u64,
    /// When the last member was reached (the later of the last delivered
    /// email and the last acknowledgement).
    pub last_reached_at: Option<String>,
    /// The pinned forum thread: the public communication for everyone.
    pub public_communication_url: Option<String>,
}

impl RegulatorView {
    /// The view from the services' answers, as of `now`.
    pub fn of(snapshot: &IncidentSnapshot, now: DateTime<Utc>) -> Self {
        let account = snapshot
            .account
            .as_ref()
            .ok()
            .filter(|progress| progress.incident_known);
        let notification = snapshot
            .notification
            .as_ref()
            .ok()
            .filter(|progress| progress.incident_known);
        let notification_clock = account.and_then(|progress| {
            let incident = progress.incident.as_ref()?;
            clock(
                incident.discovered_at.as_ref()?,
                incident.authority_notified_at.as_ref(),
                progress.recorded_at.as_ref(),
                &incident.late_notification_reason,
                now,
            )
        });
        let reach = match (account, notification) {
            (Some(account), Some(emails)) => {
                let emails_delivered = emails.sent;
                let emails_complained = emails.complained;
                let members_reached =
                    emails_delivered + emails_complained + account.in_app_notices_acknowledged;
                let last_reached_at = [
                    emails.last_delivered_at.as_ref(),
                    account.last_acknowledged_at.as_ref(),
                ]
                .into_iter()
                .flatten()
                .max_by_key(|time| (time.seconds, time.nanos))
                .map(rfc3339);
                let public_communication_url = match &snapshot.forum {
                    Ok(Some(thread)) => Some(thread.url.clone()),
                    _ => None,
                };
                Some(Reach {
                    affected: account.affected_accounts,
                    emails_delivered,
                    emails_complained,
                    emails_bounced: emails.bounced,
                    emails_failed: emails.failed,
                    emails_suppressed: emails.suppressed.saturating_sub(emails.no_email_address),
                    no_email_address: emails.no_email_address,
                    emails_pending: emails.queued + emails.sending,
                    in_app_raised: account.in_app_notices,
                    in_app_acknowledged: account.in_app_notices_acknowledged,
                    members_reached,
                    members_not_reached: account.affected_accounts.saturating_sub(members_reached),
                    last_reached_at,
                    public_communication_url,
                })
            }
            _ => None,
        };
        Self {
            notification_clock,
            reach,
        }
    }
}

fn to_datetime(time: &Timestamp) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(time.seconds, u32::try_from(time.nanos).unwrap_or(0))
        .single()
}

fn clock(
    discovered_at: &Timestamp,
    authority_notified_at: Option<&Timestamp>,
    recorded_at: Option<&Timestamp>,
    reason: &str,
    now: DateTime<Utc>,
) -> Option<NotificationClock> {
    let discovered = to_datetime(discovered_at)?;
    let deadline = discovered + chrono::Duration::seconds(GDPR_NOTIFICATION_SECONDS);
    let notified = authority_notified_at.and_then(to_datetime);
    let reported = recorded_at.and_then(to_datetime);
    let delay_end = notified.or(reported);
    let delay_hours = delay_end.map(|end| {
        let hours = (end - discovered).num_seconds() as f64 / 3600.0;
        (hours * 10.0).round() / 10.0
    });
    let status = match notified {
        Some(notified) if notified <= deadline => "on_time",
        Some(_) => "late",
        None if now > deadline => "overdue",
        None => "not_notified",
    };
    let reason = reason.trim();
    Some(NotificationClock {
        discovered_at: rfc3339(discovered_at),
        deadline: deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        authority_notified_at: authority_notified_at.map(rfc3339),
        reported_at: recorded_at.map(rfc3339),
        delay_hours,
        status: status.to_owned(),
        late_notification_reason: (!reason.is_empty()).then(|| reason.to_owned()),
        late_without_reason: matches!(status, "late" | "overdue") && reason.is_empty(),
    })
}

/// The report's "For the regulator" section.
pub fn markdown(out: &mut String, view: &RegulatorView) {
    let _ = writeln!(out, "\n## For the regulator\n");
    match &view.notification_clock {
        Some(clock) => {
            let status = match clock.status.as_str() {
                "on_time" => "notified within 72 hours",
                "late" => "notified **late** (more than 72 hours after discovery)",
                "overdue" => "**not notified**, and the 72 hours have passed",
                _ => "not notified yet; the 72 hours have not passed",
            };
            let _ = writeln!(
                out,
                "- Supervisory authority (GDPR Art. 33): {status}. Discovered {}; deadline {}; notified {}.",
                clock.discovered_at,
                clock.deadline,
                clock
                    .authority_notified_at
                    .as_deref()
                    .unwrap_or("— (not stated)")
            );
            if let Some(hours) = clock.delay_hours {
                let end = if clock.authority_notified_at.is_some() {
                    "the notification"
                } else {
                    "the report to Candor"
                };
                let _ = writeln!(out, "- Discovery to {end}: {hours:.1} hours.");
            }
            match (&clock.late_notification_reason, clock.late_without_reason) {
                (Some(reason), _) => {
                    let _ = writeln!(out, "- Reason for the delay: {reason}");
                }
                (None, true) => {
                    let _ = writeln!(
                        out,
                        "- Reason for the delay: **none stated** (Art. 33(1) requires one)."
                    );
                }
                (None, false) => {}
            }
        }
        None => {
            let _ = writeln!(
                out,
                "- Supervisory authority: unknown (incident not recorded)."
            );
        }
    }
    let Some(reach) = &view.reach else {
        let _ = writeln!(
            out,
            "- Members reached: unknown (a service could not answer)."
        );
        return;
    };
    let _ = writeln!(
        out,
        "- Members reached (GDPR Art. 34): **{} of {}**; {} not reached yet.",
        reach.members_reached, reach.affected, reach.members_not_reached
    );
    let _ = writeln!(
        out,
        "\n| channel | outcome | members |\n| --- | --- | --- |"
    );
    for (channel, outcome, count) in [
        ("email", "delivered", reach.emails_delivered),
        (
            "email",
            "delivered, then complained (spam)",
            reach.emails_complained,
        ),
        ("email", "bounced", reach.emails_bounced),
        ("email", "failed", reach.emails_failed),
        ("email", "suppressed", reach.emails_suppressed),
        ("email", "no email address", reach.no_email_address),
        ("email", "pending", reach.emails_pending),
        (
            "in the product",
            "notice shown, acknowledged",
            reach.in_app_acknowledged,
        ),
        (
            "in the product",
            "notice waiting for the member",
            reach
                .in_app_raised
                .saturating_sub(reach.in_app_acknowledged),
        ),
    ] {
        let _ = writeln!(out, "| {channel} | {outcome} | {count} |");
    }
    let _ = writeln!(
        out,
        "\n- Last member reached: {}.",
        reach.last_reached_at.as_deref().unwrap_or("—")
    );
    let _ = writeln!(
        out,
        "- Public communication (Art. 34(3)(c)), for everyone: {}.",
        reach
            .public_communication_url
            .as_deref()
            .unwrap_or("the forum thread is not open")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        let time = DateTime::parse_from_rfc3339(text).unwrap();
        Timestamp {
            seconds: time.timestamp(),
            nanos: 0,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn notified_within_72_hours_is_on_time() {
        let clock = clock(
            &at("2025-05-20T16:45:00Z"),
            Some(&at("2025-05-22T09:30:00Z")),
            Some(&at("2025-05-21T10:00:00Z")),
            "",
            now(),
        )
        .unwrap();
        assert_eq!(clock.status, "on_time");
        assert_eq!(clock.deadline, "2025-05-23T16:45:00Z");
        assert_eq!(clock.delay_hours, Some(40.8));
        assert!(!clock.late_without_reason);
    }

    #[test]
    fn one_second_past_72_hours_is_late_and_needs_a_reason() {
        let late = clock(
            &at("2025-05-20T16:45:00Z"),
            Some(&at("2025-05-23T16:45:01Z")),
            None,
            "  ",
            now(),
        )
        .unwrap();
        assert_eq!(late.status, "late");
        assert!(late.late_without_reason);
        assert_eq!(late.late_notification_reason, None);
        let explained = clock(
            &at("2025-05-20T16:45:00Z"),
            Some(&at("2025-05-25T16:45:00Z")),
            None,
            "forensics had to confirm the scope first",
            now(),
        )
        .unwrap();
        assert!(!explained.late_without_reason);
        assert_eq!(explained.delay_hours, Some(120.0));
    }

    #[test]
    fn not_notified_is_overdue_once_the_deadline_passed() {
        let overdue = clock(&at("2025-05-20T16:45:00Z"), None, None, "", now()).unwrap();
        assert_eq!(overdue.status, "overdue");
        assert!(overdue.late_without_reason);
        let early = clock(
            &at("2025-05-31T12:00:00Z"),
            None,
            Some(&at("2025-05-31T13:00:00Z")),
            "",
            now(),
        )
        .unwrap();
        assert_eq!(early.status, "not_notified");
        assert_eq!(early.delay_hours, Some(1.0));
        assert!(!early.late_without_reason);
    }
}
