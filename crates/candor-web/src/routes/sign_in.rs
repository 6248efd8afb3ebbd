//! `/account/sign-in` (Login), `/account/sign-out` (Logout) and
//! `/account/change-password` (ChangePassword), where a login that must
//! change its password first is led, and where a signed-in member changes
//! theirs.

use std::time::SystemTime;

use axum::Form;
use axum::extract::{Query, State};
use axum::response::Response;
use candor_proto::account::v1::{
    ChangePasswordRequest, LoginRequest, LogoutRequest, Session, login_response,
};
use http::StatusCode;
use minijinja::context;
use serde::Deserialize;
use tonic::Code;

use super::reset_password::capitalise;
use super::{FormErrors, link};
use crate::AppState;
use crate::browser::{Browser, local_path};
use crate::errors::{PageError, field_error};

/// Where a member lands after signing in when no page asked for it.
const HOME: &str = "/forum";

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
    next: Option<String>,
}

pub async fn form(
    State(state): State<AppState>,
    browser: Browser,
    Query(query): Query<NextQuery>,
) -> Response {
    let next = local_path(query.next.as_deref(), HOME).to_owned();
    browser.page(
        &state.csrf,
        StatusCode::OK,
        "sign_in.html",
        context! { email => "", next => next, errors => FormErrors::default() },
    )
}

#[tracing::instrument(skip_all)]
pub async fn sign_in(
    State(state): State<AppState>,
    mut browser: Browser,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let next = local_path(form.next.as_deref(), HOME).to_owned();
    let email = form.email.trim().to_owned();
    let request = state.backend.request(
        LoginRequest {
            email: email.clone(),
            password: form.password,
        },
        &browser.forwarded_for,
        None,
    );
    let response = match state.backend.account().login(request).await {
        Ok(response) => response.into_inner(),
        Err(status) if matches!(status.code(), Code::Unauthenticated | Code::InvalidArgument) => {
            return Ok(browser.page(
                &state.csrf,
                StatusCode::UNAUTHORIZED,
                "sign_in.html",
                context! {
                    email => email,
                    next => next,
                    errors => FormErrors::on(
                        "form",
                        "The email address or the password is wrong. If we told you to set a new password after a security incident, use \u{201c}Forgot your password?\u{201d}.",
                    ),
                },
            ));
        }
        Err(status) => return Err(PageError::from_status(&status, "Login")),
    };
    match response.result {
        Some(login_response::Result::Session(session)) => {
            sign_in_with(&mut browser, &session);
            if response.pending_notice_count == 0 {
                return Ok(browser.redirect(&next));
            }
            let count = response.pending_notice_count;
            let what = if count == 1 {
                "1 security notice is".to_owned()
            } else {
                format!("{count} security notices are")
            };
            Ok(browser.page(
                &state.csrf,
                StatusCode::OK,
                "message.html",
                context! {
                    title => "You are signed in",
                    paragraphs => [format!("{what} waiting for you. Please read them first.")],
                    pending_notice_count => count,
                    links => [
                        link("/account/notices", "Read your security notices"),
                        link(&next, "Continue"),
                    ],
                },
            ))
        }
        Some(login_response::Result::PasswordChangeRequired(required)) => {
            browser.remember_password_change(&required.password_change_token);
            Ok(browser.redirect(&format!(
                "/account/change-password?next={}",
                percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC)
            )))
        }
        None => Err(PageError::Internal(anyhow::anyhow!(
            "Login answered without a result"
        ))),
    }
}

#[tracing::instrument(skip_all)]
pub async fn sign_out(
    State(state): State<AppState>,
    mut browser: Browser,
) -> Result<Response, PageError> {
    if let Some(session) = browser.session.clone() {
        let request =
            state
                .backend
                .request(LogoutRequest {}, &browser.forwarded_for, Some(&session));
        match state.backend.account().logout(request).await {
            // Already ended elsewhere: signed out all the same.
            Ok(_) => {}
            Err(status) if status.code() == Code::Unauthenticated => {}
            Err(status) => return Err(PageError::from_status(&status, "Logout")),
        }
    }
    browser.sign_out();
    browser.forget_password_change();
    Ok(browser.page(
        &state.csrf,
        StatusCode::OK,
        "message.html",
        context! {
            title => "You are signed out",
            paragraphs => ["Your session has ended."],
            links => [link("/account/sign-in", "Sign in again"), link("/forum", "The forum")],
        },
    ))
}

pub async fn change_form(
    State(state): State<AppState>,
    browser: Browser,
    Query(query): Query<NextQuery>,
) -> Response {
    let next = local_path(query.next.as_deref(), HOME).to_owned();
    if browser.password_change.is_none() && browser.session.is_none() {
        let path = crate::browser::sign_in_path("/account/change-password");
        return browser.redirect(&path);
    }
    let required = browser.password_change.is_some();
    browser.page(
        &state.csrf,
        StatusCode::OK,
        "change_password.html",
        context! { next => next, required => required, errors => FormErrors::default() },
    )
}

#[tracing::instrument(skip_all)]
pub async fn change(
    State(state): State<AppState>,
    mut browser: Browser,
    Form(form): Form<ChangeForm>,
) -> Result<Response, PageError> {
    let next = local_path(form.next.as_deref(), HOME).to_owned();
    let Some(credential) = browser
        .password_change
        .clone()
        .or_else(|| browser.session.clone())
    else {
        return Ok(browser.redirect(&crate::browser::sign_in_path("/account/change-password")));
    };
    let required = browser.password_change.is_some();
    let again = |browser: Browser, status: StatusCode, errors: FormErrors| {
        browser.page(
            &state.csrf,
            status,
            "change_password.html",
            context! { next => next.clone(), required => required, errors => errors },
        )
    };
    if form.new_password != form.confirm_password {
        return Ok(again(
            browser,
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::on(
                "confirm_password",
                "The two new passwords are not the same.",
            ),
        ));
    }
    let request = state.backend.request(
        ChangePasswordRequest {
            current_password: form.current_password,
            new_password: form.new_password,
        },
        &browser.forwarded_for,
        Some(&credential),
    );
    match state.backend.account().change_password(request).await {
        Ok(response) => {
            let session = response
                .into_inner()
                .session
                .ok_or_else(|| anyhow::anyhow!("ChangePassword answered without a session"))?;
            sign_in_with(&mut browser, &session);
            Ok(browser.redirect(&next))
        }
        Err(status) => match status.code() {
            Code::InvalidArgument => {
                let (field, message) = match field_error(&status) {
                    Some((field, message)) if field == "current_password" => (field, message),
                    Some((_, message)) => ("new_password".to_owned(), message),
                    None => ("new_password".to_owned(), status.message().to_owned()),
                };
                Ok(again(
                    browser,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    FormErrors::on(&field, capitalise(&message)),
                ))
            }
            Code::Unauthenticated => Ok(again(
                browser,
                StatusCode::UNAUTHORIZED,
                FormErrors::on(
                    "current_password",
                    "The current password is wrong, or this form has expired: sign in again if it keeps failing.",
                ),
            )),
            _ => Err(PageError::from_status(&status, "ChangePassword")),
        },
    }
}

fn sign_in_with(browser: &mut Browser, session: &Session) {
    browser.sign_in(
        &session.session_token,
        session
            .expires_at
            .and_then(|at| SystemTime::try_from(at).ok()),
    );
}
