//! The cookies of the site. Every one is `__Host-` prefixed (so only this
//! host over HTTPS can set it: no sibling subdomain can plant one), `Secure`,
//! `HttpOnly` (no script reads it) and `SameSite=Lax` (not sent with
//! another site's POST), with `Path=/`.

use std::time::Duration;

use http::HeaderValue;
use http::header::COOKIE;

/// The member's session token (from Login, ChangePassword or ResetPassword).
pub const SESSION: &str = "__Host-candor-session";
/// The short-lived password-change token of a login that must change its
/// password first.
pub const PASSWORD_CHANGE: &str = "__Host-candor-password-change";
/// The random nonce the forms' CSRF tokens are bound to.
pub const CSRF_NONCE: &str = "__Host-candor-csrf";

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn read(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` value for `name=value`, kept for `max_age` (or for the
/// browser session when `None`).
pub fn set(name: &str, value: &str, max_age: Option<Duration>) -> Option<HeaderValue> {
    let lifetime = max_age
        .map(|age| format!("; Max-Age={}", age.as_secs()))
        .unwrap_or_default();
    HeaderValue::try_from(format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax{lifetime}"
    ))
    .ok()
}

/// A `Set-Cookie` value that removes cookie `name`.
pub fn clear(name: &str) -> HeaderValue {
    HeaderValue::try_from(format!(
        "{name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("candor=; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_several() {
        let mut headers = http::HeaderMap::new();
        headers.append(COOKIE, "a=1; __Host-candor-session=abc".parse().unwrap());
        headers.append(COOKIE, "__Host-candor-csrf=n0nce".parse().unwrap());
        assert_eq!(read(&headers, SESSION).as_deref(), Some("abc"));
        assert_eq!(read(&headers, CSRF_NONCE).as_deref(), Some("n0nce"));
        assert_eq!(read(&headers, PASSWORD_CHANGE), None);
    }

    #[test]
    fn every_cookie_is_secure_http_only_and_lax() {
        let value = set(SESSION, "t", Some(Duration::from_secs(60))).unwrap();
        let text = value.to_str().unwrap();
        for flag in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(text.contains(flag), "{text}");
        }
        assert!(clear(SESSION).to_str().unwrap().contains("Max-Age=0"));
    }
}
