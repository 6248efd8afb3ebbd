//! Everything one service test needs from the outside world: its own
//! database and its own RabbitMQ names, and the settings pointing at them.

use candor_platform::config::{
    AuthConfig, CommonConfig, GrpcTlsConfig, ServerConfig, TelemetryConfig,
};

use crate::binary::ServiceBinary;
use crate::database::TestDatabase;
use crate::rabbitmq::{TestBroker, amqp_settings};

/// The operator token every test environment configures.
pub const OPERATOR_TOKEN: &str = "test-operator-token-0123456789";
/// The service token every test environment configures.
pub const SERVICE_TOKEN: &str = "test-service-token-0123456789";

/// A fresh database and RabbitMQ namespace for one test.
pub struct TestEnvironment {
    pub database: TestDatabase,
    pub broker: TestBroker,
}

impl TestEnvironment {
    pub async fn new() -> anyhow::Result<Self> {
        Ok(Self {
            database: TestDatabase::create().await?,
            broker: TestBroker::new(),
        })
    }

    /// The shared settings of a service pointed at this environment, with
    /// a short shutdown grace so tests stop quickly.
    pub fn common_config(&self) -> CommonConfig {
        CommonConfig {
            database: self.database.config(),
            amqp: self.broker.config(),
            auth: AuthConfig::new(OPERATOR_TOKEN, SERVICE_TOKEN),
            server: ServerConfig {
                shutdown_grace_seconds: 10,
                grpc_tls_require_client_cert: false,
            },
            grpc_tls: GrpcTlsConfig::default(),
            telemetry: TelemetryConfig::default(),
        }
    }

    /// The settings of [`TestEnvironment::common_config`] as environment
    /// variables.
    pub fn common_settings(&self) -> Vec<(&'static str, String)> {
        let mut settings = vec![("DATABASE_URL", self.database.url().to_owned())];
        settings.extend(amqp_settings(&self.broker.config()));
        settings.extend([
            ("OPERATOR_TOKEN", OPERATOR_TOKEN.to_owned()),
            ("SERVICE_TOKEN", SERVICE_TOKEN.to_owned()),
            ("SHUTDOWN_GRACE_SECONDS", "10".to_owned()),
        ]);
        settings
    }

    /// The service binary at `path` with the environment variables of
    /// [`TestEnvironment::common_config`].
    pub fn binary(&self, path: &str) -> ServiceBinary {
        self.common_settings()
            .into_iter()
            .fold(ServiceBinary::new(path), |binary, (name, value)| {
                binary.env(name, value)
            })
            .env("RUST_LOG", "warn")
    }

    /// A service's configuration parsed the way the binary parses it, from
    /// the common settings, `GRPC_ADDR=127.0.0.1:0` and `settings` (by
    /// environment variable name), so every other setting keeps its default.
    pub fn config<C: clap::Parser>(&self, settings: &[(&str, String)]) -> anyhow::Result<C> {
        let command = C::command();
        let flag_of = |name: &str| {
            command
                .get_arguments()
                .find(|arg| arg.get_env().is_some_and(|env| env == name))
                .and_then(|arg| arg.get_long())
                .map(|long| format!("--{long}"))
                .ok_or_else(|| anyhow::anyhow!("{} has no setting {name}", command.get_name()))
        };
        let mut pairs: Vec<(&str, String)> = self.common_settings();
        pairs.push(("GRPC_ADDR", "127.0.0.1:0".to_owned()));
        pairs.extend(settings.iter().map(|(name, value)| (*name, value.clone())));
        let mut args = vec![command.get_name().to_owned()];
        for (name, value) in pairs {
            args.push(format!("{}={value}", flag_of(name)?));
        }
        candor_platform::config::try_parse_from(args).map_err(|error| anyhow::anyhow!("{error}"))
    }
}
