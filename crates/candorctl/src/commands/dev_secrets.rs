//! `candorctl dev-secrets`: every secret a compose deployment needs, made on
//! first start so that no working secret is published anywhere (not in the
//! repository, not in compose's defaults).
//!
//! Compose runs it as a one-shot `secrets` service writing into a volume;
//! every other container mounts only its own subdirectory of that volume and
//! reads its settings through `*_FILE` variables, as Docker secrets are read:
//!
//! ```text
//! <dir>/base/            the generated secrets themselves (only this command reads them)
//! <dir>/<service>/       database_url, amqp_url, service_token, operator_token,
//!                        caller_tokens (+ legacy_hash_key for account)
//! <dir>/postgres/        postgres_password, <service>_password and
//!                        monitoring_password (init-databases.sh)
//! <dir>/postgres-exporter/ database_password (the monitoring role's)
//! <dir>/rabbitmq/        definitions.json: users, permissions, topology (loaded at boot);
//!                        erlang_cookie (shared by the nodes of a cluster)
//! <dir>/grafana/         admin_password (Grafana's candor-admin)
//! <dir>/web/             frontend_token, cookie_key (candor-web's CSRF key)
//! <dir>/operator/        operator_token, amqp_url (publishes breach.reported only;
//!                        the broker as the host reaches it), rabbitmq_admin_password,
//!                        grafana_admin_password, frontend_token
//! ```
//!
//! A secret already in `base/` is kept, so a restart changes nothing and an
//! operator supplies their own by writing the file before the first start;
//! everything else is derived from `base/` again on every run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use candor_platform::auth::Caller;
use candor_platform::auth::permissions::callers_of_service;
use candor_platform::config::QueueType;
use candor_platform::messaging::ServiceQueue;
use candor_platform::messaging::definitions::BrokerDefinitions;
use secrecy::SecretString;

#[derive(clap::Args, Debug)]
pub struct DevSecretsArgs {
    /// Directory to write into (created when missing).
    #[arg(long, default_value = "/run/secrets/candor")]
    dir: PathBuf,

    /// Host name of PostgreSQL in the services' database URLs.
    #[arg(long, default_value = "postgres:5432")]
    postgres_host: String,

    /// Host name of RabbitMQ in the services' AMQP URLs; for a cluster, each
    /// node's, comma-separated (the services' `AMQP_URL` lists one URL per node).
    #[arg(long, default_value = "rabbitmq:5672", value_delimiter = ',')]
    rabbitmq_host: Vec<String>,

    /// RabbitMQ as the operator reaches it (the operator's `amqp_url`, used
    /// from the host, where compose publishes the broker's port); for a
    /// cluster, each node's, comma-separated.
    #[arg(long, default_value = "127.0.0.1:5672", value_delimiter = ',')]
    operator_rabbitmq_host: Vec<String>,

    /// Prefix of the RabbitMQ exchanges and queues (as the services' `AMQP_NAMESPACE`).
    #[arg(long, env = "AMQP_NAMESPACE", default_value = "candor")]
    amqp_namespace: String,

    /// Type of the queues in the definitions (as the services' `AMQP_QUEUE_TYPE`).
    #[arg(long, env = "AMQP_QUEUE_TYPE", value_enum, default_value_t = QueueType::Quorum)]
    amqp_queue_type: QueueType,

    /// Delivery limit of the quorum queues (as the services' `AMQP_DELIVERY_LIMIT`).
    #[arg(long, env = "AMQP_DELIVERY_LIMIT", default_value_t = 20)]
    amqp_delivery_limit: u32,
}

impl DevSecretsArgs {
    /// Compose's host names and namespace, writing into `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            postgres_host: "postgres:5432".to_owned(),
            rabbitmq_host: vec!["rabbitmq:5672".to_owned()],
            operator_rabbitmq_host: vec!["127.0.0.1:5672".to_owned()],
            amqp_namespace: "candor".to_owned(),
            amqp_queue_type: QueueType::Quorum,
            amqp_delivery_limit: 20,
        }
    }
}

