//! The stack with candor-web in front of it, the links in emails pointing
//! at it; and reading those emails.

use std::time::Duration;

use candor_e2e::stack::{Stack, StackOptions};
use candor_platform::auth::Caller;
use candor_testkit::binary::free_port;
use candor_testkit::environment::caller_token;
use candor_testkit::poll::eventually;
use candor_testkit::service::RunningService;
use mail_parser::MessageParser;

/// The stack, candor-web, and where candor-web is.
pub struct Site {
    pub stack: Stack,
    web: RunningService,
    /// `http://localhost:<port>`: what the services put in links.
    pub base_url: String,
}

impl Site {
    pub async fn start() -> Self {
        let port = free_port().unwrap();
        // `localhost` is a secure context for the browser, so it keeps the
        // `Secure`, `__Host-` cookies over plain HTTP, as on a real site
        // over HTTPS.
        let base_url = format!("http://localhost:{port}");
        let stack = Stack::in_process_with(StackOptions {
            public_base_url: Some(base_url.clone()),
            ..StackOptions::default()
        })
        .await
        .unwrap();
        let config: candor_web::Config = candor_platform::config::try_parse_from([
            "candor-web".to_owned(),
            format!("--web-addr=127.0.0.1:{port}"),
            format!("--account-grpc-url={}", stack.endpoints.account_grpc_url),
            format!("--forum-grpc-url={}", stack.endpoints.forum_grpc_url),
            format!("--frontend-token={}", caller_token(Caller::FrontEnd)),
            "--web-cookie-key=browser-test-cookie-key-0123456789abcdef".to_owned(),
            "--shutdown-grace-seconds=5".to_owned(),
        ])
        .unwrap();
        let app = candor_web::App::build(config).await.unwrap();
        let addr = app.local_addr().unwrap();
        let web = RunningService::spawn("web", addr, |shutdown| app.run_until(shutdown));
        Self {
            stack,
            web,
            base_url,
        }
    }

    /// `path` on candor-web.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn stop(self) {
        self.web.stop().await.unwrap();
        self.stack.stop().await.unwrap();
    }

    /// The text of the newest email to `address` whose subject or text
    /// contains `word`, waiting for it.
    pub async fn email(&self, address: &str, word: &str, skip: usize) -> String {
        eventually(
            Duration::from_secs(120),
            &format!("an email to {address} about {word}"),
            || async {
                let texts: Vec<String> = self
                    .stack
                    .mailbox
                    .messages_to(address)
                    .await
                    .unwrap()
                    .iter()
                    .filter_map(|message| {
                        let parsed = MessageParser::default().parse(&message.data)?;
                        let subject = parsed.subject().unwrap_or_default().to_owned();
                        let text = parsed.body_text(0)?.into_owned();
                        (subject.contains(word) || text.contains(word)).then_some(text)
                    })
                    .collect();
                (texts.len() > skip).then(|| texts[texts.len() - 1].clone())
            },
        )
        .await
    }

    /// The first link to this site in `text` whose path contains `part`.
    pub fn link(&self, text: &str, part: &str) -> String {
        text.match_indices(&self.base_url)
            .map(|(start, _)| {
                text[start..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '<' | '>' | ')' | ']'))
                    .collect::<String>()
            })
            .find(|link| link.contains(part))
            .unwrap_or_else(|| panic!("no link with {part} in:\n{text}"))
    }
}
