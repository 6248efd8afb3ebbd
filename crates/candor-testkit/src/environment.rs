//! Everything one service test needs from the outside world: its own
//! database and its own RabbitMQ names, and the settings pointing at them.

use candor_platform::auth::{Caller, CallerTokens};
use candor_platform::config::{
    AuthConfig, CommonConfig, GrpcTlsConfig, ServerConfig, TelemetryConfig,
};

use crate::binary::ServiceBinary;
use crate::database::TestDatabase;
use crate::rabbitmq::{TestBroker, amqp_settings};

/// The operator token every test environment configures.
pub const OPERATOR_TOKEN: &str = "test-operator-token-0123456789";

/// The token of `caller` in every test environment: each service presents
/// its own as SERVICE_TOKEN, and every test service accepts all of them
/// ([`caller_tokens_setting`]), so a test acts as a caller with its token.
pub fn caller_token(caller: Caller) -> &'static str {
    match caller {
        Caller::Operator => OPERATOR_TOKEN,
        Caller::Account => "test-account-token-0123456789",
        Caller::Notification => "test-notification-token-0123456789",
        Caller::Membership => "test-membership-token-0123456789",
        Caller::Forum => "test-forum-token-0123456789",
        Caller::FrontEnd => "test-frontend-token-0123456789",
    }
}

/// `CALLER_TOKENS` accepting every test caller but the operator (who has
/// OPERATOR_TOKEN).
pub fn caller_tokens_setting() -> String {
    Caller::ALL
        .into_iter()
        .filter(|caller| *caller != Caller::Operator)
        .map(|caller| format!("{caller}={}", caller_token(caller)))
        .collect::<Vec<_>>()
        .join(",")
}

/// The caller a service binary or command (`candor-forum`) is.
fn service_caller(name: &str) -> anyhow::Result<Caller> {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let service = file.trim_start_matches("candor-").trim_end_matches(".exe");
    service
        .parse()
        .map_err(|error| anyhow::anyhow!("{name} is not a Candor service: {error}"))
}

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

    /// The shared settings of `service` pointed at this environment (its
    /// own SERVICE_TOKEN, every test caller accepted), with a short shutdown
    /// grace so tests stop quickly.
    pub fn common_config(&self, service: Caller) -> CommonConfig {
        let mut auth = AuthConfig::new(OPERATOR_TOKEN, caller_token(service));
        auth.caller_tokens = CallerTokens::parse(&caller_tokens_setting()).ok();
        debug_assert!(auth.caller_tokens.is_some(), "the test caller tokens parse");
        CommonConfig {
            database: self.database.config(),
            amqp: self.broker.config(),
            auth,
            server: ServerConfig {
                shutdown_grace_seconds: 10,
                ..ServerConfig::default()
            },
            grpc_tls: GrpcTlsConfig::default(),
            telemetry: TelemetryConfig::default(),
            metrics: candor_platform::config::MetricsConfig::default(),
        }
    }

    /// The settings of [`TestEnvironment::common_config`] as environment
    /// variables.
    pub fn common_settings(&self, service: Caller) -> Vec<(&'static str, String)> {
        let mut settings = vec![("DATABASE_URL", self.database.url().to_owned())];
        settings.extend(amqp_settings(&self.broker.config()));
        settings.extend([
            ("OPERATOR_TOKEN", OPERATOR_TOKEN.to_owned()),
            ("SERVICE_TOKEN", caller_token(service).to_owned()),
            ("CALLER_TOKENS", caller_tokens_setting()),
            ("SHUTDOWN_GRACE_SECONDS", "10".to_owned()),
            // Every service's own setting; a free port so tests run side by side.
            ("METRICS_ADDR", "127.0.0.1:0".to_owned()),
        ]);
        settings
    }

    /// The service binary at `path` (`…/candor-forum`) with the
    /// environment variables of [`TestEnvironment::common_config`] for that
    /// service. A binary that is not a service gets the front end's token.
    pub fn binary(&self, path: &str) -> ServiceBinary {
        let service = service_caller(path).unwrap_or(Caller::FrontEnd);
        self.common_settings(service)
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
        let mut pairs: Vec<(&str, String)> =
            self.common_settings(service_caller(command.get_name())?);
        pairs.push(("GRPC_ADDR", "127.0.0.1:0".to_owned()));
        pairs.extend(settings.iter().map(|(name, value)| (*name, value.clone())));
        let mut args = vec![command.get_name().to_owned()];
        for (name, value) in pairs {
            args.push(format!("{}={value}", flag_of(name)?));
        }
        candor_platform::config::try_parse_from(args).map_err(|error| anyhow::anyhow!("{error}"))
    }
}

/// A permission layer accepting every test caller, for test doubles of a
/// service served with `GrpcServer` (the real services get theirs from
/// their configuration).
pub fn test_guard() -> anyhow::Result<candor_platform::grpc::Guard> {
    let mut auth = AuthConfig::new(OPERATOR_TOKEN, caller_token(Caller::FrontEnd));
    auth.caller_tokens = Some(
        CallerTokens::parse(&caller_tokens_setting()).map_err(|error| anyhow::anyhow!(error))?,
    );
    Ok(candor_platform::grpc::Guard::new(
        candor_platform::auth::Credentials::new(&auth)?,
        candor_platform::service::proxy_trust(&auth),
    ))
}