pub async fn run(args: DevSecretsArgs) -> ExitCode {
    match write(&args) {
        Ok(generated) => {
            println!(
                "candorctl: dev-secrets: {} in {} ({} new)",
                if generated == 0 {
                    "kept every secret"
                } else {
                    "wrote the secrets"
                },
                args.dir.display(),
                generated
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("candorctl: dev-secrets: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the secrets and the files derived from them; returns how many
/// secrets were generated (0 when every one already existed).
pub fn write(args: &DevSecretsArgs) -> anyhow::Result<usize> {
    let dir = &args.dir;
    let mut base = Base::open(&dir.join("base"))?;
    let operator_token = base.secret("operator_token")?;
    let frontend_token = base.secret("frontend_token")?;
    let admin_password = base.secret("rabbitmq_admin_password")?;
    let postgres_password = base.secret("postgres_password")?;
    let operator_amqp_password = base.secret("operator_amqp_password")?;
    let legacy_hash_key = base.secret("legacy_hash_key")?;
    // The bearer token mail servers (DSN) and feedback loops (ARF) present
    // to the notification service's delivery-report intake.
    let delivery_reports_token = base.secret("delivery_reports_token")?;
    let monitoring_database_password = base.secret("monitoring_database_password")?;
    let grafana_admin_password = base.secret("grafana_admin_password")?;
    let erlang_cookie = base.secret("rabbitmq_erlang_cookie")?;
    let web_cookie_key = base.secret("web_cookie_key")?;
    // Every service's token first: each service's CALLER_TOKENS names others'.
    let mut tokens = Vec::new();
    for queue in ServiceQueue::ALL {
        let service = queue.name();
        tokens.push((service, base.secret(&format!("{service}_service_token"))?));
    }

    let mut definitions = BrokerDefinitions::new(&args.amqp_namespace, "/")
        .queue_type(args.amqp_queue_type)
        .delivery_limit(args.amqp_delivery_limit);
    let postgres = dir.join("postgres");
    public_file(&postgres, "postgres_password", &postgres_password)?;
    // postgres-exporter logs in as the monitoring role (pg_monitor only).
    public_file(
        &postgres,
        "monitoring_password",
        &monitoring_database_password,
    )?;
    public_file(
        &dir.join("postgres-exporter"),
        "database_password",
        &monitoring_database_password,
    )?;
    public_file(
        &dir.join("grafana"),
        "admin_password",
        &grafana_admin_password,
    )?;
    for (queue, (service, token)) in ServiceQueue::ALL.into_iter().zip(&tokens) {
        let database_password = base.secret(&format!("{service}_database_password"))?;
        let amqp_password = base.secret(&format!("{service}_amqp_password"))?;
        public_file(
            &postgres,
            &format!("{service}_password"),
            &database_password,
        )?;
        let own = dir.join(service);
        public_file(
            &own,
            "database_url",
            &format!(
                "postgres://candor_{service}:{database_password}@{}/candor_{service}",
                args.postgres_host
            ),
        )?;
        let user = format!("candor-{service}");
        public_file(
            &own,
            "amqp_url",
            &amqp_url(&user, &amqp_password, &args.rabbitmq_host),
        )?;
        public_file(&own, "service_token", token)?;
        public_file(&own, "operator_token", &operator_token)?;
        public_file(
            &own,
            "caller_tokens",
            &caller_tokens(service, &tokens, &frontend_token),
        )?;
        if queue == ServiceQueue::Account {
            public_file(&own, "legacy_hash_key", &legacy_hash_key)?;
        }
        if queue == ServiceQueue::Notification {
            public_file(&own, "delivery_reports_token", &delivery_reports_token)?;
        }
        definitions = definitions.service_user(queue, &user, &SecretString::from(amqp_password));
    }

    // candor-web presents the front end's token to account and forum.
    let web = dir.join("web");
    public_file(&web, "frontend_token", &frontend_token)?;
    public_file(&web, "cookie_key", &web_cookie_key)?;

    let operator = dir.join("operator");
    public_file(&operator, "operator_token", &operator_token)?;
    public_file(&operator, "frontend_token", &frontend_token)?;
    public_file(&operator, "delivery_reports_token", &delivery_reports_token)?;
    public_file(&operator, "rabbitmq_admin_password", &admin_password)?;
    public_file(&operator, "grafana_admin_password", &grafana_admin_password)?;
    public_file(
        &operator,
        "amqp_url",
        &amqp_url(
            "candor-operator",
            &operator_amqp_password,
            &args.operator_rabbitmq_host,
        ),
    )?;

    let definitions = definitions
        .operator_user(
            "candor-operator",
            &SecretString::from(operator_amqp_password.as_str()),
        )
        .administrator_user("candor-admin", &SecretString::from(admin_password.as_str()))
        .to_json_string()
        .context("generating the RabbitMQ definitions")?;
    public_file(&dir.join("rabbitmq"), "definitions.json", &definitions)?;
    // Read by the nodes of deploy/compose.cluster.yml (one broker ignores it).
    public_file(&dir.join("rabbitmq"), "erlang_cookie", &erlang_cookie)?;
    Ok(base.generated)
}

/// One URL per host, comma-separated (the nodes of a cluster), as
/// `AMQP_URL` takes them.
fn amqp_url(user: &str, password: &str, hosts: &[String]) -> String {
    hosts
        .iter()
        .map(|host| format!("amqp://{user}:{password}@{}/%2f", host.trim()))
        .collect::<Vec<_>>()
        .join(",")
}

/// `CALLER_TOKENS` of `service`: the callers its permission table admits
/// (a service never holds a credential of a caller it does not serve).
fn caller_tokens(service: &str, tokens: &[(&str, String)], frontend_token: &str) -> String {
    let mut lines = Vec::new();
    for caller in callers_of_service(service) {
        let token = match caller {
            Caller::FrontEnd => Some(frontend_token.to_owned()),
            Caller::Operator => None, // OPERATOR_TOKEN
            other => tokens
                .iter()
                .find(|(name, _)| *name == other.name())
                .map(|(_, token)| token.clone()),
        };
        if let Some(token) = token {
            lines.push(format!("{}={token}", caller.name()));
        }
    }
    lines.join("\n")
}

/// The generated secrets, kept across runs.
struct Base {
    dir: PathBuf,
    generated: usize,
}

impl Base {
    fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        restrict(dir, 0o700)?;
        Ok(Self {
            dir: dir.to_owned(),
            generated: 0,
        })
    }

    /// The secret `name`: read when it exists, else 32 random bytes as hex
    /// (URL-safe, so it can sit in a database or AMQP URL unescaped).
    fn secret(&mut self, name: &str) -> anyhow::Result<String> {
        let path = self.dir.join(name);
        if let Ok(existing) = std::fs::read_to_string(&path) {
            let existing = existing.trim_end_matches(['\n', '\r']);
            anyhow::ensure!(
                existing.len() >= 16,
                "{} holds fewer than 16 characters",
                path.display()
            );
            anyhow::ensure!(
                existing
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c)),
                "{} may hold only letters, digits and -_.~ (it is put into URLs)",
                path.display()
            );
            return Ok(existing.to_owned());
        }
        let secret = hex::encode(rand::random::<[u8; 32]>());
        std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
        restrict(&path, 0o600)?;
        self.generated += 1;
        Ok(secret)
    }
}

/// Writes a derived file. Readable by every user of the container that
/// mounts its directory (PostgreSQL and RabbitMQ read theirs as their own
/// users), because each container mounts only its own directory.
fn public_file(dir: &Path, name: &str, content: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    restrict(dir, 0o755)?;
    let path = dir.join(name);
    std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
    restrict(&path, 0o644)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the permissions of {}", path.display()))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> anyhow::Result<()> {
    Ok(())
}
