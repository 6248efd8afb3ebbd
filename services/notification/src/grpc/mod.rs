//! The NotificationService gRPC API: this file only routes each RPC to its
//! file (named after it) and answers its error through the platform's
//! error-kind table.

mod convert;
mod get_delivery;
mod get_incident_progress;
mod list_deliveries;
mod record_delivery_report;
mod render_breach_notice;
mod retry_failed_notices;
mod sample;
mod send_email;
mod send_test_notice;

use std::sync::Arc;

use candor_platform::auth::admitted;
use candor_platform::grpc::respond;
use candor_proto::notification::v1::notification_service_server::NotificationService;
use candor_proto::notification::v1::{
    GetDeliveryRequest, GetDeliveryResponse, GetIncidentProgressRequest,
    GetIncidentProgressResponse, ListDeliveriesRequest, ListDeliveriesResponse,
    RecordDeliveryReportRequest, RecordDeliveryReportResponse, RenderBreachNoticeRequest,
    RenderBreachNoticeResponse, RetryFailedNoticesRequest, RetryFailedNoticesResponse,
    SendEmailRequest, SendEmailResponse, SendTestNoticeRequest, SendTestNoticeResponse,
};
use sqlx::PgPool;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use crate::metrics::DeliveryReportMetrics;
use crate::notice::Renderer;
use crate::smtp::SmtpPool;

/// The gRPC service.
pub struct NotificationApi {
    pool: PgPool,
    renderer: Arc<Renderer>,
    /// The sender's SMTP connections, which test notices go through too.
    smtp: Arc<SmtpPool>,
    /// Wakes the sender when a transactional email is queued.
    wake: Arc<Notify>,
    /// SOFT_BOUNCE_MAX_RETRIES, for RecordDeliveryReport.
    soft_bounce_max_retries: u32,
    /// Counts the delivery reports RecordDeliveryReport records.
    report_metrics: DeliveryReportMetrics,
}

impl NotificationApi {
    pub fn new(
        pool: PgPool,
        renderer: Arc<Renderer>,
        smtp: Arc<SmtpPool>,
        wake: Arc<Notify>,
        reports: DeliveryReportSettings,
    ) -> Self {
        Self {
            pool,
            renderer,
            smtp,
            wake,
            soft_bounce_max_retries: reports.soft_bounce_max_retries,
            report_metrics: reports.metrics,
        }
    }
}

/// How RecordDeliveryReport records reports.
#[derive(Clone)]
pub struct DeliveryReportSettings {
    /// SOFT_BOUNCE_MAX_RETRIES.
    pub soft_bounce_max_retries: u32,
    /// Where the reports are counted.
    pub metrics: DeliveryReportMetrics,
}

#[tonic::async_trait]
impl NotificationService for NotificationApi {
    #[tracing::instrument(skip_all, fields(rpc = "SendEmail"))]
    async fn send_email(
        &self,
        request: Request<SendEmailRequest>,
    ) -> Result<Response<SendEmailResponse>, Status> {
        admitted(&request)?;
        respond(send_email::send_email(self, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetDelivery"))]
    async fn get_delivery(
        &self,
        request: Request<GetDeliveryRequest>,
    ) -> Result<Response<GetDeliveryResponse>, Status> {
        admitted(&request)?;
        respond(get_delivery::get_delivery(&self.pool, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListDeliveries"))]
    async fn list_deliveries(
        &self,
        request: Request<ListDeliveriesRequest>,
    ) -> Result<Response<ListDeliveriesResponse>, Status> {
        admitted(&request)?;
        respond(list_deliveries::list_deliveries(&self.pool, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetIncidentProgress"))]
    async fn get_incident_progress(
        &self,
        request: Request<GetIncidentProgressRequest>,
    ) -> Result<Response<GetIncidentProgressResponse>, Status> {
        admitted(&request)?;
        respond(
            get_incident_progress::get_incident_progress(&self.pool, request.into_inner()).await,
        )
    }

    #[tracing::instrument(skip_all, fields(rpc = "RenderBreachNotice"))]
    async fn render_breach_notice(
        &self,
        request: Request<RenderBreachNoticeRequest>,
    ) -> Result<Response<RenderBreachNoticeResponse>, Status> {
        admitted(&request)?;
        respond(render_breach_notice::render_breach_notice(
            &self.renderer,
            request.into_inner(),
        ))
    }

    #[tracing::instrument(skip_all, fields(rpc = "RetryFailedNotices"))]
    async fn retry_failed_notices(
        &self,
        request: Request<RetryFailedNoticesRequest>,
    ) -> Result<Response<RetryFailedNoticesResponse>, Status> {
        admitted(&request)?;
        respond(retry_failed_notices::retry_failed_notices(self, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, fields(rpc = "SendTestNotice"))]
    async fn send_test_notice(
        &self,
        request: Request<SendTestNoticeRequest>,
    ) -> Result<Response<SendTestNoticeResponse>, Status> {
        admitted(&request)?;
        respond(
            send_test_notice::send_test_notice(&self.renderer, &self.smtp, request.into_inner())
                .await,
        )
    }

    #[tracing::instrument(skip_all, fields(rpc = "RecordDeliveryReport"))]
    async fn record_delivery_report(
        &self,
        request: Request<RecordDeliveryReportRequest>,
    ) -> Result<Response<RecordDeliveryReportResponse>, Status> {
        admitted(&request)?;
        respond(record_delivery_report::record_delivery_report(self, request.into_inner()).await)
    }
}
