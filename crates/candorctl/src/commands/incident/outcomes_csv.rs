//! `candorctl incident report ID --csv FILE`: every affected member's
//! outcome per channel, for the regulator — `account_id,channel,outcome,time`
//! and nothing else (no address, no name, no password data).
//!
//! One row per breach notice email (the notification service's deliveries
//! of the incident) and one per in-app notice (the account service's
//! affected set, where email did not reach the member). Both are paged
//! 1,000 at a time and written as they arrive, so a million members take
//! constant memory.

use std::io::Write;

use candor_proto::account::v1::ListAffectedAccountsRequest;
use candor_proto::notification::v1::SuppressionReason;
use candor_proto::notification::v1::{Delivery, DeliveryState, EmailKind, ListDeliveriesRequest};
use prost_types::Timestamp;

use crate::endpoints::Endpoints;
use crate::timefmt::rfc3339;

/// Rows per page asked of each service (their maximum).
const PAGE_SIZE: u32 = 1000;

/// The CSV's header.
pub const HEADER: [&str; 4] = ["account_id", "channel", "outcome", "time"];

/// How many rows of each channel were written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub email_rows: u64,
    pub in_app_rows: u64,
}

/// Writes the incident's outcomes to `out` as CSV.
pub async fn write(
    endpoints: &Endpoints,
    incident_id: &str,
    out: impl Write,
) -> anyhow::Result<Written> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(HEADER)?;
    let mut written = Written::default();

    let mut notification = endpoints
        .operator_channel(&endpoints.notification_grpc_url)?
        .notification();
    let mut page_token = String::new();
    loop {
        let page = notification
            .list_deliveries(ListDeliveriesRequest {
                incident_id: incident_id.to_owned(),
                kind: EmailKind::BreachNotice as i32,
                page_size: PAGE_SIZE,
                page_token: page_token.clone(),
                ..ListDeliveriesRequest::default()
            })
            .await?
            .into_inner();
        for delivery in &page.deliveries {
            let (outcome, time) = email_outcome(delivery);
            csv.write_record([
                delivery.account_id.as_str(),
                "email",
                outcome,
                &time.map(rfc3339).unwrap_or_default(),
            ])?;
            written.email_rows += 1;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }

    let mut account = endpoints
        .operator_channel(&endpoints.account_grpc_url)?
        .account();
    let mut page_token = String::new();
    loop {
        let page = account
            .list_affected_accounts(ListAffectedAccountsRequest {
                incident_id: incident_id.to_owned(),
                page_size: PAGE_SIZE,
                page_token: page_token.clone(),
            })
            .await?
            .into_inner();
        for entry in &page.accounts {
            let (Some(member), Some(notice)) = (&entry.account, &entry.in_app_notice) else {
                continue;
            };
            let (outcome, time) = match &notice.acknowledged_at {
                Some(acknowledged) => ("acknowledged", Some(acknowledged)),
                None => ("not_acknowledged", notice.raised_at.as_ref()),
            };
            csv.write_record([
                member.account_id.as_str(),
                "in_app",
                outcome,
                &time.map(rfc3339).unwrap_or_default(),
            ])?;
            written.in_app_rows += 1;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    csv.flush()?;
    Ok(written)
}

/// A notice email's outcome and the time it was reached: delivered when
/// sent, bounced or complained when reported, otherwise when it last
/// changed.
fn email_outcome(delivery: &Delivery) -> (&'static str, Option<&Timestamp>) {
    let changed = delivery.updated_at.as_ref();
    let reported = delivery.reported_at.as_ref().or(changed);
    match delivery.state() {
        DeliveryState::Sent => ("delivered", delivery.sent_at.as_ref().or(changed)),
        DeliveryState::Complained => ("complained", reported),
        DeliveryState::Bounced => ("bounced", reported),
        DeliveryState::Failed => ("failed", changed),
        DeliveryState::Suppressed => match delivery.suppression_reason() {
            SuppressionReason::NoEmailAddress => ("no_email_address", changed),
            SuppressionReason::AccountDeactivated => ("account_deactivated", changed),
            _ => ("suppressed", changed),
        },
        DeliveryState::Queued | DeliveryState::Sending | DeliveryState::Unspecified => {
            ("pending", changed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Option<Timestamp> {
        Some(Timestamp { seconds, nanos: 0 })
    }

    #[test]
    fn each_state_has_its_outcome_and_time() {
        let delivery = |state: DeliveryState| Delivery {
            state: state as i32,
            sent_at: at(100),
            reported_at: at(200),
            updated_at: at(300),
            ..Delivery::default()
        };
        assert_eq!(
            email_outcome(&delivery(DeliveryState::Sent)),
            ("delivered", at(100).as_ref())
        );
        assert_eq!(
            email_outcome(&delivery(DeliveryState::Bounced)),
            ("bounced", at(200).as_ref())
        );
        assert_eq!(
            email_outcome(&delivery(DeliveryState::Complained)),
            ("complained", at(200).as_ref())
        );
        assert_eq!(
            email_outcome(&delivery(DeliveryState::Failed)),
            ("failed", at(300).as_ref())
        );
        let no_address = Delivery {
            suppression_reason: SuppressionReason::NoEmailAddress as i32,
            ..delivery(DeliveryState::Suppressed)
        };
        assert_eq!(email_outcome(&no_address).0, "no_email_address");
        assert_eq!(email_outcome(&delivery(DeliveryState::Queued)).0, "pending");
    }
}
