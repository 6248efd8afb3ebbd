//! The intake's HTTP endpoints and what they answer.
//!
//! | answer | when |
//! | --- | --- |
//! | 204 | every report recorded, already recorded (a provider's retry), about an email this service does not know (logged and counted: a provider would only retry it forever), or ignored (an event that is no bounce or complaint) |
//! | 200 | an SNS subscription confirmed |
//! | 400 | the body is not what the endpoint takes; the reason is in the answer |
//! | 401 | a missing or wrong token or signature, a certificate not from SNS |
//! | 403 | an SNS topic not in `SES_SNS_TOPIC_ARNS` |
//! | 404 | the endpoint's credential is not configured |
//! | 408 | the request took longer than [`REQUEST_TIMEOUT`] |
//! | 413 | the body is larger than [`MAX_BODY_BYTES`] |
//! | 503 | the database (or SNS, for a certificate) cannot be reached: providers retry |

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use candor_platform::metrics::Metrics;
use prometheus::{IntCounterVec, Opts};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::certificates::{FetchError, SnsCertificates};
use super::credentials::{DeliveryReportsConfig, ReportToken, TopicArns};
use super::sendgrid::WebhookKey;
use super::sns::{Envelope, Kind, MESSAGE_TYPE_HEADER};
use super::{Malformed, Parsed, arf, dsn, sendgrid, ses};
use crate::domain::reports::DeliveryReport;
use crate::metrics::DeliveryReportMetrics;
use crate::store::reports::{ReportError, ReportOutcome, record_delivery_report};

/// Largest body accepted (a bounce returning a large email is cut by most
/// MTAs well below this).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Longest a request may take, body upload included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The intake's state, shared by its handlers.
#[derive(Clone)]
pub struct Intake {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    soft_bounce_max_retries: u32,
    token: Option<ReportToken>,
    ses: Option<SesSettings>,
    sendgrid: Option<WebhookKey>,
    report_metrics: DeliveryReportMetrics,
    requests: IntCounterVec,
}

struct SesSettings {
    topics: TopicArns,
    certificates: Arc<SnsCertificates>,
}

impl Intake {
    /// The intake for `config`, recording into `pool` (soft bounces
    /// retried `soft_bounce_max_retries` times), counting the reports into
    /// `report_metrics` and the requests into `metrics`.
    pub fn new(
        config: &DeliveryReportsConfig,
        pool: PgPool,
        soft_bounce_max_retries: u32,
        report_metrics: DeliveryReportMetrics,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let ses = if config.ses_sns_topic_arns.is_empty() {
            None
        } else {
            Some(SesSettings {
                topics: config.ses_sns_topic_arns.clone(),
                certificates: Arc::new(SnsCertificates::new(
                    config.ses_sns_certificate_hosts.clone(),
                    config.ses_sns_ca_file.as_deref(),
                )?),
            })
        };
        let requests = metrics.register(IntCounterVec::new(
            Opts::new(
                "candor_notification_delivery_report_requests_total",
                "Requests to the delivery-report HTTP intake, by endpoint (dsn, arf, ses, sendgrid) and answer status; the reports in them are counted in candor_notification_delivery_reports_total.",
            ),
            &["source", "status"],
        )?)?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                soft_bounce_max_retries,
                token: config.delivery_reports_token.as_ref().map(ReportToken::new),
                ses,
                sendgrid: config.sendgrid_webhook_public_key.0.clone(),
                report_metrics,
                requests,
            }),
        })
    }

    /// The endpoints that are on, for the start-up log line.
    pub fn endpoints(&self) -> Vec<&'static str> {
        let mut on = Vec::new();
        if self.inner.token.is_some() {
            on.extend(["dsn", "arf"]);
        }
        if self.inner.ses.is_some() {
            on.push("ses");
        }
        if self.inner.sendgrid.is_some() {
            on.push("sendgrid");
        }
        on
    }

    /// The HTTP routes with their limits.
    pub fn router(self) -> axum::Router {
        axum::Router::new()
            .route("/delivery-reports/dsn", post(post_dsn))
            .route("/delivery-reports/arf", post(post_arf))
            .route("/delivery-reports/ses", post(post_ses))
            .route("/delivery-reports/sendgrid", post(post_sendgrid))
            // A Content-Length over the limit is refused before the body is
            // read; a body that grows past it while read, when it does.
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(tower_http::limit::RequestBodyLimitLayer::new(
                MAX_BODY_BYTES,
            ))
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                REQUEST_TIMEOUT,
            ))
            .with_state(self)
    }

    /// Counts a request's answer.
    fn answered(&self, source: &'static str, response: Response) -> Response {
        self.inner
            .requests
            .with_label_values(&[source, response.status().as_str()])
            .inc();
        response
    }

    /// Records every report of `parsed`. A database failure stops at the
    /// first (503: the provider retries the whole body, and what was
    /// recorded is then a duplicate); a report the store refuses does not
    /// stop the others, and the answer is 400 naming it.
    async fn record(&self, source: &'static str, parsed: Parsed) -> Result<Response, Rejection> {
        if parsed.ignored > 0 {
            tracing::debug!(
                source,
                ignored = parsed.ignored,
                "entries that report no bounce or complaint ignored"
            );
        }
        let mut refused = Vec::new();
        for report in &parsed.reports {
            if let Err(reason) = record_one(self, report).await? {
                refused.push(reason);
            }
        }
        if refused.is_empty() {
            Ok(StatusCode::NO_CONTENT.into_response())
        } else {
            Err(Rejection::Malformed(Malformed::new(refused.join("; "))))
        }
    }

    /// The bearer check of DSN and ARF.
    fn check_token(&self, headers: &HeaderMap) -> Result<(), Rejection> {
        let token = self.inner.token.as_ref().ok_or(Rejection::Off)?;
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        if token.admits(authorization) {
            return Ok(());
        }
        Err(Rejection::Unauthorized(
            "a valid `authorization: Bearer` DELIVERY_REPORTS_TOKEN is required".to_owned(),
        ))
    }
}

