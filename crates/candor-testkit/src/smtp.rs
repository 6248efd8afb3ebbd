//! An SMTP sink for tests, built on the `mailin` SMTP server library: it
//! speaks real SMTP on 127.0.0.1, records every accepted message, and can be
//! told to refuse chosen recipients temporarily (4xx) or permanently (5xx)
//! or to hold each acceptance for a while.
//!
//! [`SmtpSink::builder`] adds STARTTLS, implicit TLS (smtps) and AUTH
//! PLAIN/LOGIN, with a certificate authority made up when the sink starts
//! ([`SmtpSink::ca_file`] is what a client must trust).

mod tls;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use candor_platform::sync::lock;
use mailin_embedded::{AuthMechanism, Handler, Response, Server};

use crate::tls::TestPki;

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The raw RFC 5322 message: headers, blank line, body.
    pub data: Vec<u8>,
}

impl ReceivedMessage {
    /// The message as text (lossy for non-UTF-8 bytes).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The first header named `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = self.text();
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(current) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    current.push(' ');
                    current.push_str(line.trim());
                    continue;
                }
                break;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_owned());
            }
        }
        value
    }
}

/// How the sink answers `RCPT TO` for an address told to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 450: mailbox unavailable, try again later.
    Temporary,
    /// 550: no such mailbox.
    Permanent,
}

#[derive(Default)]
struct State {
    messages: Vec<ReceivedMessage>,
    refusals: HashMap<String, Refusal>,
    accept_delay: Duration,
}

/// SMTP connections the sink serves at once.
pub const SINK_CONNECTIONS: u32 = 32;

/// What a sink offers besides plain SMTP; see [`SmtpSink::builder`].
#[derive(Debug, Clone, Default)]
pub struct SmtpSinkBuilder {
    starttls: bool,
    implicit_tls: bool,
    credentials: Option<(String, String)>,
}

impl SmtpSinkBuilder {
    /// Offer STARTTLS (the certificate is for `127.0.0.1` and `localhost`).
    pub fn starttls(mut self) -> Self {
        self.starttls = true;
        self
    }

    /// Speak TLS from the first byte (smtps), instead of plain SMTP.
    pub fn implicit_tls(mut self) -> Self {
        self.implicit_tls = true;
        self
    }

    /// Require AUTH PLAIN or LOGIN with these credentials before MAIL FROM.
    /// The server (mailin) offers AUTH only after STARTTLS, so this needs
    /// [`Self::starttls`].
    pub fn credentials(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Starts the sink on a free port of 127.0.0.1.
    pub fn start(self) -> anyhow::Result<SmtpSink> {
        if self.credentials.is_some() && !self.starttls {
            anyhow::bail!("the SMTP sink offers AUTH only after STARTTLS");
        }
        if self.starttls && self.implicit_tls {
            anyhow::bail!("the SMTP sink offers either STARTTLS or implicit TLS");
        }
        let pki = if self.starttls || self.implicit_tls {
            Some(Arc::new(TestPki::generate()?))
        } else {
            None
        };
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let state = Arc::new(Mutex::new(State::default()));
        let handler = RecordingHandler {
            state: state.clone(),
            current: None,
            credentials: self.credentials.map(Arc::new),
        };
        let mut server = Server::new(handler);
        server
            .with_name("candor-testkit-smtp-sink")
            // One thread per open connection: room for four replicas at the
            // default SMTP_CONCURRENCY of 8 (with fewer, the replicas past
            // them stall until their SMTP timeout).
            .with_num_threads(SINK_CONNECTIONS);
        if self.starttls
            && let Some(pki) = &pki
        {
            // mailin builds its rustls config with the process-wide crypto
            // provider, which is unset while ring and aws-lc-rs are both linked.
            candor_platform::grpc::install_crypto_provider();
            server
                .with_ssl(tls::ssl_config(pki))
                .map_err(|error| anyhow::anyhow!("configuring STARTTLS: {error}"))?;
            server.with_auth(AuthMechanism::Plain);
            server.with_auth(AuthMechanism::Login);
        }
        // Implicit TLS: mailin speaks plain SMTP behind a TLS listener.
        let addr = match (&pki, self.implicit_tls) {
            (Some(pki), true) => {
                let inner = listener.local_addr()?;
                tls::serve_implicit(pki, inner)?
            }
            _ => listener.local_addr()?,
        };
        server.with_tcp_listener(listener);
        std::thread::Builder::new()
            .name("smtp-sink".to_owned())
            .spawn(move || {
                if let Err(error) = server.serve() {
                    tracing::error!(%error, "smtp sink stopped");
                }
            })?;
        Ok(SmtpSink {
            addr,
            state,
            implicit_tls: self.implicit_tls,
            pki,
        })
    }
}

/// A running SMTP sink; it lives as long as the test process.
#[derive(Clone)]
pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    implicit_tls: bool,
    pki: Option<Arc<TestPki>>,
}

