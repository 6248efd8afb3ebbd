//! CSRF protection for every POST: each form carries a token that is an
//! HMAC-SHA256, under `WEB_COOKIE_KEY`, of the browser's random nonce
//! cookie and of the member's session cookie (when signed in). Another site
//! can make the browser send the cookies but can neither read them nor the
//! page, nor compute the HMAC without the key; signing in or out changes the
//! token. [`require_token`] checks it, in constant time, before any POST
//! handler runs.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use super::cookies;
use crate::errors::PageError;

/// The form field every POST carries its token in.
pub const FIELD: &str = "csrf_token";

/// Largest form body read (a forum post is at most 20,000 characters).
pub const MAX_FORM_BYTES: usize = 128 * 1024;

/// The key CSRF tokens are derived from.
#[derive(Clone)]
pub struct CsrfKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CsrfKey { .. }")
    }
}

impl CsrfKey {
    /// Derives the HMAC key from `WEB_COOKIE_KEY`.
    pub fn new(secret: &SecretString) -> Self {
        let key = Sha256::new()
            .chain_update(b"candor-web csrf key v1\0")
            .chain_update(secret.expose_secret().as_bytes())
            .finalize()
            .to_vec();
        Self { key }
    }

    /// The token of the forms a browser with `nonce` (and `session`, when
    /// signed in) is shown.
    pub fn token(&self, nonce: &str, session: Option<&str>) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(nonce, session))
    }

    /// True when `presented` is the token of `nonce` and `session`; compared
    /// in constant time.
    pub fn verify(&self, nonce: &str, session: Option<&str>, presented: &str) -> bool {
        let Ok(presented) = URL_SAFE_NO_PAD.decode(presented.trim()) else {
            return false;
        };
        let expected = self.mac(nonce, session);
        presented.len() == expected.len() && bool::from(expected.ct_eq(&presented))
    }

    fn mac(&self, nonce: &str, session: Option<&str>) -> [u8; 32] {
        // A session token is hashed first so that the MAC input has a fixed
        // shape whatever the cookie holds.
        let session_digest = Sha256::digest(session.unwrap_or_default().as_bytes());
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            // HMAC takes keys of any length; this branch cannot run.
            return [0; 32];
        };
        mac.update(b"csrf v1\0");
        mac.update(nonce.as_bytes());
        mac.update(b"\0");
        mac.update(&session_digest);
        mac.finalize().into_bytes().into()
    }
}

/// A new random nonce for the CSRF cookie: 256 bits, base64url.
pub fn new_nonce() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Refuses every POST whose form lacks the token of the browser's nonce and
/// session cookies, with 403 and a page saying to reload the form. Other
/// methods pass untouched. The body is read here (at most
/// [`MAX_FORM_BYTES`]) and handed on to the handler.
pub async fn require_token(State(key): State<CsrfKey>, request: Request, next: Next) -> Response {
    if request.method() != http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return PageError::BadRequest("The form is too large.".to_owned()).into_response();
    };
    let nonce = cookies::read(&parts.headers, cookies::CSRF_NONCE);
    let session = cookies::read(&parts.headers, cookies::SESSION);
    let presented = url::form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == FIELD)
        .map(|(_, value)| value.into_owned());
    let valid = match (&nonce, &presented) {
        (Some(nonce), Some(presented)) => key.verify(nonce, session.as_deref(), presented),
        _ => false,
    };
    if !valid {
        tracing::info!(
            path = parts.uri.path(),
            "post refused: missing or wrong csrf token"
        );
        return PageError::Csrf.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> CsrfKey {
        CsrfKey::new(&SecretString::from(secret))
    }

    #[test]
    fn a_token_is_bound_to_the_key_the_nonce_and_the_session() {
        let key = key("a-cookie-key-of-at-least-32-characters");
        let token = key.token("nonce-1", None);
        assert!(key.verify("nonce-1", None, &token));
        assert!(!key.verify("nonce-2", None, &token));
        assert!(!key.verify("nonce-1", Some("session"), &token));
        let signed_in = key.token("nonce-1", Some("session"));
        assert!(key.verify("nonce-1", Some("session"), &signed_in));
        assert!(!key.verify("nonce-1", Some("other"), &signed_in));
        let other_key = self::key("another-cookie-key-of-at-least-32-chars");
        assert!(!other_key.verify("nonce-1", None, &token));
    }

    #[test]
    fn garbage_and_empty_tokens_are_refused() {
        let key = key("a-cookie-key-of-at-least-32-characters");
        for presented in ["", "not base64 !", "AAAA"] {
            assert!(!key.verify("nonce", None, presented), "{presented}");
        }
        assert_ne!(new_nonce(), new_nonce());
        assert_eq!(new_nonce().len(), 43);
    }
}
