//! `/account/deactivate` (a signed-in member asks: RequestDeactivation
//! emails a confirmation link) and `/account/deactivate/confirm?token=…`
//! (the emailed link: a button that confirms, ConfirmDeactivation). The
//! confirmation is a POST, so opening the link — or a mail scanner
//! fetching it — changes nothing.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::Response;
use candor_proto::account::v1::{ConfirmDeactivationRequest, RequestDeactivationRequest};
use http::StatusCode;
use minijinja::context;
use serde::Deserialize;
use tonic::Code;

use super::reset_password::{TokenQuery, token_of};
use super::{link, when};
use crate::AppState;
use crate::browser::{Browser, sign_in_path};
use crate::errors::PageError;

const PATH: &str = "/account/deactivate";

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    token: String,
}

pub async fn form(State(state): State<AppState>, browser: Browser) -> Result<Response, PageError> {
    let member = match &browser.session {
        Some(session) => state.backend.member(session).await?,
        None => None,
    };
    let Some(member) = member else {
        return Ok(browser.redirect(&sign_in_path(PATH)));
    };
    Ok(browser.page(
        &state.csrf,
        StatusCode::OK,
        "deactivate.html",
        context! { display_name => member.display_name },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn request(
    State(state): State<AppState>,
    browser: Browser,
) -> Result<Response, PageError> {
    let Some(session) = browser.session.clone() else {
        return Ok(browser.redirect(&sign_in_path(PATH)));
    };
    let request = state.backend.request(
        RequestDeactivationRequest {},
        &browser.forwarded_for,
        Some(&session),
    );
    match state.backend.account().request_deactivation(request).await {
        Ok(response) => {
            let expires = when(response.get_ref().confirmation_expires_at.as_ref());
            Ok(browser.page(
                &state.csrf,
                StatusCode::OK,
                "message.html",
                context! {
                    title => "Check your email to confirm",
                    paragraphs => [
                        format!("We have sent a confirmation link to your email address. It works once, until {expires}."),
                        "Nothing changes until you confirm.".to_owned(),
                    ],
                    links => [link("/forum", "Back to the forum")],
                },
            ))
        }
        Err(status) => match status.code() {
            Code::Unauthenticated => Ok(browser.redirect(&sign_in_path(PATH))),
            Code::FailedPrecondition => Ok(browser.page(
                &state.csrf,
                StatusCode::CONFLICT,
                "message.html",
                context! {
                    title => "We cannot email you a confirmation",
                    paragraphs => ["Your account has no email address to confirm with. Ask our staff in the forum to deactivate it for you."],
                    links => [link("/forum", "The forum")],
                },
            )),
            _ => Err(PageError::from_status(&status, "RequestDeactivation")),
        },
    }
}

pub async fn confirm_form(
    State(state): State<AppState>,
    browser: Browser,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let token = token_of(query.token)?;
    Ok(browser.page(
        &state.csrf,
        StatusCode::OK,
        "deactivate_confirm.html",
        context! { token => token },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn confirm(
    State(state): State<AppState>,
    mut browser: Browser,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    let token = token_of(Some(form.token))?;
    let request = state.backend.request(
        ConfirmDeactivationRequest {
            deactivation_token: token,
        },
        &browser.forwarded_for,
        None,
    );
    match state.backend.account().confirm_deactivation(request).await {
        Ok(_) => {
            browser.sign_out();
            Ok(browser.page(
                &state.csrf,
                StatusCode::OK,
                "message.html",
                context! {
                    title => "Your account is deactivated",
                    paragraphs => [
                        "We have erased your email address and display name and signed you out everywhere. Your posts stay in the forum under \u{201c}former member\u{201d}.",
                        "Thank you for having been a member.",
                    ],
                    links => Vec::<super::Link>::new(),
                },
            ))
        }
        Err(status) if status.code() == Code::Unauthenticated => Ok(browser.page(
            &state.csrf,
            StatusCode::GONE,
            "message.html",
            context! {
                title => "This link no longer works",
                paragraphs => ["Deactivation links work for 24 hours. Sign in and ask for a new one."],
                links => [link(PATH, "Ask for a new link")],
            },
        )),
        Err(status) => Err(PageError::from_status(&status, "ConfirmDeactivation")),
    }
}
