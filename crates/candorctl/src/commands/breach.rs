//! `candorctl breach report`: validate a breach notice and publish it as
//! `breach.reported`, or with `--dry-run` show what it would do.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use candor_platform::messaging::{Broker, OutgoingMessage, Publisher};
use candor_proto::account::v1::CountAffectedAccountsRequest;
use candor_proto::account::v1::account_service_client::AccountServiceClient;
use candor_proto::events::v1::{BREACH_REPORTED, BreachReported};
use candor_proto::notification::v1::RenderBreachNoticeRequest;
use candor_proto::notification::v1::notification_service_client::NotificationServiceClient;

use super::{EXIT_INVALID_INPUT, EXIT_UNREACHABLE, send_test};
use crate::endpoints::Endpoints;
use crate::errors;
use crate::notice::{self, NoticeFlags};

#[derive(clap::Subcommand, Debug)]
pub enum BreachCommand {
    /// Validate a breach notice and publish it to the `breach.reported`
    /// routing key (with a publisher confirm); prints the incident id.
    Report(Box<ReportArgs>),
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The notice as a TOML file (see `deploy/examples/breach.toml`); flags
    /// override its fields.
    #[arg(long, short)]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub notice: NoticeFlags,
    /// Publish nothing: count the accounts that would be affected (account
    /// service) and print a rendered sample email (notification service).
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: also send the rendered notice (text and HTML, as a
    /// sample member gets it, marked as a test) to this one address
    /// through the notification service's SMTP server.
    #[arg(long, value_name = "ADDRESS", requires = "dry_run", value_parser = send_test::parse_address)]
    pub send_test_to: Option<String>,
}

pub async fn run(command: BreachCommand, endpoints: &Endpoints) -> ExitCode {
    match command {
        BreachCommand::Report(args) => report(*args, endpoints).await,
    }
}

async fn report(args: ReportArgs, endpoints: &Endpoints) -> ExitCode {
    let breach = match notice::load(args.file.as_deref(), &args.notice, SystemTime::now()) {
        Ok(breach) => breach,
        Err(problems) => {
            eprintln!("candorctl: the notice is not valid:\n{problems}");
            return ExitCode::from(EXIT_INVALID_INPUT);
        }
    };
    if args.dry_run {
        return dry_run(&breach, endpoints, args.send_test_to.as_deref()).await;
    }
    match publish(&breach, endpoints).await {
        Ok(()) => {
            println!("{}", breach.incident_id);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!(
                "candorctl: cannot publish to RabbitMQ at AMQP_URL: {}",
                errors::describe_anyhow(&error)
            );
            ExitCode::from(EXIT_UNREACHABLE)
        }
    }
}

/// Publishes with a confirm; an unroutable message (no Candor service has
/// declared its queues yet) is an error, not a silent loss.
pub async fn publish(breach: &BreachReported, endpoints: &Endpoints) -> anyhow::Result<()> {
    let broker = Broker::connect(&endpoints.amqp()).await?;
    let publisher = Publisher::new(broker.clone());
    let result = publisher
        .publish(OutgoingMessage::from_protobuf(BREACH_REPORTED, breach))
        .await;
    broker.close().await;
    result?;
    Ok(())
}

async fn dry_run(
    breach: &BreachReported,
    endpoints: &Endpoints,
    send_test_to: Option<&str>,
) -> ExitCode {
    let mut unreachable = false;
    match count_affected(breach, endpoints).await {
        Ok(count) => println!(
            "would affect {} accounts ({} without an email and {} deactivated excluded; {} other accounts must change their password)",
            count.affected_accounts,
            count.excluded_without_email,
            count.excluded_deactivated,
            count.other_accounts_change_required
        ),
        Err(error) => {
            unreachable = true;
            eprintln!(
                "candorctl: account service ({}): {}",
                endpoints.account_grpc_url,
                errors::describe_anyhow(&error)
            );
        }
    }
    match sample_email(breach, endpoints).await {
        Ok(sample) => {
            println!("--- sample email");
            println!("Subject: {}", sample.subject);
            for header in &sample.headers {
                println!("{}: {}", header.name, header.value);
            }
            println!();
            println!("{}", sample.text_body);
        }
        Err(error) => {
            unreachable = true;
            eprintln!(
                "candorctl: notification service ({}): {}",
                endpoints.notification_grpc_url,
                errors::describe_anyhow(&error)
            );
        }
    }
    let test_sent = match send_test_to {
        Some(address) => send_test::send_test_notice(breach, endpoints, address).await,
        None => Ok(()),
    };
    match (unreachable, test_sent) {
        (true, _) => ExitCode::from(EXIT_UNREACHABLE),
        (false, Err(code)) => ExitCode::from(code),
        (false, Ok(())) => ExitCode::SUCCESS,
    }
}

async fn count_affected(
    breach: &BreachReported,
    endpoints: &Endpoints,
) -> anyhow::Result<candor_proto::account::v1::CountAffectedAccountsResponse> {
    let mut client =
        AccountServiceClient::new(endpoints.operator_channel(&endpoints.account_grpc_url)?);
    let response = client
        .count_affected_accounts(CountAffectedAccountsRequest {
            affected_joined_before: breach.affected_joined_before,
            password_reset_scope: breach.password_reset_scope,
        })
        .await?;
    Ok(response.into_inner())
}

async fn sample_email(
    breach: &BreachReported,
    endpoints: &Endpoints,
) -> anyhow::Result<candor_proto::notification::v1::RenderBreachNoticeResponse> {
    let mut client = NotificationServiceClient::new(
        endpoints.operator_channel(&endpoints.notification_grpc_url)?,
    );
    let response = client
        .render_breach_notice(RenderBreachNoticeRequest {
            incident: Some(breach.clone()),
            display_name: "Ada Lovelace".to_owned(),
            to_address: "ada@example.org".to_owned(),
            thread_url: String::new(),
        })
        .await?;
    Ok(response.into_inner())
}
