//! The NotificationService RPCs.

mod convert;
mod errors;

use std::sync::Arc;
use std::time::SystemTime;

use candor_platform::auth::admitted;
use candor_platform::validation::TextRule;
use candor_proto::notification::v1::notification_service_server::NotificationService;
use candor_proto::notification::v1::send_email_request::Content;
use candor_proto::notification::v1::{
    DeliveryState, EmailHeader, EmailKind, GetDeliveryRequest, GetDeliveryResponse,
    GetIncidentProgressRequest, GetIncidentProgressResponse, ListDeliveriesRequest,
    ListDeliveriesResponse, RenderBreachNoticeRequest, RenderBreachNoticeResponse,
    SendEmailRequest, SendEmailResponse,
};
use chrono::Utc;
use prost::Message as _;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub use errors::ApiError;

use crate::notice::{IncidentContext, NoticeRecipient, Renderer, TransactionalContent};
use crate::store;
use crate::store::deliveries::Filter;
use crate::store::jobs::{NewTransactional, TransactionalOutcome};

/// The gRPC service.
pub struct NotificationApi {
    pool: PgPool,
    renderer: Arc<Renderer>,
    /// Wakes the sender when a transactional email is queued.
    wake: Arc<Notify>,
}

impl NotificationApi {
    pub fn new(pool: PgPool, renderer: Arc<Renderer>, wake: Arc<Notify>) -> Self {
        Self {
            pool,
            renderer,
            wake,
        }
    }

