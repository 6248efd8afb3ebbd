//! Everything one service test needs from the outside world: its own
//! database and its own RabbitMQ names, and the settings pointing at them.

use candor_platform::config::{AuthConfig, CommonConfig, ServerConfig, TelemetryConfig};

use crate::binary::ServiceBinary;
use crate::database::TestDatabase;
use crate::rabbitmq::TestBroker;

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
            },
            telemetry: TelemetryConfig::default(),
        }
    }

    /// The service binary at `path` with the environment variables of
    /// [`TestEnvironment::common_config`].
    pub fn binary(&self, path: &str) -> ServiceBinary {
        let amqp = self.broker.config();
        ServiceBinary::new(path)
            .env("DATABASE_URL", self.database.url())
            .env("AMQP_URL", candor_platform::config::expose(&amqp.amqp_url))
            .env("AMQP_NAMESPACE", amqp.amqp_namespace.clone())
            .env("OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env("SERVICE_TOKEN", SERVICE_TOKEN)
            .env("SHUTDOWN_GRACE_SECONDS", "10")
            .env("RUST_LOG", "warn")
    }
}
