//! Where the end-to-end suite reads the emails Candor sent: the testkit SMTP
//! sink when it runs the stack itself, or Mailpit's HTTP API when it checks
//! a running deployment (docker compose).

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Context;
use candor_testkit::smtp::{ReceivedMessage, SmtpSink};

/// Messages listed per Mailpit API page.
const MAILPIT_PAGE: usize = 500;

pub enum Mailbox {
    Sink(SmtpSink),
    Mailpit(MailpitApi),
}

impl Mailbox {
    /// Every message received so far.
    pub async fn messages(&self) -> anyhow::Result<Vec<ReceivedMessage>> {
        match self {
            Mailbox::Sink(sink) => Ok(sink.messages()),
            Mailbox::Mailpit(api) => api.messages().await,
        }
    }

    /// Messages whose recipients include `address`.
    pub async fn messages_to(&self, address: &str) -> anyhow::Result<Vec<ReceivedMessage>> {
        Ok(self
            .messages()
            .await?
            .into_iter()
            .filter(|message| message.to.iter().any(|to| to.eq_ignore_ascii_case(address)))
            .collect())
    }
}

/// Mailpit's REST API (`GET /api/v1/messages`, `GET /api/v1/message/{ID}/raw`).
/// Messages already fetched are kept, so polling costs one list call plus
/// the new messages.
pub struct MailpitApi {
    base_url: String,
    fetched: Mutex<HashMap<String, ReceivedMessage>>,
}

impl MailpitApi {
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            fetched: Mutex::default(),
        }
    }

    async fn messages(&self) -> anyhow::Result<Vec<ReceivedMessage>> {
        let base_url = self.base_url.clone();
        let known: Vec<String> = self
            .fetched
            .lock()
            .map_err(|_| anyhow::anyhow!("mailbox cache poisoned"))?
            .keys()
            .cloned()
            .collect();
        let new = tokio::task::spawn_blocking(move || fetch_new(&base_url, &known)).await??;
        let mut fetched = self
            .fetched
            .lock()
            .map_err(|_| anyhow::anyhow!("mailbox cache poisoned"))?;
        fetched.extend(new);
        Ok(fetched.values().cloned().collect())
    }
}

fn get(url: &str) -> anyhow::Result<String> {
    let mut response = ureq::get(url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .with_context(|| format!("reading {url}"))
}

fn fetch_new(base_url: &str, known: &[String]) -> anyhow::Result<Vec<(String, ReceivedMessage)>> {
    let mut new = Vec::new();
    let mut start = 0;
    loop {
        let page: serde_json::Value = serde_json::from_str(&get(&format!(
            "{base_url}/api/v1/messages?start={start}&limit={MAILPIT_PAGE}"
        ))?)?;
        let summaries = page["messages"].as_array().cloned().unwrap_or_default();
        for summary in &summaries {
            let Some(id) = summary["ID"].as_str() else {
                continue;
            };
            if known.iter().any(|known| known == id) {
                continue;
            }
            let to = summary["To"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|entry| entry["Address"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let from = summary["From"]["Address"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let data = get(&format!("{base_url}/api/v1/message/{id}/raw"))?.into_bytes();
            new.push((id.to_owned(), ReceivedMessage { from, to, data }));
        }
        if summaries.len() < MAILPIT_PAGE {
            return Ok(new);
        }
        start += MAILPIT_PAGE;
    }
}
