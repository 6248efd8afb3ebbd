//! The visitor's side of a request: their cookies (session, password-change
//! token, CSRF nonce), their address, and the cookies a response sets.
//! Handlers take a [`Browser`], change its cookies, and answer with
//! [`Browser::page`] or [`Browser::redirect`].

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use minijinja::context;

use crate::render;
use crate::security::cookies;
use crate::security::csrf::{CsrfKey, new_nonce};

/// How long a password-change token is kept (the account service's own
/// lifetime for it is 15 minutes).
const PASSWORD_CHANGE_COOKIE: Duration = Duration::from_secs(15 * 60);

/// The browser making a request.
#[derive(Debug)]
pub struct Browser {
    /// The member's session token, when the cookie is there (not validated).
    pub session: Option<String>,
    /// The password-change token of a login that must change its password.
    pub password_change: Option<String>,
    /// `x-forwarded-for` for the services: what the request came with, and
    /// the peer this server saw appended (each proxy appends its peer).
    pub forwarded_for: String,
    nonce: Option<String>,
    set_cookies: Vec<HeaderValue>,
}

impl<S: Send + Sync> FromRequestParts<S> for Browser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string());
        let mut hops: Vec<String> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .collect();
        hops.extend(peer);
        Ok(Self {
            session: cookies::read(&parts.headers, cookies::SESSION),
            password_change: cookies::read(&parts.headers, cookies::PASSWORD_CHANGE),
            forwarded_for: hops.join(", "),
            nonce: cookies::read(&parts.headers, cookies::CSRF_NONCE),
            set_cookies: Vec::new(),
        })
    }
}

impl Browser {
    /// Keeps `token` as the member's session until `expires_at`, and drops
    /// any password-change token.
    pub fn sign_in(&mut self, token: &str, expires_at: Option<SystemTime>) {
        let max_age = expires_at.and_then(|at| at.duration_since(SystemTime::now()).ok());
        self.set_cookies
            .extend(cookies::set(cookies::SESSION, token, max_age));
        self.session = Some(token.to_owned());
        self.forget_password_change();
    }

    /// Drops the member's session cookie.
    pub fn sign_out(&mut self) {
        self.set_cookies.push(cookies::clear(cookies::SESSION));
        self.session = None;
    }

    /// Keeps a password-change token for the change-password form.
    pub fn remember_password_change(&mut self, token: &str) {
        self.set_cookies.extend(cookies::set(
            cookies::PASSWORD_CHANGE,
            token,
            Some(PASSWORD_CHANGE_COOKIE),
        ));
        self.password_change = Some(token.to_owned());
    }

    /// Drops the password-change token.
    pub fn forget_password_change(&mut self) {
        if self.password_change.take().is_some() {
            self.set_cookies
                .push(cookies::clear(cookies::PASSWORD_CHANGE));
        }
    }

    /// The CSRF token of the forms on the page this browser is shown,
    /// giving it a nonce cookie first when it has none.
    pub fn csrf_token(&mut self, key: &CsrfKey) -> String {
        let nonce = match &self.nonce {
            Some(nonce) => nonce.clone(),
            None => {
                let nonce = new_nonce();
                self.set_cookies
                    .extend(cookies::set(cookies::CSRF_NONCE, &nonce, None));
                self.nonce = Some(nonce.clone());
                nonce
            }
        };
        key.token(&nonce, self.session.as_deref())
    }

    /// Renders `template` with `page` and what every page shows (the
    /// forms' CSRF token, whether a member is signed in).
    pub fn page(
        mut self,
        key: &CsrfKey,
        status: StatusCode,
        template: &str,
        page: minijinja::Value,
    ) -> Response {
        let csrf_token = self.csrf_token(key);
        let context = context! {
            csrf_token => csrf_token,
            signed_in => self.session.is_some(),
            ..page
        };
        let response = render::page(status, template, context);
        self.with_cookies(response)
    }

    /// A 303 to `location` (a path of this site).
    pub fn redirect(self, location: &str) -> Response {
        let response = match HeaderValue::try_from(location) {
            Ok(location) => {
                (StatusCode::SEE_OTHER, [(http::header::LOCATION, location)]).into_response()
            }
            Err(_) => StatusCode::BAD_REQUEST.into_response(),
        };
        self.with_cookies(response)
    }

    fn with_cookies(self, mut response: Response) -> Response {
        for cookie in self.set_cookies {
            response
                .headers_mut()
                .append(http::header::SET_COOKIE, cookie);
        }
        response
    }
}

/// `next` when it is a path of this site (`/…`, not `//…`), else `fallback`:
/// a sign-in link can only lead back here, never to another site.
pub fn local_path<'a>(next: Option<&'a str>, fallback: &'a str) -> &'a str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path
        }
        _ => fallback,
    }
}

/// The sign-in page's address, coming back to `next` afterwards.
pub fn sign_in_path(next: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC);
    format!("/account/sign-in?next={encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(
            local_path(Some("/forum/threads/1"), "/"),
            "/forum/threads/1"
        );
        for bad in ["https://evil.example", "//evil.example", "/\\evil", "evil"] {
            assert_eq!(local_path(Some(bad), "/forum"), "/forum", "{bad}");
        }
        assert_eq!(local_path(None, "/forum"), "/forum");
        assert_eq!(
            sign_in_path("/account/deactivate"),
            "/account/sign-in?next=%2Faccount%2Fdeactivate"
        );
    }
}
