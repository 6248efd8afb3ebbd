//! The web front end in a real browser: the whole stack and candor-web
//! in-process, headless Chromium driven through chromedriver (Debian's
//! `chromium` and `chromium-driver`; `.ci/run` installs them). A member
//! follows the links Candor emailed them, as they would; every page is
//! saved as a screenshot under `<target dir>/browser-artefacts/`.
//! `plain_http` checks the same pages without a browser.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod driver;
mod journey;
mod plain_http;
mod site;
