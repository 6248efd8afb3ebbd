//! `candorctl breach report`: validate a breach notice and publish it as
//! `breach.reported`, or with `--dry-run` show what it would do.
//!
//! Before publishing it checks the operator's credential and compares the
//! notice with the incident the account service recorded (a changed
//! re-report is refused with the difference), asks for confirmation, and
//! after publishing waits until every service recorded the incident or
//! rejected it.

mod answers;
mod confirm;
mod difference;
mod wait;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use candor_platform::messaging::{
    Broker, DeadLetterWatch, OutgoingMessage, Publisher, ServiceQueue, Topology,
};
use candor_proto::account::v1::CountAffectedAccountsRequest;
use candor_proto::events::v1::{BREACH_REPORTED, BreachReported};
use candor_proto::notification::v1::RenderBreachNoticeRequest;

use super::{
    EXIT_INVALID_INPUT, EXIT_NOT_AUTHORIZED, EXIT_NOT_CONFIRMED_IN_TIME, EXIT_NOT_OK,
    EXIT_UNREACHABLE, EXIT_USAGE, send_test,
};
use crate::endpoints::Endpoints;
use crate::errors;
use crate::notice::{self, NoticeFlags};
use answers::NoAnswer;

#[derive(clap::Subcommand, Debug)]
pub enum BreachCommand {
    /// Validate a breach notice, check it against the incident as recorded,
    /// ask for confirmation, publish it to the `breach.reported` routing key
    /// (with a publisher confirm) and wait until every service recorded it.
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
    /// Publish nothing: compare with the incident as recorded (a changed
    /// re-report is named field by field, exit 65), count the accounts that
    /// would be affected (account service) and print a rendered sample
    /// email (notification service).
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: also send the rendered notice (text and HTML, as a
    /// sample member gets it, marked as a test) to this one address
    /// through the notification service's SMTP server.
    #[arg(long, value_name = "ADDRESS", requires = "dry_run", value_parser = send_test::parse_address)]
    pub send_test_to: Option<String>,
    /// Publish without asking for confirmation (required when standard
    /// input is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How long to wait, after publishing, for every service to record the
    /// incident or reject it.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub wait_seconds: u64,
    /// Return right after the publish, without waiting for the services.
    #[arg(long, conflicts_with = "wait_seconds")]
    pub no_wait: bool,
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
    if !args.yes && !confirm::can_ask() {
        eprintln!(
            "candorctl: breach report asks for confirmation before publishing and standard input is not a terminal: pass --yes to publish without asking"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    if let Err(refusal) = check_before_publishing(&breach, endpoints).await {
        return refusal;
    }
    if !args.yes {
        match confirmed(&breach, endpoints).await {
            Ok(true) => {}
            Ok(false) => {
                eprintln!("candorctl: not published");
                return ExitCode::from(EXIT_NOT_OK);
            }
            Err(refusal) => return refusal,
        }
    }
    let wait = (!args.no_wait).then(|| Duration::from_secs(args.wait_seconds));
    publish_and_wait(&breach, endpoints, wait).await
}

/// Authenticates as the operator and compares the notice with what the
/// services recorded; `Err` carries the exit code of a refusal (printed).
async fn check_before_publishing(
    breach: &BreachReported,
    endpoints: &Endpoints,
) -> Result<(), ExitCode> {
    let incident_id = &breach.incident_id;
    match answers::account_incident(endpoints, incident_id).await {
        Ok(None) => {}
        Ok(Some(recorded)) if difference::same_content(&recorded, breach) => {
            eprintln!(
                "candorctl: incident {incident_id} is already reported with the same content: publishing it again changes nothing"
            );
            return Ok(());
        }
        Ok(Some(recorded)) => {
            eprintln!(
                "candorctl: incident {incident_id} was already reported with different content, and every service would reject this notice; nothing was published:"
            );
            for change in difference::differences(&recorded, breach) {
                eprintln!("{change}");
            }
            eprintln!(
                "Report the recorded content again, or report the change as a new incident (another --incident-id)."
            );
            return Err(ExitCode::from(EXIT_INVALID_INPUT));
        }
        Err(NoAnswer::Refused(status)) => {
            let hint = if endpoints.operator_token.is_some() {
                "OPERATOR_TOKEN is not an operator's token"
            } else {
                "OPERATOR_TOKEN is not set (nor OPERATOR_TOKEN_FILE)"
            };
            eprintln!(
                "candorctl: the account service refused the operator credential ({}): {hint}; nothing was published",
                errors::describe_status(&status)
            );
            return Err(ExitCode::from(EXIT_NOT_AUTHORIZED));
        }
        Err(NoAnswer::Failed(reason)) => {
            eprintln!(
                "candorctl: cannot check the incident with the account service ({}): {reason}; nothing was published",
                endpoints.account_grpc_url
            );
            return Err(ExitCode::from(EXIT_UNREACHABLE));
        }
    }
    // The account service has no record. A service that has one got a
    // report the account service has not processed (yet): its content
    // cannot be compared, and its answer would not be about this notice.
    let (notification, membership, forum) = tokio::join!(
        answers::recorded(endpoints, ServiceQueue::Notification, incident_id),
        answers::recorded(endpoints, ServiceQueue::Membership, incident_id),
        answers::recorded(endpoints, ServiceQueue::Forum, incident_id),
    );
    let ahead: Vec<&str> = [
        (ServiceQueue::Notification, notification),
        (ServiceQueue::Membership, membership),
        (ServiceQueue::Forum, forum),
    ]
    .into_iter()
    .filter(|(_, answer)| matches!(answer, Ok(true)))
    .map(|(service, _)| service.name())
    .collect();
    if !ahead.is_empty() {
        eprintln!(
            "candorctl: {} already recorded incident {incident_id} but the account service has not (an earlier report still in progress, or one that reached only some services); nothing was published. Check `candorctl incident status {incident_id}` and report again once the account service has recorded it.",
            ahead.join(", ")
        );
        return Err(ExitCode::from(EXIT_NOT_OK));
    }
    Ok(())
}

/// Shows what the publish will do and asks.
async fn confirmed(breach: &BreachReported, endpoints: &Endpoints) -> Result<bool, ExitCode> {
    let count = count_affected(breach, endpoints).await.map_err(|error| {
        eprintln!(
            "candorctl: cannot count the affected accounts with the account service ({}): {}; nothing was published",
            endpoints.account_grpc_url,
            errors::describe_anyhow(&error)
        );
        ExitCode::from(EXIT_UNREACHABLE)
    })?;
    confirm::ask(&confirm::summary(breach, &count)).map_err(|error| {
        eprintln!("candorctl: cannot read the answer: {error}; nothing was published");
        ExitCode::from(EXIT_USAGE)
    })
}

/// Publishes, then (with `wait`) waits for every service's answer.
async fn publish_and_wait(
    breach: &BreachReported,
    endpoints: &Endpoints,
    wait: Option<Duration>,
) -> ExitCode {
    let incident_id = &breach.incident_id;
    let broker = match Broker::connect(&endpoints.amqp()).await {
        Ok(broker) => broker,
        Err(error) => {
            eprintln!(
                "candorctl: cannot publish to RabbitMQ at AMQP_URL: {}",
                errors::describe_anyhow(&error)
            );
            return ExitCode::from(EXIT_UNREACHABLE);
        }
    };
    // Bound before the publish, so that no dead letter of it is missed.
    let watch = match wait {
        Some(_) => watch_dead_letters(&broker, endpoints).await,
        None => None,
    };
    let published = publish_on(&broker, breach).await;
    let exit = match published {
        Err(error) => {
            eprintln!(
                "candorctl: cannot publish to RabbitMQ at AMQP_URL: {}",
                errors::describe_anyhow(&error)
            );
            ExitCode::from(EXIT_UNREACHABLE)
        }
        Ok(message_id) => {
            println!("published incident {incident_id} (message {message_id})");
            match wait {
                None => {
                    println!(
                        "not waiting for the services (--no-wait): follow with `candorctl incident status {incident_id}`"
                    );
                    ExitCode::SUCCESS
                }
                Some(timeout) => {
                    println!(
                        "waiting up to {} s for every service to record it",
                        timeout.as_secs()
                    );
                    let outcome = wait::wait_for_answers(
                        endpoints,
                        watch.as_ref(),
                        breach,
                        &message_id,
                        timeout,
                        &mut std::io::stdout(),
                    )
                    .await;
                    verdict(incident_id, &outcome)
                }
            }
        }
    };
    if let Some(watch) = watch {
        watch.close().await;
    }
    broker.close().await;
    exit
}

/// The exit code of the services' answers, with a closing line.
fn verdict(incident_id: &str, outcome: &wait::Outcome) -> ExitCode {
    let rejected: Vec<(ServiceQueue, &str)> = outcome.rejected().collect();
    if !rejected.is_empty() {
        for (service, reason) in &rejected {
            let first_line = reason.lines().next().unwrap_or_default();
            eprintln!(
                "candorctl: {} rejected incident {incident_id}: {first_line}",
                service.name()
            );
        }
        return ExitCode::from(EXIT_NOT_OK);
    }
    if outcome.all_recorded() {
        println!("incident {incident_id} recorded by every service");
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "candorctl: incident {incident_id} is published but not every service confirmed it in time: follow with `candorctl incident status {incident_id}`"
    );
    ExitCode::from(EXIT_NOT_CONFIRMED_IN_TIME)
}

/// Opens the dead-letter watch; without it a rejection shows as no answer.
async fn watch_dead_letters(broker: &Broker, endpoints: &Endpoints) -> Option<DeadLetterWatch> {
    let topology = Topology::new(&endpoints.amqp_namespace);
    let opened = match broker.channel().await {
        Ok(channel) => DeadLetterWatch::open(channel, &topology).await,
        Err(error) => Err(error),
    };
    match opened {
        Ok(watch) => Some(watch),
        Err(error) => {
            eprintln!(
                "candorctl: cannot watch the dead letters ({}): a service rejecting the incident will show as no answer",
                errors::describe_anyhow(&error)
            );
            None
        }
    }
}

/// Publishes with a confirm; an unroutable message (no Candor service has
/// declared its queues yet) is an error, not a silent loss.
pub async fn publish(breach: &BreachReported, endpoints: &Endpoints) -> anyhow::Result<()> {
    let broker = Broker::connect(&endpoints.amqp()).await?;
    let result = publish_on(&broker, breach).await;
    broker.close().await;
    result.map(drop)
}

/// Publishes on `broker`; returns the message id.
async fn publish_on(broker: &Broker, breach: &BreachReported) -> anyhow::Result<String> {
    let message = OutgoingMessage::from_protobuf(BREACH_REPORTED, breach);
    let message_id = message.message_id.clone();
    Publisher::new(broker.clone()).publish(message).await?;
    Ok(message_id)
}

async fn dry_run(
    breach: &BreachReported,
    endpoints: &Endpoints,
    send_test_to: Option<&str>,
) -> ExitCode {
    let mut unreachable = false;
    let mut would_be_refused = false;
    match answers::account_incident(endpoints, &breach.incident_id).await {
        Ok(None) => {}
        Ok(Some(recorded)) if difference::same_content(&recorded, breach) => println!(
            "incident {} is already reported with the same content: publishing it again changes nothing",
            breach.incident_id
        ),
        Ok(Some(recorded)) => {
            would_be_refused = true;
            eprintln!(
                "candorctl: warning: incident {} was already reported with different content; publishing this notice would be refused:",
                breach.incident_id
            );
            for change in difference::differences(&recorded, breach) {
                eprintln!("{change}");
            }
        }
        Err(error) => {
            unreachable = true;
            eprintln!(
                "candorctl: account service ({}): cannot compare with the recorded incident: {error}",
                endpoints.account_grpc_url
            );
        }
    }
    match count_affected(breach, endpoints).await {
        Ok(count) => println!(
            "would affect {} accounts ({} of them without an email address, told in the product; {} deactivated excluded; {} other accounts must change their password)",
            count.affected_accounts,
            count.without_email,
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
    match (unreachable, would_be_refused, test_sent) {
        (true, _, _) => ExitCode::from(EXIT_UNREACHABLE),
        (false, true, _) => ExitCode::from(EXIT_INVALID_INPUT),
        (false, false, Err(code)) => ExitCode::from(code),
        (false, false, Ok(())) => ExitCode::SUCCESS,
    }
}

async fn count_affected(
    breach: &BreachReported,
    endpoints: &Endpoints,
) -> anyhow::Result<candor_proto::account::v1::CountAffectedAccountsResponse> {
    let mut client = endpoints
        .operator_channel(&endpoints.account_grpc_url)?
        .account();
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
    let mut client = endpoints
        .operator_channel(&endpoints.notification_grpc_url)?
        .notification();
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
