//! How a Candor process calls another Candor service: through
//! [`candor_client`], with the hook every call runs ([`each_call`]) so a
//! call joins the caller's trace and never outlives the call being served.

use std::time::Duration;

use anyhow::Context as _;
use candor_client::{Connection, ConnectionBuilder};
use secrecy::SecretString;
use tonic::metadata::MetadataMap;

use super::GrpcTls;

/// The default deadline of a call between Candor processes that sets none:
/// what a served call's deadline cuts further (see [`each_call`]). As long
/// as the per-call limit of the channels this replaced, so an operator's
/// slow count or listing keeps working.
pub const SERVICE_CALL_DEADLINE: Duration = Duration::from_secs(30);

/// Runs on the headers of every call a Candor process makes: the current
/// span's W3C trace context, and `grpc-timeout` cut to what is left of the
/// deadline of the call being served ([`super::deadline::propagate`]);
/// DEADLINE_EXCEEDED, without calling, when nothing is left.
pub fn each_call(headers: &mut http::HeaderMap) -> Result<(), tonic::Status> {
    let mut metadata = MetadataMap::from_headers(std::mem::take(headers));
    crate::telemetry::inject_into_metadata(&mut metadata);
    *headers = metadata.into_headers();
    super::deadline::propagate(headers)
}

impl GrpcTls {
    /// A connection to the Candor service at `url` as this process calls
    /// it: this process's TLS settings (`GRPC_TLS_*`) for an `https://`
    /// URL, [`each_call`] on every call, [`SERVICE_CALL_DEADLINE`] by
    /// default. The caller adds its credential and connects.
    pub fn connection(&self, url: &str) -> ConnectionBuilder {
        Connection::builder(url)
            .tls_config(self.client_config())
            .default_deadline(SERVICE_CALL_DEADLINE)
            .on_each_call(each_call)
    }

    /// [`GrpcTls::connection`] with `token` (the process's SERVICE_TOKEN,
    /// or a front end's), connected lazily so a service may start before
    /// the one it calls; `setting` names the URL's setting in an error.
    pub fn service_connection(
        &self,
        url: &str,
        token: &SecretString,
        setting: &str,
    ) -> anyhow::Result<Connection> {
        self.connection(url)
            .bearer_token(token.clone())
            .connect_lazy()
            .with_context(|| format!("{setting} {url}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_call_passes_on_what_is_left_of_the_served_call() {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(400);
        super::super::deadline::serve_within(deadline, async {
            let mut headers = http::HeaderMap::new();
            headers.insert("grpc-timeout", "30S".parse().unwrap());
            each_call(&mut headers).unwrap();
            let sent = candor_client::grpc_timeout::of(&headers).unwrap();
            assert!(
                sent <= Duration::from_millis(400) && sent > Duration::from_millis(300),
                "{sent:?}"
            );
            tokio::time::sleep(Duration::from_millis(450)).await;
            let status = each_call(&mut http::HeaderMap::new()).unwrap_err();
            assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        })
        .await;
    }
}