    async fn send_email(&self, request: SendEmailRequest) -> Result<SendEmailResponse, ApiError> {
        let ValidSendEmail {
            content,
            to_address,
            display_name,
        } = validate_send_email(&request)?;
        let account_id = optional_uuid("account_id", &request.account_id)?;
        let digest_bytes = Sha256::digest(request.encode_to_vec()).to_vec();
        let content_json =
            serde_json::to_value(&content).map_err(|error| ApiError::Internal(error.into()))?;
        let mut connection = self.pool.acquire().await?;
        let outcome = store::jobs::insert_transactional(
            &mut connection,
            NewTransactional {
                idempotency_key: &request.idempotency_key,
                request_digest: &digest_bytes,
                kind: content.kind(),
                account_id,
                to_address,
                display_name,
                content: content_json,
            },
            self.renderer.message_id_domain(),
        )
        .await?;
        let job_id = match outcome {
            TransactionalOutcome::Job(job_id) => job_id,
            TransactionalOutcome::KeyReused => {
                return Err(ApiError::FailedPrecondition(
                    "idempotency_key: already used for a different request".to_owned(),
                ));
            }
        };
        self.wake.notify_one();
        let row = store::deliveries::get(&mut connection, job_id)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("job {job_id} vanished")))?;
        Ok(SendEmailResponse {
            delivery: Some(convert::delivery(row)),
        })
    }

    async fn get_delivery(
        &self,
        request: GetDeliveryRequest,
    ) -> Result<GetDeliveryResponse, ApiError> {
        let job_id = Uuid::parse_str(&request.delivery_id)
            .map_err(|_| ApiError::invalid("delivery_id: must be a UUID"))?;
        let mut connection = self.pool.acquire().await?;
        let row = store::deliveries::get(&mut connection, job_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("delivery {job_id} not found")))?;
        Ok(GetDeliveryResponse {
            delivery: Some(convert::delivery(row)),
        })
    }

    async fn list_deliveries(
        &self,
        request: ListDeliveriesRequest,
    ) -> Result<ListDeliveriesResponse, ApiError> {
        let state = DeliveryState::try_from(request.state)
            .map_err(|_| ApiError::invalid("state: unknown value"))?;
        let kind = EmailKind::try_from(request.kind)
            .map_err(|_| ApiError::invalid("kind: unknown value"))?;
        check_text("incident_id", &request.incident_id, OPTIONAL_ID)?;
        check_text("page_token", &request.page_token, PAGE_TOKEN)?;
        let filter = Filter {
            incident_id: Some(request.incident_id.clone()).filter(|id| !id.is_empty()),
            account_id: optional_uuid("account_id", &request.account_id)?,
            state: convert::state_name(state),
            kind: convert::kind_name(kind),
        };
        let after = convert::decode_page_token(&filter, &request.page_token)?;
        let page_size = match request.page_size {
            0 => 100,
            size => size.min(1000),
        };
        let mut connection = self.pool.acquire().await?;
        let mut rows =
            store::deliveries::list(&mut connection, &filter, after, page_size + 1).await?;
        let more = rows.len() > page_size as usize;
        rows.truncate(page_size as usize);
        let next_page_token = match rows.last() {
            Some(last) if more => convert::encode_page_token(&filter, last),
            _ => String::new(),
        };
        Ok(ListDeliveriesResponse {
            deliveries: rows.into_iter().map(convert::delivery).collect(),
            next_page_token,
        })
    }

    async fn incident_progress(
        &self,
        request: GetIncidentProgressRequest,
    ) -> Result<GetIncidentProgressResponse, ApiError> {
        check_text("incident_id", &request.incident_id, INCIDENT_ID)?;
        let mut connection = self.pool.acquire().await?;
        let row = store::progress::incident(&mut connection, &request.incident_id).await?;
        let count = |value: i64| u64::try_from(value).unwrap_or_default();
        let window = row
            .first_sent_at
            .map(|first| (row.now - first).num_milliseconds() as f64 / 1000.0)
            .unwrap_or(60.0)
            .clamp(1.0, 60.0);
        let rate = row.sent_last_minute as f64 / window;
        let expected = row.expected_total.map(count);
        let finished = count(row.sent + row.failed + row.suppressed);
        let complete = expected.is_some_and(|expected| finished >= expected)
            && row.queued == 0
            && row.sending == 0;
        let estimated_completion_at = match expected {
            Some(expected) if rate > 0.0 && !complete && expected > finished => {
                let seconds = (expected - finished) as f64 / rate;
                chrono::Duration::try_milliseconds((seconds * 1000.0) as i64)
                    .map(|left| convert::timestamp(row.now + left))
            }
            _ => None,
        };
        Ok(GetIncidentProgressResponse {
            incident_id: request.incident_id,
            incident_known: row.incident_known,
            enumeration_complete: expected.is_some(),
            expected_total: expected.unwrap_or_default(),
            queued: count(row.queued),
            sending: count(row.sending),
            sent: count(row.sent),
            failed: count(row.failed),
            suppressed: count(row.suppressed),
            sent_without_thread_link: count(row.sent_without_thread_link),
            possibly_resent: count(row.possibly_resent),
            thread_url: row.thread_url.unwrap_or_default(),
            send_rate_per_second: rate,
            estimated_completion_at,
            first_sent_at: row.first_sent_at.map(convert::timestamp),
            last_sent_at: row.last_sent_at.map(convert::timestamp),
            complete,
        })
    }

    fn render_notice(
        &self,
        request: RenderBreachNoticeRequest,
    ) -> Result<RenderBreachNoticeResponse, ApiError> {
        let incident = request
            .incident
            .ok_or_else(|| ApiError::invalid("incident: required"))?;
        incident.validate(SystemTime::now()).map_err(|error| {
            let fields: Vec<String> = error
                .violations
                .iter()
                .map(|violation| format!("incident.{}: {}", violation.field, violation.description))
                .collect();
            ApiError::invalid(fields.join("; "))
        })?;
        let display_name = check_text("display_name", &request.display_name, DISPLAY_NAME)?;
        let to_address = check_text("to_address", &request.to_address, OPTIONAL_ADDRESS)?;
        check_text("thread_url", &request.thread_url, OPTIONAL_LINK)?;
        let display_name = non_empty_or(display_name, "Sample Member");
        let to_address = non_empty_or(to_address, "member@example.org");
        let thread_url = if request.thread_url.is_empty() {
            self.renderer.sample_thread_url()
        } else {
            request.thread_url.clone()
        };
        let message_id = self.renderer.message_id_for(Uuid::now_v7());
        let email = self
            .renderer
            .breach_notice(
                &IncidentContext::new(&incident),
                NoticeRecipient {
                    display_name,
                    to_address,
                    thread_url: Some(&thread_url),
                },
                &message_id,
            )
            .map_err(|error| match error {
                crate::notice::RenderError::InvalidAddress(_) => {
                    ApiError::invalid("to_address: not a valid address")
                }
                crate::notice::RenderError::Unencodable(reason) => {
                    ApiError::invalid(format!("display_name: {reason}"))
                }
                crate::notice::RenderError::Internal(error) => ApiError::Internal(error),
            })?;
        Ok(RenderBreachNoticeResponse {
            subject: email.subject.clone(),
            text_body: email.text.clone(),
            html_body: email.html.clone(),
            headers: email
                .headers
                .iter()
                .map(|(name, value)| EmailHeader {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
        })
    }
}

#[tonic::async_trait]
impl NotificationService for NotificationApi {
    #[tracing::instrument(skip_all, fields(rpc = "SendEmail"))]
    async fn send_email(
        &self,
        request: Request<SendEmailRequest>,
    ) -> Result<Response<SendEmailResponse>, Status> {
        admitted(&request)?;
        Ok(Response::new(self.send_email(request.into_inner()).await?))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetDelivery"))]
    async fn get_delivery(
        &self,
        request: Request<GetDeliveryRequest>,
    ) -> Result<Response<GetDeliveryResponse>, Status> {
        admitted(&request)?;
        Ok(Response::new(
            self.get_delivery(request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListDeliveries"))]
    async fn list_deliveries(
        &self,
        request: Request<ListDeliveriesRequest>,
    ) -> Result<Response<ListDeliveriesResponse>, Status> {
        admitted(&request)?;
        Ok(Response::new(
            self.list_deliveries(request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetIncidentProgress"))]
    async fn get_incident_progress(
        &self,
        request: Request<GetIncidentProgressRequest>,
    ) -> Result<Response<GetIncidentProgressResponse>, Status> {
        admitted(&request)?;
        Ok(Response::new(
            self.incident_progress(request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(rpc = "RenderBreachNotice"))]
    async fn render_breach_notice(
        &self,
        request: Request<RenderBreachNoticeRequest>,
    ) -> Result<Response<RenderBreachNoticeResponse>, Status> {
        admitted(&request)?;
        Ok(Response::new(self.render_notice(request.into_inner())?))
    }
}

fn non_empty_or<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() { default } else { value }
}

/// A recipient's display name: one line, at most 64 characters as sent.
const DISPLAY_NAME: TextRule = TextRule::single_line(0, 64);
/// A recipient's address: one line, 3..=254 characters.
const ADDRESS: TextRule = TextRule::single_line(3, 254);
/// RenderBreachNotice's sample address (empty: a default).
const OPTIONAL_ADDRESS: TextRule = TextRule::single_line(0, 254);
/// A link in an email: one line, 1..=2048 characters.
const LINK: TextRule = TextRule::single_line(1, 2048);
/// RenderBreachNotice's sample thread link (empty: a default).
const OPTIONAL_LINK: TextRule = TextRule::single_line(0, 2048);
/// An incident id to look up.
const INCIDENT_ID: TextRule = TextRule::single_line(1, 64);
/// An incident id filter (empty: any).
const OPTIONAL_ID: TextRule = TextRule::single_line(0, 64);
/// A page token (empty: the first page).
const PAGE_TOKEN: TextRule = TextRule::single_line(0, 512);

/// Checks a text field (length on the raw value, then characters) and
/// returns it trimmed; the error names the field.
fn check_text<'a>(field: &str, value: &'a str, rule: TextRule) -> Result<&'a str, ApiError> {
    rule.check_trimmed(value)
        .map_err(|reason| ApiError::invalid(format!("{field}: {reason}")))
}

fn optional_uuid(field: &str, value: &str) -> Result<Option<Uuid>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(value)
        .map(Some)
        .map_err(|_| ApiError::invalid(format!("{field}: must be a UUID")))
}

fn check_link(field: &str, value: &str) -> Result<String, ApiError> {
    let value = check_text(field, value, LINK)?;
    if !(value.starts_with("https://") || value.starts_with("http://")) {
        return Err(ApiError::invalid(format!(
            "{field}: must be an absolute http(s) URL"
        )));
    }
    Ok(value.to_owned())
}

/// What SendEmail stores, once checked.
struct ValidSendEmail<'a> {
    content: TransactionalContent,
    /// Trimmed; a valid address.
    to_address: &'a str,
    /// Trimmed; a single line.
    display_name: &'a str,
}

/// The request's rules (proto comments); returns what to store.
fn validate_send_email(request: &SendEmailRequest) -> Result<ValidSendEmail<'_>, ApiError> {
    let key = &request.idempotency_key;
    if key.is_empty() || key.len() > 200 || !key.bytes().all(|byte| (0x20..=0x7e).contains(&byte)) {
        return Err(ApiError::invalid(
            "idempotency_key: must be 1..=200 printable ASCII characters",
        ));
    }
    let to_address = check_text("to_address", &request.to_address, ADDRESS)?;
    if to_address.parse::<lettre::Address>().is_err() {
        return Err(ApiError::invalid("to_address: not a valid address"));
    }
    let display_name = check_text("to_display_name", &request.to_display_name, DISPLAY_NAME)?;
    let content = match &request.content {
        None => Err(ApiError::invalid("content: exactly one is required")),
        Some(Content::PasswordReset(email)) => Ok(TransactionalContent::PasswordReset {
            link: check_link("password_reset.reset_url", &email.reset_url)?,
            expires_at: convert::from_timestamp(
                "password_reset.expires_at",
                email.expires_at.as_ref(),
            )?,
        }),
        Some(Content::DeactivationConfirmation(email)) => {
            Ok(TransactionalContent::DeactivationConfirmation {
                link: check_link(
                    "deactivation_confirmation.confirmation_url",
                    &email.confirmation_url,
                )?,
                expires_at: convert::from_timestamp(
                    "deactivation_confirmation.expires_at",
                    email.expires_at.as_ref(),
                )?,
            })
        }
        Some(Content::PasswordChanged(email)) => Ok(TransactionalContent::PasswordChanged {
            changed_at: convert::from_timestamp(
                "password_changed.changed_at",
                email.changed_at.as_ref(),
            )
            .unwrap_or_else(|_| Utc::now()),
        }),
    }?;
    Ok(ValidSendEmail {
        content,
        to_address,
        display_name,
    })
}
