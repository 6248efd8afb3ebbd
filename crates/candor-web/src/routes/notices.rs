//! `/account/notices`: the signed-in member's security notices
//! (ListNotices), each with a button that records it as read
//! (AcknowledgeNotice).

use axum::Form;
use axum::extract::State;
use axum::response::Response;
use candor_proto::account::v1::{AcknowledgeNoticeRequest, ListNoticesRequest, SecurityNotice};
use http::StatusCode;
use minijinja::context;
use serde::{Deserialize, Serialize};
use tonic::Code;

use super::when;
use crate::AppState;
use crate::browser::{Browser, sign_in_path};
use crate::errors::PageError;

const PATH: &str = "/account/notices";

#[derive(Deserialize)]
pub struct AcknowledgeForm {
    #[serde(default)]
    incident_id: String,
}

/// One notice as the page shows it.
#[derive(Serialize)]
struct NoticeView {
    incident_id: String,
    title: String,
    summary: String,
    discovered: String,
    password_reset_required: bool,
    thread_path: Option<String>,
    raised: String,
    acknowledged: Option<String>,
    recommended_actions: Vec<String>,
}

fn view(notice: SecurityNotice) -> NoticeView {
    let incident = notice.incident.unwrap_or_default();
    let in_app = notice.in_app_notice.unwrap_or_default();
    NoticeView {
        incident_id: notice.incident_id,
        title: incident.title,
        summary: incident.summary,
        discovered: when(incident.discovered_at.as_ref()),
        password_reset_required: notice.password_reset_required,
        // The thread on this site, whatever host the service put in the URL.
        thread_path: notice
            .thread_url
            .find("/forum/threads/")
            .map(|start| notice.thread_url[start..].to_owned()),
        raised: when(in_app.raised_at.as_ref()),
        acknowledged: in_app.acknowledged_at.as_ref().map(|at| when(Some(at))),
        recommended_actions: incident.recommended_actions,
    }
}

#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>, browser: Browser) -> Result<Response, PageError> {
    let Some(session) = browser.session.clone() else {
        return Ok(browser.redirect(&sign_in_path(PATH)));
    };
    let request = state.backend.request(
        ListNoticesRequest {
            include_acknowledged: true,
        },
        &browser.forwarded_for,
        Some(&session),
    );
    let notices: Vec<NoticeView> = match state.backend.account().list_notices(request).await {
        Ok(response) => response
            .into_inner()
            .notices
            .into_iter()
            .map(view)
            .collect(),
        Err(status) if status.code() == Code::Unauthenticated => {
            return Ok(browser.redirect(&sign_in_path(PATH)));
        }
        // An account service older than the notices (contract 1.1.0).
        Err(status) if status.code() == Code::Unimplemented => Vec::new(),
        Err(status) => return Err(PageError::from_status(&status, "ListNotices")),
    };
    Ok(browser.page(
        &state.csrf,
        StatusCode::OK,
        "notices.html",
        context! { notices => notices },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn acknowledge(
    State(state): State<AppState>,
    browser: Browser,
    Form(form): Form<AcknowledgeForm>,
) -> Result<Response, PageError> {
    let Some(session) = browser.session.clone() else {
        return Ok(browser.redirect(&sign_in_path(PATH)));
    };
    let request = state.backend.request(
        AcknowledgeNoticeRequest {
            incident_id: form.incident_id,
        },
        &browser.forwarded_for,
        Some(&session),
    );
    match state.backend.account().acknowledge_notice(request).await {
        Ok(_) => Ok(browser.redirect(PATH)),
        Err(status) if status.code() == Code::Unauthenticated => {
            Ok(browser.redirect(&sign_in_path(PATH)))
        }
        Err(status) => Err(PageError::from_status(&status, "AcknowledgeNotice")),
    }
}
