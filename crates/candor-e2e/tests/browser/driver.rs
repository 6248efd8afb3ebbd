//! Headless Chromium through chromedriver (a process this test starts and
//! ends), with fantoccini as the WebDriver client, and the screenshots.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use candor_testkit::binary::free_port;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

/// The browser binary and its driver, from Debian's packages.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";

/// A browser session and the chromedriver behind it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    artefacts: PathBuf,
    shots: usize,
}

/// `<target dir>/browser-artefacts/`: the test binary lives in
/// `<target dir>/<profile>/deps/`.
fn artefacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.parent()?.to_owned())
        })
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("browser-artefacts")
}

impl Browser {
    pub async fn start() -> Self {
        let port = free_port().unwrap();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot run {CHROMEDRIVER} ({error}): install Debian's chromium and chromium-driver (.ci/run does)"
                )
            });
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--window-size=1024,1200",
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromedriver session");
        let artefacts = artefacts_dir();
        std::fs::create_dir_all(&artefacts).unwrap();
        println!("browser screenshots: {}", artefacts.display());
        Self {
            client,
            driver,
            artefacts,
            shots: 0,
        }
    }

    /// Saves a screenshot of the current page as `NN-name.png`.
    pub async fn screenshot(&mut self, name: &str) {
        self.shots += 1;
        let png = self.client.screenshot().await.unwrap();
        let path = self.artefacts.join(format!("{:02}-{name}.png", self.shots));
        std::fs::write(&path, png).unwrap();
        println!("screenshot: {}", path.display());
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no {css} on the page: {error}"))
    }

    /// Types `text` into the input labelled by `<label for=id>`.
    pub async fn fill(&self, id: &str, text: &str) {
        let label = self
            .client
            .find(Locator::Css(&format!("label[for='{id}']")))
            .await
            .unwrap_or_else(|_| panic!("the input {id} has no label"));
        assert!(!label.text().await.unwrap().trim().is_empty());
        let input = self.find(&format!("#{id}")).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// Clicks the button saying `text` and waits for the next page.
    pub async fn press(&self, text: &str) {
        let buttons = self
            .client
            .find_all(Locator::Css("main button, nav button"))
            .await
            .unwrap();
        for button in buttons {
            if button.text().await.unwrap().trim() == text {
                button.click().await.unwrap();
                return;
            }
        }
        panic!(
            "no button {text:?} on {}",
            self.client.current_url().await.unwrap()
        );
    }

    /// The text of the page's `<h1>`.
    /// A page still loading after a click may replace its `<h1>` between
    /// finding it and reading it (a stale element): read again.
    pub async fn heading(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.find("h1").await.text().await {
                Ok(text) => return text,
                Err(error) => assert!(
                    Instant::now() < deadline,
                    "cannot read the page's h1: {error}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the `<h1>` is `expected`.
    pub async fn expect_heading(&self, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // The page may still be changing: a stale element reads as "".
            let heading = match self.client.find(Locator::Css("h1")).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if heading == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "expected the page {expected:?}, got {heading:?} at {}",
                self.client.current_url().await.unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
