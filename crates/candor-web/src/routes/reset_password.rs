//! `/account/reset-password` (ask for the email) and
//! `/account/reset-password/confirm?token=…` (the emailed link: set a new
//! password). The first answers the same whether or not the address has an
//! account; the second shows the password policy's error on its field.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::Response;
use candor_proto::account::v1::{RequestPasswordResetRequest, ResetPasswordRequest};
use http::StatusCode;
use minijinja::context;
use serde::Deserialize;
use tonic::Code;

use super::{FormErrors, link};
use crate::AppState;
use crate::browser::Browser;
use crate::errors::{PageError, field_error};

#[derive(Debug, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    email: String,
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    /// The token of the emailed link.
    pub token: Option<String>,
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

pub async fn form(State(state): State<AppState>, browser: Browser) -> Response {
    browser.page(
        &state.csrf,
        StatusCode::OK,
        "reset_request.html",
        context! { email => "", errors => FormErrors::default() },
    )
}

#[tracing::instrument(skip_all)]
pub async fn request(
    State(state): State<AppState>,
    browser: Browser,
    Form(form): Form<RequestForm>,
) -> Result<Response, PageError> {
    let email = form.email.trim().to_owned();
    let request = state.backend.request(
        RequestPasswordResetRequest {
            email: email.clone(),
        },
        &browser.forwarded_for,
        None,
    );
    match state.backend.account().request_password_reset(request).await {
        Ok(_) => Ok(browser.page(
            &state.csrf,
            StatusCode::OK,
            "message.html",
            context! {
                title => "Check your email",
                paragraphs => [
                    format!("If an account uses {email}, we have sent it a link to set a new password. The link works once, for one hour."),
                    "No email after a few minutes? Check your spam folder, or ask again: only the newest link works.".to_owned(),
                ],
                links => [link("/account/sign-in", "Sign in")],
            },
        )),
        Err(status) if status.code() == Code::InvalidArgument => Ok(browser.page(
            &state.csrf,
            StatusCode::UNPROCESSABLE_ENTITY,
            "reset_request.html",
            context! {
                email => email,
                errors => FormErrors::on("email", "Enter an email address, like name@example.com."),
            },
        )),
        Err(status) => Err(PageError::from_status(&status, "RequestPasswordReset")),
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
        "reset_confirm.html",
        context! { token => token, errors => FormErrors::default() },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn confirm(
    State(state): State<AppState>,
    mut browser: Browser,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    let token = token_of(Some(form.token))?;
    let again = |browser: Browser, errors: FormErrors| {
        browser.page(
            &state.csrf,
            StatusCode::UNPROCESSABLE_ENTITY,
            "reset_confirm.html",
            context! { token => token.clone(), errors => errors },
        )
    };
    if form.new_password != form.confirm_password {
        return Ok(again(
            browser,
            FormErrors::on("confirm_password", "The two passwords are not the same."),
        ));
    }
    let request = state.backend.request(
        ResetPasswordRequest {
            reset_token: token.clone(),
            new_password: form.new_password,
        },
        &browser.forwarded_for,
        None,
    );
    match state.backend.account().reset_password(request).await {
        Ok(response) => {
            let session = response
                .into_inner()
                .session
                .ok_or_else(|| anyhow::anyhow!("ResetPassword answered without a session"))?;
            browser.sign_in(
                &session.session_token,
                session
                    .expires_at
                    .and_then(|at| std::time::SystemTime::try_from(at).ok()),
            );
            Ok(browser.page(
                &state.csrf,
                StatusCode::OK,
                "message.html",
                context! {
                    title => "Your new password is set",
                    paragraphs => ["You are signed in. Every other session of your account has been signed out."],
                    links => [
                        link("/account/notices", "Your security notices"),
                        link("/forum", "The forum"),
                    ],
                },
            ))
        }
        Err(status) => match status.code() {
            Code::InvalidArgument => {
                let errors = match field_error(&status) {
                    Some((field, message)) if field == "new_password" => {
                        FormErrors::on("new_password", capitalise(&message))
                    }
                    _ => FormErrors::on("new_password", capitalise(status.message())),
                };
                Ok(again(browser, errors))
            }
            Code::Unauthenticated => Ok(browser.page(
                &state.csrf,
                StatusCode::GONE,
                "message.html",
                context! {
                    title => "This link no longer works",
                    paragraphs => ["Password reset links work once, for one hour, and only the newest one you asked for. Ask for a new link."],
                    links => [link("/account/reset-password", "Ask for a new link")],
                },
            )),
            _ => Err(PageError::from_status(&status, "ResetPassword")),
        },
    }
}

/// The token of an emailed link, or a page saying the link is incomplete.
pub fn token_of(token: Option<String>) -> Result<String, PageError> {
    token
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty() && token.len() <= 256)
        .ok_or_else(|| {
            PageError::BadRequest(
                "The link is incomplete: open it from the email again, or copy all of it."
                    .to_owned(),
            )
        })
}

/// A service message as a sentence (`must be…` becomes `Must be…`).
pub fn capitalise(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
