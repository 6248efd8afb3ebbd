//! The routes, one file per group. The paths are those
//! `candor_platform::links::PublicLinks` puts in emails and posts.

use std::collections::BTreeMap;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use serde::Serialize;

use crate::AppState;

mod deactivate;
mod forum;
mod notices;
mod reset_password;
mod sign_in;

/// Every page route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/forum") }))
        .route(
            "/account/reset-password",
            get(reset_password::form).post(reset_password::request),
        )
        .route(
            "/account/reset-password/confirm",
            get(reset_password::confirm_form).post(reset_password::confirm),
        )
        .route(
            "/account/sign-in",
            get(sign_in::form).post(sign_in::sign_in),
        )
        .route("/account/sign-out", post(sign_in::sign_out))
        .route(
            "/account/change-password",
            get(sign_in::change_form).post(sign_in::change),
        )
        .route(
            "/account/deactivate",
            get(deactivate::form).post(deactivate::request),
        )
        .route(
            "/account/deactivate/confirm",
            get(deactivate::confirm_form).post(deactivate::confirm),
        )
        .route("/account/notices", get(notices::list))
        .route("/account/notices/acknowledge", post(notices::acknowledge))
        .route("/forum", get(forum::index))
        .route("/forum/threads/{thread_id}", get(forum::thread))
        .route("/forum/threads/{thread_id}/posts", post(forum::create_post))
}

/// The error messages of a form, by field name (`form` for the whole form).
#[derive(Debug, Default, Serialize)]
pub struct FormErrors(BTreeMap<String, String>);

impl FormErrors {
    /// One error on `field`.
    pub fn on(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.0.insert(field.to_owned(), message.into());
        errors
    }
}

/// A link a message page offers.
#[derive(Debug, Serialize)]
pub struct Link {
    /// Where it leads (a path of this site).
    pub href: String,
    /// What it says.
    pub text: String,
}

/// A link to `href` saying `text`.
pub fn link(href: &str, text: &str) -> Link {
    Link {
        href: href.to_owned(),
        text: text.to_owned(),
    }
}

/// A protobuf timestamp as a reader sees it (`6 December 2026, 11:50 UTC`).
pub fn when(timestamp: Option<&prost_types::Timestamp>) -> String {
    timestamp
        .and_then(|timestamp| {
            chrono::DateTime::from_timestamp(timestamp.seconds, timestamp.nanos.max(0) as u32)
        })
        .map(|time| time.format("%-d %B %Y, %H:%M UTC").to_string())
        .unwrap_or_default()
}
