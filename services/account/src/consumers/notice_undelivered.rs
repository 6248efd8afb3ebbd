//! `notification.notice_undelivered`: a member's breach notice did not
//! reach them by email, so the product keeps it for them. The first report
//! raises the in-app notice, later ones update its reason only (a member
//! without an email address has theirs from the freeze already, so the
//! NO_EMAIL_ADDRESS report for them changes nothing). A member who
//! deactivated gets none. A report for an incident not recorded yet is
//! parked until it is.

use candor_platform::messaging::{HandlerError, IncomingMessage};
use candor_platform::parking;
use candor_proto::events::v1::{NoticeUndelivered, UndeliveredReason};
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::notices::{self, Member};

#[tracing::instrument(skip_all, fields(incident_id, account_id, reason))]
pub(super) async fn handle(pool: &PgPool, message: &IncomingMessage) -> Result<(), HandlerError> {
    let event: NoticeUndelivered = message.decode_event()?;
    event.validate().map_err(|error| {
        HandlerError::invalid(format!("invalid notification.notice_undelivered: {error}"))
    })?;
    let account_id = Uuid::parse_str(event.account_id.trim())
        .map_err(|_| HandlerError::invalid("account_id: must be a UUID"))?;
    let reason = UndeliveredReason::try_from(event.reason)
        .map_err(|_| HandlerError::invalid("reason: unknown value"))?;
    let incident_id = event.incident_id.as_str();
    let span = tracing::Span::current();
    span.record("incident_id", incident_id);
    span.record("account_id", tracing::field::display(account_id));
    span.record("reason", reason.as_str_name());

    let mut tx = pool.begin().await?;
    let mut member = notices::member(&mut tx, incident_id, account_id).await?;
    if member == Member::IncidentUnknown {
        // Decide under the incident's lock, so that the intake recording the
        // incident either is seen here or drains what is parked.
        parking::lock_incident(&mut tx, incident_id).await?;
        member = notices::member(&mut tx, incident_id, account_id).await?;
    }
    match member {
        Member::IncidentUnknown => {
            // Each report of the member is its own message: a later reason
            // must not be taken for a redelivery of the first.
            let dedup_key = match message.message_id.as_deref() {
                Some(message_id) => format!("notice:{account_id}:{message_id}"),
                None => format!("notice:{account_id}:{}", reason.as_str_name()),
            };
            parking::park(&mut tx, incident_id, &dedup_key, message).await?;
            tx.commit().await?;
            tracing::info!("notice report parked until its incident is recorded");
            Ok(())
        }
        Member::NotAffected => Err(HandlerError::invalid(format!(
            "account {account_id} is not in the affected set of incident {incident_id}"
        ))),
        Member::Deactivated => {
            tx.rollback().await?;
            tracing::info!("member deactivated, no in-app notice");
            Ok(())
        }
        Member::Active => {
            let recorded = notices::record(&mut tx, incident_id, account_id, reason).await?;
            tx.commit().await?;
            tracing::info!(?recorded, "in-app notice recorded");
            Ok(())
        }
    }
}
