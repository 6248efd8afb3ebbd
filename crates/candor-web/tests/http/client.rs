//! An in-process candor-web and a small HTTP client that keeps its cookies
//! and reads the forms' CSRF token, as a browser would.

use std::net::SocketAddr;

use candor_testkit::binary::free_port;
use candor_testkit::environment::caller_token;
use candor_web::{App, Config};

/// What a page answered.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// Every value of header `name`.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The value of header `name` (the first).
    pub fn header(&self, name: &str) -> &str {
        self.header_values(name)
            .first()
            .copied()
            .unwrap_or_default()
    }

    /// The value of the form's hidden `csrf_token`.
    pub fn csrf_token(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).expect("the page has a form") + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

/// A candor-web on a free port, serving until dropped.
pub struct Web {
    pub addr: SocketAddr,
    runtime: tokio::runtime::Runtime,
    stop: tokio_util::sync::CancellationToken,
}

impl Web {
    /// Starts one whose services are unreachable.
    pub fn start() -> Self {
        let nowhere = format!("http://127.0.0.1:{}", free_port().unwrap());
        let config: Config = candor_platform::config::try_parse_from([
            "candor-web".to_owned(),
            "--web-addr=127.0.0.1:0".to_owned(),
            format!("--account-grpc-url={nowhere}"),
            format!("--forum-grpc-url={nowhere}"),
            format!(
                "--frontend-token={}",
                caller_token(candor_platform::auth::Caller::FrontEnd)
            ),
            "--web-cookie-key=a-test-cookie-key-of-at-least-32-chars".to_owned(),
        ])
        .unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let app = runtime.block_on(App::build(config)).unwrap();
        let addr = app.local_addr().unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        runtime.spawn(app.run_until(stop.clone().cancelled_owned()));
        Self {
            addr,
            runtime,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        self.stop.cancel();
        let _ = &self.runtime;
    }
}

/// A visitor: keeps the cookies it was given, follows no redirect.
#[derive(Default)]
pub struct Visitor {
    cookies: Vec<(String, String)>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into()
}

impl Visitor {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, answer: &Answer) {
        for set in answer.header_values("set-cookie") {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(known, _)| known != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    pub fn get(&mut self, url: &str) -> Answer {
        let mut request = agent().get(url);
        if !self.cookies.is_empty() {
            request = request.header("cookie", &self.cookie_header());
        }
        let answer = read(request.call().unwrap());
        self.keep(&answer);
        answer
    }

    pub fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Answer {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = agent()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded");
        if !self.cookies.is_empty() {
            request = request.header("cookie", &self.cookie_header());
        }
        let answer = read(request.send(body).unwrap());
        self.keep(&answer);
        answer
    }
}

fn read(mut response: http::Response<ureq::Body>) -> Answer {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status,
        headers,
        body,
    }
}
