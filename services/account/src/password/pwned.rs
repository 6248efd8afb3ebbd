//! The optional Pwned Passwords range check (Have I Been Pwned's k-anonymity
//! protocol): the first five hex digits of the password's SHA-1 go to
//! `GET {PWNED_PASSWORDS_URL}/range/{prefix}`; the answer lists the
//! remaining 35 digits of every breached hash with that prefix and a count
//! (`SUFFIX:COUNT` lines; `Add-Padding` asks for padding lines with count 0
//! so the answer's size says nothing either). The password itself and its
//! full hash never leave the service.
//!
//! Off unless `PWNED_PASSWORDS_URL` is set. Fail open: a timeout
//! (`PWNED_PASSWORDS_TIMEOUT_MS`), a connection error, a non-200 answer or
//! an unreadable body lets the password through with a warning in the log,
//! because an outage of a third party must not stop members from
//! registering or changing a password; the bundled corpus is always
//! checked.

use std::time::Duration;

use anyhow::Context as _;
use sha1::{Digest as _, Sha1};

/// Largest range answer read (real ones are about 30 KB, padded 40 KB).
const MAX_RANGE_BYTES: u64 = 1024 * 1024;

/// A configured range API.
#[derive(Debug, Clone)]
pub struct PwnedRange {
    base_url: String,
    agent: ureq::Agent,
}

impl PwnedRange {
    /// A client for `base_url` (no trailing slash) that gives up after
    /// `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(true)
            .user_agent("candor-account")
            .build()
            .new_agent();
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    /// How many times the range API has seen `password` in breaches
    /// (0: not seen). Blocking: run it off the async runtime.
    pub fn times_seen(&self, password: &str) -> anyhow::Result<u64> {
        let digest = hex::encode_upper(Sha1::digest(password.as_bytes()));
        let (prefix, suffix) = digest.split_at(5);
        let url = format!("{}/range/{prefix}", self.base_url);
        let mut response = self
            .agent
            .get(&url)
            .header("Add-Padding", "true")
            .call()
            .with_context(|| format!("GET {}/range/<prefix>", self.base_url))?;
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RANGE_BYTES)
            .read_to_string()
            .context("reading the range answer")?;
        Ok(count_in_range(&body, suffix))
    }

    /// [`PwnedRange::times_seen`] on the blocking pool; an error is logged
    /// and counts as "not seen" (fail open).
    pub async fn seen(&self, password: &str) -> bool {
        let client = self.clone();
        let password = password.to_owned();
        match tokio::task::spawn_blocking(move || client.times_seen(&password)).await {
            Ok(Ok(count)) => count > 0,
            Ok(Err(error)) => {
                tracing::warn!(error = %format!("{error:#}"), "pwned passwords range check failed; password accepted (fail open)");
                false
            }
            Err(error) => {
                tracing::warn!(%error, "pwned passwords range check panicked; password accepted (fail open)");
                false
            }
        }
    }
}

/// The count on the line whose suffix is `suffix` (upper-case hex), or 0.
fn count_in_range(body: &str, suffix: &str) -> u64 {
    body.lines()
        .filter_map(|line| line.trim().split_once(':'))
        .find(|(candidate, _)| candidate.eq_ignore_ascii_case(suffix))
        .and_then(|(_, count)| count.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    /// A one-route HTTP server answering `/range/{prefix}` from `breached`
    /// (full upper-case SHA-1 hex strings with counts), plus a padding line;
    /// records the paths it was asked for. `delay` holds every answer.
    async fn range_server(
        breached: Vec<(String, u64)>,
        delay: Duration,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (paths, asked) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let breached = breached.clone();
                let paths = paths.clone();
                tokio::spawn(async move {
                    let mut request = vec![0; 4096];
                    let read = socket.read(&mut request).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&request[..read]).to_string();
                    let path = request
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    let padded = request.to_ascii_lowercase().contains("add-padding: true");
                    paths.send(path.clone()).ok();
                    tokio::time::sleep(delay).await;
                    let prefix = path.trim_start_matches("/range/");
                    let mut body = String::new();
                    for (hash, count) in &breached {
                        if let Some(suffix) = hash.strip_prefix(prefix) {
                            body.push_str(&format!("{suffix}:{count}\r\n"));
                        }
                    }
                    if padded {
                        body.push_str("0000000000000000000000000000000000A:0\r\n");
                    }
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    socket.write_all(answer.as_bytes()).await.ok();
                    socket.shutdown().await.ok();
                });
            }
        });
        (format!("http://{address}"), asked)
    }

    fn sha1_upper(password: &str) -> String {
        hex::encode_upper(Sha1::digest(password.as_bytes()))
    }

    #[tokio::test]
    async fn a_breached_password_is_found_by_its_prefix_only() {
        let breached = "Tr0ub4dor&3 but longer";
        let (url, mut asked) = range_server(vec![(sha1_upper(breached), 42)], Duration::ZERO).await;
        let range = PwnedRange::new(&url, Duration::from_secs(5));
        assert!(range.seen(breached).await);
        let path = asked.recv().await.unwrap();
        assert_eq!(path, format!("/range/{}", &sha1_upper(breached)[..5]));
        assert!(
            !path.contains(&sha1_upper(breached)[5..]),
            "only the prefix is sent"
        );
        assert!(!range.seen("a passphrase nobody has used 7316").await);
    }

    #[tokio::test]
    async fn a_slow_or_missing_service_fails_open() {
        let breached = "slow breached password";
        let (url, _asked) =
            range_server(vec![(sha1_upper(breached), 7)], Duration::from_secs(3)).await;
        let range = PwnedRange::new(&url, Duration::from_millis(200));
        let started = std::time::Instant::now();
        assert!(
            !range.seen(breached).await,
            "a timeout lets the password through"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );

        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        assert!(
            !PwnedRange::new(&url, Duration::from_secs(1))
                .seen(breached)
                .await
        );
    }

    #[test]
    fn counts_are_read_from_the_matching_line() {
        let body =
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:2\r\n";
        assert_eq!(
            count_in_range(body, "00D4F6E8FA6EECAD2A3AA415EEC418D38EC"),
            2
        );
        assert_eq!(
            count_in_range(body, "FFFFF6E8FA6EECAD2A3AA415EEC418D38EC"),
            0
        );
    }
}