/// Records one report, counts it and logs it by id: `Ok(Ok(()))` when it
/// was applied, a duplicate or unmatched (acknowledged: a provider would
/// retry an error for days about an email this service never sent),
/// `Ok(Err(reason))` when the store refuses one of its fields, and 503 when
/// the database fails, so that the provider retries.
async fn record_one(
    intake: &Intake,
    report: &DeliveryReport,
) -> Result<Result<(), String>, Rejection> {
    let inner = &intake.inner;
    let report = within_clock_skew(report);
    let result = record_delivery_report(&inner.pool, &report, inner.soft_bounce_max_retries).await;
    inner
        .report_metrics
        .count(&report.source, report.kind, &result);
    let (source, report_id) = (report.source.as_str(), report.report_id.as_str());
    match result {
        Ok(ReportOutcome::Applied { job_id, state }) => {
            tracing::info!(source, report_id, %job_id, state = state.as_str(), "delivery report applied");
            Ok(Ok(()))
        }
        Ok(ReportOutcome::Duplicate { job_id }) => {
            tracing::info!(source, report_id, job_id = ?job_id, "delivery report already recorded");
            Ok(Ok(()))
        }
        Ok(ReportOutcome::Unmatched) => {
            tracing::warn!(
                source,
                report_id,
                "delivery report matches no email of this service; acknowledged"
            );
            Ok(Ok(()))
        }
        Err(ReportError::Invalid(invalid)) => {
            tracing::warn!(source, report_id, error = %invalid, "delivery report refused");
            Ok(Err(format!("report {report_id}: {invalid}")))
        }
        Err(ReportError::Internal(error)) => {
            tracing::error!(source, report_id, error = %format!("{error:#}"), "cannot record a delivery report");
            Err(Rejection::Unavailable(
                "the report cannot be recorded now; retry later",
            ))
        }
    }
}

/// The report with an `occurred_at` ahead of this clock (a provider's clock
/// running fast) replaced by "when recorded", which the store refuses
/// past a few minutes.
fn within_clock_skew(report: &DeliveryReport) -> DeliveryReport {
    let mut report = report.clone();
    if report.occurred_at.is_some_and(|at| at > chrono::Utc::now()) {
        report.occurred_at = None;
    }
    report
}

/// Serves the intake on `listener` until `stop` is cancelled, then lets
/// requests in flight finish.
pub async fn serve(
    intake: Intake,
    listener: TcpListener,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!(
        addr = ?listener.local_addr().ok(),
        endpoints = ?intake.endpoints(),
        "delivery-report intake listening"
    );
    axum::serve(listener, intake.router())
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
        .context("delivery-report intake failed")
}

/// Parses a body on the blocking pool (a 1 MiB MIME message or JSON array
/// takes milliseconds).
async fn parse_off_runtime(
    body: Bytes,
    parse: fn(&[u8]) -> Result<Parsed, Malformed>,
) -> Result<Parsed, Rejection> {
    tokio::task::spawn_blocking(move || parse(&body))
        .await
        .map_err(|error| {
            Rejection::Internal(anyhow::Error::new(error).context("parsing a delivery report"))
        })?
        .map_err(Rejection::Malformed)
}

async fn post_dsn(State(intake): State<Intake>, headers: HeaderMap, body: Bytes) -> Response {
    bearer_endpoint(intake, dsn::SOURCE, dsn::parse, headers, body).await
}

async fn post_arf(State(intake): State<Intake>, headers: HeaderMap, body: Bytes) -> Response {
    bearer_endpoint(intake, arf::SOURCE, arf::parse, headers, body).await
}

