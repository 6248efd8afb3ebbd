//! An SMTP sink for tests, built on the `mailin` SMTP server library: it
//! speaks real SMTP on 127.0.0.1, records every accepted message, and can be
//! told to refuse chosen recipients temporarily (4xx) or permanently (5xx).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mailin_embedded::{Handler, Response, Server};

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
}

/// A running SMTP sink; it lives as long as the test process.
#[derive(Clone)]
pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl SmtpSink {
    /// Starts a sink on a free port of 127.0.0.1.
    pub fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let handler = RecordingHandler {
            state: state.clone(),
            current: None,
        };
        let mut server = Server::new(handler);
        server
            .with_name("candor-testkit-smtp-sink")
            .with_num_threads(8)
            .with_tcp_listener(listener);
        std::thread::Builder::new()
            .name("smtp-sink".to_owned())
            .spawn(move || {
                if let Err(error) = server.serve() {
                    tracing::error!(%error, "smtp sink stopped");
                }
            })?;
        Ok(Self { addr, state })
    }

    /// Where the sink listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An `SMTP_URL` for the sink (plain SMTP, no TLS, no authentication).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message accepted so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        lock(&self.state).messages.clone()
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

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panicking test thread must not hide every later message.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One connection's handler; mailin clones it per connection.
#[derive(Clone)]
struct RecordingHandler {
    state: Arc<Mutex<State>>,
    current: Option<ReceivedMessage>,
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
        if let Some(message) = self.current.take() {
            lock(&self.state).messages.push(message);
        }
        mailin_embedded::response::OK
    }
}
