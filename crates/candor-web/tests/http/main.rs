//! candor-web over plain HTTP, without a browser and without the services
//! (they are pointed at a port nobody listens on): the security headers and
//! cookies, CSRF refusal, error pages, and the binary's configuration
//! errors, health and SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;
mod client;
mod pages;
