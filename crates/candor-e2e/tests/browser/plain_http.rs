//! The same pages over plain HTTP against the real services: headers of
//! the token pages, the answer to a reset request that does not depend on
//! whether the address has an account, a used-up link explained, and a
//! POST without its CSRF token refused.

use candor_proto::account::v1::RegisterRequest;
use candor_proto::account::v1::account_service_client::AccountServiceClient;

use crate::site::Site;

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    fn csrf_token(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).expect("a form") + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

/// A browser without a browser: keeps the one CSRF cookie, no redirects.
#[derive(Default)]
struct Visitor {
    cookie: Option<String>,
}

impl Visitor {
    fn send(
        &mut self,
        request: ureq::RequestBuilder<ureq::typestate::WithBody>,
        form: &[(&str, &str)],
    ) -> Answer {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = request.header("content-type", "application/x-www-form-urlencoded");
        let request = match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        self.read(request.send(body).unwrap())
    }

    fn get(&mut self, url: &str) -> Answer {
        let request = agent().get(url);
        let request = match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        self.read(request.call().unwrap())
    }

    fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Answer {
        self.send(agent().post(url), form)
    }

    fn read(&mut self, mut response: http::Response<ureq::Body>) -> Answer {
        if let Some(set) = response.headers().get("set-cookie")
            && let Some(pair) = set.to_str().unwrap().split(';').next()
            && pair.starts_with("__Host-candor-csrf=")
        {
            self.cookie = Some(pair.to_owned());
        }
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.body_mut().read_to_string().unwrap_or_default(),
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_token_pages_over_http() {
    candor_testkit::tracing::init();
    let site = Site::start().await;
    let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let known = format!("known-{run}@readers.example");
    AccountServiceClient::new(
        site.stack
            .channel(&site.stack.endpoints.account_grpc_url)
            .unwrap(),
    )
    .register(RegisterRequest {
        email: known.clone(),
        display_name: "Known Reader".to_owned(),
        password: "a long and unusual passphrase".to_owned(),
    })
    .await
    .unwrap();
    let base = site.base_url.replace("localhost", "127.0.0.1");
    let unknown = format!("unknown-{run}@readers.example");
    tokio::task::spawn_blocking(move || {
        let url = |path: &str| format!("{base}{path}");
        let mut visitor = Visitor::default();

        // The emailed link's page: no Referer leaves it, nothing is cached.
        let page = visitor.get(&url(
            "/account/reset-password/confirm?token=not-a-real-token",
        ));
        assert_eq!(page.status, 200);
        assert_eq!(page.header("referrer-policy"), "no-referrer");
        assert_eq!(page.header("cache-control"), "no-store");
        assert!(
            page.header("content-security-policy")
                .contains("frame-ancestors 'none'")
        );

        // A link that does not work (never issued, used, or expired).
        let answer = visitor.post(
            &url("/account/reset-password/confirm"),
            &[
                ("csrf_token", &page.csrf_token()),
                ("token", "not-a-real-token"),
                ("new_password", "a long and unusual passphrase 2"),
                ("confirm_password", "a long and unusual passphrase 2"),
            ],
        );
        assert_eq!(answer.status, 410, "{}", answer.body);
        assert!(answer.body.contains("This link no longer works"));

        // The same answer for an address with an account and one without.
        let form = visitor.get(&url("/account/reset-password"));
        let mut answers = Vec::new();
        for email in [&known, &unknown] {
            let answer = visitor.post(
                &url("/account/reset-password"),
                &[("csrf_token", &form.csrf_token()), ("email", email)],
            );
            assert_eq!(answer.status, 200, "{}", answer.body);
            answers.push(answer.body.replace(email.as_str(), "ADDRESS"));
        }
        assert_eq!(answers[0], answers[1]);

        // Without the token, nothing is sent.
        let refused =
            Visitor::default().post(&url("/account/reset-password"), &[("email", &known)]);
        assert_eq!(refused.status, 403);
    })
    .await
    .unwrap();
    site.stop().await;
}