#[tracing::instrument(skip_all, fields(source = source))]
async fn bearer_endpoint(
    intake: Intake,
    source: &'static str,
    parse: fn(&[u8]) -> Result<Parsed, Malformed>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = async {
        intake.check_token(&headers)?;
        let parsed = parse_off_runtime(body, parse).await?;
        intake.record(source, parsed).await
    };
    let response = answer.await.unwrap_or_else(IntoResponse::into_response);
    intake.answered(source, response)
}

#[tracing::instrument(skip_all, fields(source = "sendgrid"))]
async fn post_sendgrid(State(intake): State<Intake>, headers: HeaderMap, body: Bytes) -> Response {
    let answer = async {
        let key = intake.inner.sendgrid.as_ref().ok_or(Rejection::Off)?;
        let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        if let Err(rejected) = key.verify(
            text(sendgrid::SIGNATURE_HEADER),
            text(sendgrid::TIMESTAMP_HEADER),
            &body,
            chrono::Utc::now(),
        ) {
            return Err(Rejection::Unauthorized(rejected.to_string()));
        }
        let parsed = parse_off_runtime(body, sendgrid::parse).await?;
        intake.record(sendgrid::SOURCE, parsed).await
    };
    let response = answer.await.unwrap_or_else(IntoResponse::into_response);
    intake.answered(sendgrid::SOURCE, response)
}

#[tracing::instrument(skip_all, fields(source = "ses", sns_message_id))]
async fn post_ses(State(intake): State<Intake>, headers: HeaderMap, body: Bytes) -> Response {
    let answer = async {
        let settings = intake.inner.ses.as_ref().ok_or(Rejection::Off)?;
        let envelope = Envelope::parse(&body).map_err(Rejection::Malformed)?;
        tracing::Span::current().record("sns_message_id", envelope.message_id.as_str());
        let declared = headers
            .get(MESSAGE_TYPE_HEADER)
            .and_then(|value| value.to_str().ok());
        if declared.is_some_and(|declared| declared != envelope.kind_name) {
            return Err(Rejection::Malformed(Malformed::new(format!(
                "{MESSAGE_TYPE_HEADER} does not match the message's Type"
            ))));
        }
        if !settings.topics.contains(&envelope.topic_arn) {
            return Err(Rejection::Forbidden(
                "TopicArn is not one of SES_SNS_TOPIC_ARNS",
            ));
        }
        let key = settings
            .certificates
            .signing_key(&envelope.signing_cert_url)
            .await
            .map_err(fetch_rejection)?;
        if let Err(rejected) = envelope.verify(&key) {
            return Err(Rejection::Unauthorized(rejected.to_string()));
        }
        match envelope.kind().map_err(Rejection::Malformed)? {
            Kind::Notification => {
                let parsed = ses::parse(&envelope.message_id, &envelope.message)
                    .map_err(Rejection::Malformed)?;
                intake.record(ses::SOURCE, parsed).await
            }
            Kind::SubscriptionConfirmation => {
                let url = envelope.subscribe_url.as_deref().unwrap_or_default();
                settings
                    .certificates
                    .confirm(url)
                    .await
                    .map_err(fetch_rejection)?;
                tracing::info!(topic_arn = %envelope.topic_arn, "sns subscription confirmed");
                Ok((StatusCode::OK, "subscription confirmed\n").into_response())
            }
            Kind::UnsubscribeConfirmation => {
                tracing::warn!(topic_arn = %envelope.topic_arn, "sns subscription deleted: SES reports from this topic stop");
                Ok(StatusCode::NO_CONTENT.into_response())
            }
        }
    };
    let response = answer.await.unwrap_or_else(IntoResponse::into_response);
    intake.answered(ses::SOURCE, response)
}

/// A certificate or confirmation fetch that failed: not from SNS (401), or
/// SNS away (503, so SNS retries).
fn fetch_rejection(error: FetchError) -> Rejection {
    match error {
        FetchError::NotAllowed(_) | FetchError::Unusable(_) => {
            Rejection::Unauthorized(error.to_string())
        }
        FetchError::Unreachable(cause) => {
            tracing::warn!(error = %format!("{cause:#}"), "cannot fetch from sns");
            Rejection::Unavailable("SNS cannot be reached; retry later")
        }
    }
}

/// Why a request is refused, and its answer.
#[derive(Debug, thiserror::Error)]
enum Rejection {
    #[error("not found")]
    Off,
    #[error(transparent)]
    Malformed(Malformed),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    Unavailable(&'static str),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Off => StatusCode::NOT_FOUND,
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "delivery report failed");
                return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
            }
        };
        let mut response = (status, format!("{self}\n")).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
        }
        response
    }
}
