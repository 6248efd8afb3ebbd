//! Where the Candor services and RabbitMQ are, by flag or environment,
//! defaulting to the docker compose ports on this machine.

use candor_platform::auth::OutgoingInterceptor;
use candor_platform::config::{AmqpConfig, GrpcTlsConfig};
use candor_platform::grpc::GrpcTls;
use secrecy::SecretString;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Connection settings shared by every subcommand that talks to Candor.
#[derive(clap::Args, Debug, Clone)]
pub struct Endpoints {
    /// RabbitMQ URL, including the virtual host.
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        global = true
    )]
    pub amqp_url: String,
    /// Prefix of Candor's exchange and queue names.
    #[arg(long, env = "AMQP_NAMESPACE", default_value = "candor", global = true)]
    pub amqp_namespace: String,
    /// gRPC URL of the account service.
    #[arg(
        long,
        env = "ACCOUNT_GRPC_URL",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub account_grpc_url: String,
    /// gRPC URL of the notification service.
    #[arg(
        long,
        env = "NOTIFICATION_GRPC_URL",
        default_value = "http://127.0.0.1:50052",
        global = true
    )]
    pub notification_grpc_url: String,
    /// gRPC URL of the membership service.
    #[arg(
        long,
        env = "MEMBERSHIP_GRPC_URL",
        default_value = "http://127.0.0.1:50053",
        global = true
    )]
    pub membership_grpc_url: String,
    /// gRPC URL of the forum service.
    #[arg(
        long,
        env = "FORUM_GRPC_URL",
        default_value = "http://127.0.0.1:50054",
        global = true
    )]
    pub forum_grpc_url: String,
    /// Operator bearer token (operator RPCs: dry-run counts, status, import).
    #[arg(long, env = "OPERATOR_TOKEN", hide_env_values = true, global = true)]
    pub operator_token: Option<String>,
    // TLS for `https://` service URLs, by the services' own `GRPC_TLS_*` names.
    #[command(flatten)]
    pub tls: GrpcTlsConfig,
}

/// A channel that sends the operator token (when set) and trace context.
pub type OperatorChannel = InterceptedService<Channel, OutgoingInterceptor>;

impl Endpoints {
    pub fn amqp(&self) -> AmqpConfig {
        AmqpConfig::new(&self.amqp_url, &self.amqp_namespace)
    }

    /// A lazily connected channel to `url` carrying the operator token;
    /// each call must finish within 30 s.
    pub fn operator_channel(&self, url: &str) -> anyhow::Result<OperatorChannel> {
        self.with_operator_token(self.grpc_tls()?.client_channel(url)?)
    }

    /// Like [`Endpoints::operator_channel`] without a per-call deadline, for
    /// long streams such as an import.
    pub fn operator_stream_channel(&self, url: &str) -> anyhow::Result<OperatorChannel> {
        self.with_operator_token(self.grpc_tls()?.streaming_client_channel(url)?)
    }

    fn grpc_tls(&self) -> anyhow::Result<GrpcTls> {
        GrpcTls::load(&self.tls, false)
    }

    fn with_operator_token(&self, channel: Channel) -> anyhow::Result<OperatorChannel> {
        let interceptor = match &self.operator_token {
            Some(token) => OutgoingInterceptor::with_token(&SecretString::from(token.clone()))
                .map_err(|status| anyhow::anyhow!("OPERATOR_TOKEN: {}", status.message()))?,
            None => OutgoingInterceptor::trace_only(),
        };
        Ok(InterceptedService::new(channel, interceptor))
    }
}