impl SmtpSink {
    /// Starts a plain sink (no TLS, no AUTH) on a free port of 127.0.0.1.
    pub fn start() -> anyhow::Result<Self> {
        Self::builder().start()
    }

    /// A sink with STARTTLS, implicit TLS or AUTH.
    pub fn builder() -> SmtpSinkBuilder {
        SmtpSinkBuilder::default()
    }

    /// Where the sink listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An `SMTP_URL` for the sink: `smtp://127.0.0.1:port`, or `smtps://…`
    /// for an implicit-TLS sink (no credentials, no parameters).
    pub fn url(&self) -> String {
        let scheme = if self.implicit_tls { "smtps" } else { "smtp" };
        format!("{scheme}://{}", self.addr)
    }

    /// The file holding the certificate authority that signed the sink's
    /// TLS certificate, for clients to trust; it lives as long as the sink.
    pub fn ca_file(&self) -> anyhow::Result<std::path::PathBuf> {
        self.pki
            .as_ref()
            .map(|pki| pki.ca.clone())
            .ok_or_else(|| anyhow::anyhow!("this SMTP sink has no TLS"))
    }

    /// Holds every acceptance (the reply to the final `.`) for `delay`; the
    /// message is recorded before the wait, as a real server may have
    /// queued it before a client gave up on the reply.
    pub fn set_accept_delay(&self, delay: Duration) {
        lock(&self.state).accept_delay = delay;
    }

    /// Every message accepted so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        lock(&self.state).messages.clone()
    }

    /// Every message accepted so far, in arrival order, removed from the
    /// sink (a benchmark frees each run's messages this way).
    pub fn take_messages(&self) -> Vec<ReceivedMessage> {
        std::mem::take(&mut lock(&self.state).messages)
    }

    /// How many messages were accepted so far (without copying them).
    pub fn message_count(&self) -> usize {
        lock(&self.state).messages.len()
    }

    /// Messages whose envelope includes `recipient`.
    pub fn messages_to(&self, recipient: &str) -> Vec<ReceivedMessage> {
        lock(&self.state)
            .messages
            .iter()
            .filter(|message| {
                message
                    .to
                    .iter()
                    .any(|to| to.eq_ignore_ascii_case(recipient))
            })
            .cloned()
            .collect()
    }

    /// Refuse `recipient` from now on.
    pub fn refuse(&self, recipient: &str, refusal: Refusal) {
        lock(&self.state)
            .refusals
            .insert(recipient.to_ascii_lowercase(), refusal);
    }

    /// Accept `recipient` again.
    pub fn accept(&self, recipient: &str) {
        lock(&self.state)
            .refusals
            .remove(&recipient.to_ascii_lowercase());
    }

    /// Waits until at least `count` messages arrived, or `timeout` passed;
    /// returns the messages either way.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count || Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// One connection's handler; mailin clones it per connection.
#[derive(Clone)]
struct RecordingHandler {
    state: Arc<Mutex<State>>,
    current: Option<ReceivedMessage>,
    credentials: Option<Arc<(String, String)>>,
}

impl RecordingHandler {
    fn check(&self, user: &str, password: &str) -> Response {
        match &self.credentials {
            Some(expected) if expected.0 == user && expected.1 == password => {
                mailin_embedded::response::AUTH_OK
            }
            _ => mailin_embedded::response::INVALID_CREDENTIALS,
        }
    }
}

impl Handler for RecordingHandler {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        mailin_embedded::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        match lock(&self.state).refusals.get(&to.to_ascii_lowercase()) {
            Some(Refusal::Temporary) => Response::custom(450, "mailbox busy, try later".to_owned()),
            Some(Refusal::Permanent) => Response::custom(550, "no such mailbox".to_owned()),
            None => mailin_embedded::response::OK,
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(ReceivedMessage {
            from: from.to_owned(),
            to: to.to_vec(),
            data: Vec::new(),
        });
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(message) = self.current.as_mut() {
            message.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let delay = {
            let mut state = lock(&self.state);
            if let Some(message) = self.current.take() {
                state.messages.push(message);
            }
            state.accept_delay
        };
        // mailin runs each connection on its own pool thread.
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        mailin_embedded::response::OK
    }

    fn auth_plain(
        &mut self,
        _authorization_id: &str,
        authentication_id: &str,
        password: &str,
    ) -> Response {
        self.check(authentication_id, password)
    }

    fn auth_login(&mut self, username: &str, password: &str) -> Response {
        self.check(username, password)
    }
}
