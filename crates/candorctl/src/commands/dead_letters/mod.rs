//! `candorctl dead-letters list|show|replay|purge`: the messages the
//! services gave up on, in their dead-letter queues
//! (`<namespace>.<service>.dead-letter`, named by the platform's
//! `Topology`), read over the broker as the operator's broker user.

mod letter;
mod sweep;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use candor_platform::messaging::ownership::{EventOwner, ROUTES};
use candor_platform::messaging::{
    Broker, HEADER_ATTEMPTS, HEADER_DEAD_LETTERED_AT, HEADER_ERROR, HEADER_ORIGINAL_ROUTING_KEY,
    HEADER_ORIGINAL_USER_ID, HEADER_REPLAYS, OutgoingMessage, Publisher, ServiceQueue, Topology,
    header_string,
};

use super::{EXIT_NOT_OK, EXIT_UNREACHABLE, EXIT_USAGE};
use crate::endpoints::Endpoints;
use crate::errors;
use crate::output::{self, OutputArgs, table};
pub use letter::{DeadLetter, Payload};
use sweep::Sweep;

/// Returns of one message after which `list` warns (quorum queues on
/// RabbitMQ 4.0–4.2 drop a message returned 20 times; see `sweep`).
const RETURNS_WARNING: u32 = 10;

#[derive(clap::Subcommand, Debug)]
pub enum DeadLettersCommand {
    /// One line per dead letter: service, original routing key, incident,
    /// message id, when, and the reason. Nothing is removed.
    List(ListArgs),
    /// One dead letter's properties, headers and payload (a Candor event
    /// decoded to JSON; secrets are never shown). Nothing is removed.
    Show(ShowArgs),
    /// Republish dead letters to their original routing key on the events
    /// exchange (header x-candor-replays counts the replays); each one
    /// leaves its dead-letter queue only after the broker confirmed the
    /// publish. Only operator-owned keys (breach.reported) can be replayed.
    Replay(ReplayArgs),
    /// Remove dead letters for good (asks first; --yes without a terminal).
    Purge(PurgeArgs),
}

/// Which dead letters a command works on; every filter given must match.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Selection {
    /// Only this service's dead-letter queue (repeatable; default: all four).
    #[arg(long = "service", value_parser = ["account", "notification", "membership", "forum"])]
    pub services: Vec<String>,
    /// Only dead letters about this incident.
    #[arg(long = "incident")]
    pub incident: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// The message id, as `list` shows it.
    pub message_id: String,
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// Only these message ids (default: every selected dead letter).
    pub message_ids: Vec<String>,
    #[command(flatten)]
    pub selection: Selection,
}

#[derive(clap::Args, Debug)]
pub struct PurgeArgs {
    /// Only these message ids (default: every selected dead letter).
    pub message_ids: Vec<String>,
    #[command(flatten)]
    pub selection: Selection,
    /// Do not ask for confirmation (needed without a terminal).
    #[arg(long)]
    pub yes: bool,
}

impl Selection {
    fn services(&self) -> Vec<ServiceQueue> {
        ServiceQueue::ALL
            .into_iter()
            .filter(|service| {
                self.services.is_empty() || self.services.iter().any(|name| name == service.name())
            })
            .collect()
    }

    fn matches(&self, letter: &DeadLetter, message_ids: &[String]) -> bool {
        let incident_matches = self
            .incident
            .as_ref()
            .is_none_or(|incident| letter.incident_id.as_ref() == Some(incident));
        let id_matches = message_ids.is_empty()
            || letter
                .message_id
                .as_ref()
                .is_some_and(|id| message_ids.contains(id));
        incident_matches && id_matches
    }
}

pub async fn run(command: DeadLettersCommand, endpoints: &Endpoints) -> ExitCode {
    if let DeadLettersCommand::Purge(args) = &command
        && !args.yes
        && !std::io::stdin().is_terminal()
    {
        eprintln!("candorctl: refusing to purge without --yes: there is no terminal to ask");
        return ExitCode::from(EXIT_USAGE);
    }
    let broker = match Broker::connect(&endpoints.amqp()).await {
        Ok(broker) => broker,
        Err(error) => {
            eprintln!(
                "candorctl: cannot connect to RabbitMQ at AMQP_URL: {}",
                errors::describe_anyhow(&error)
            );
            return ExitCode::from(EXIT_UNREACHABLE);
        }
    };
    let topology = Topology::new(&endpoints.amqp_namespace);
    let code = match command {
        DeadLettersCommand::List(args) => list(&broker, &topology, &args).await,
        DeadLettersCommand::Show(args) => show(&broker, &topology, &args).await,
        DeadLettersCommand::Replay(args) => replay(&broker, &topology, &args).await,
        DeadLettersCommand::Purge(args) => purge(&broker, &topology, &args).await,
    };
    broker.close().await;
    code
}

/// Reads the selected queues and returns every message; `Err` names the
/// queue that could not be read.
async fn read_all(
    broker: &Broker,
    topology: &Topology,
    selection: &Selection,
) -> Result<Vec<DeadLetter>, String> {
    let mut letters = Vec::new();
    for service in selection.services() {
        let queue = topology.dead_letter_queue_name(service.name());
        let outcome = async {
            let mut sweep = Sweep::open(broker, &queue).await?;
            while let Some(delivery) = sweep.next().await? {
                letters.push(DeadLetter::from_delivery(service.name(), &queue, &delivery));
            }
            sweep.finish().await
        };
        outcome
            .await
            .map_err(|error| errors::describe_anyhow(&error))?;
    }
    Ok(letters)
}

async fn list(broker: &Broker, topology: &Topology, args: &ListArgs) -> ExitCode {
    let letters = match read_all(broker, topology, &args.selection).await {
        Ok(letters) => letters,
        Err(error) => return unreachable(&error),
    };
    let letters: Vec<DeadLetter> = letters
        .into_iter()
        .filter(|letter| args.selection.matches(letter, &[]))
        .collect();
    let worn = letters
        .iter()
        .filter(|letter| returns(letter) >= RETURNS_WARNING)
        .count();
    if worn > 0 {
        eprintln!(
            "candorctl: warning: {worn} dead letters were returned to their queue {RETURNS_WARNING} or more times; RabbitMQ 4.0 to 4.2 drop a quorum queue's message at 20: replay or purge them"
        );
    }
    let summaries: Vec<Summary> = letters.iter().map(Summary::from).collect();
    output::emit(args.output.output, &summaries, |summaries| {
        if summaries.is_empty() {
            return "no dead letters\n".to_owned();
        }
        let rows: Vec<Vec<String>> = summaries
            .iter()
            .map(|summary| {
                let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
                vec![
                    summary.service.to_owned(),
                    text(&summary.routing_key),
                    text(&summary.incident_id),
                    text(&summary.message_id),
                    text(&summary.dead_lettered_at),
                    table::fit(&text(&summary.reason), 200),
                ]
            })
            .collect();
        table::columns(
            &[
                "SERVICE",
                "ROUTING-KEY",
                "INCIDENT",
                "MESSAGE-ID",
                "DEAD-LETTERED",
                "REASON",
            ],
            &rows,
        )
    });
    ExitCode::SUCCESS
}

/// A dead letter in `list`.
#[derive(Debug, serde::Serialize)]
struct Summary {
    service: &'static str,
    routing_key: Option<String>,
    incident_id: Option<String>,
    message_id: Option<String>,
    dead_lettered_at: Option<String>,
    reason: Option<String>,
    replays: u32,
}

impl From<&DeadLetter> for Summary {
    fn from(letter: &DeadLetter) -> Self {
        Self {
            service: letter.service,
            routing_key: letter.routing_key.clone(),
            incident_id: letter.incident_id.clone(),
            message_id: letter.message_id.clone(),
            dead_lettered_at: letter.dead_lettered_at.clone(),
            reason: letter.reason.clone(),
            replays: letter.replays,
        }
    }
}

/// How often the broker returned a message (quorum queues count it).
fn returns(letter: &DeadLetter) -> u32 {
    letter
        .headers
        .get("x-delivery-count")
        .and_then(|count| count.parse().ok())
        .unwrap_or(0)
}

async fn show(broker: &Broker, topology: &Topology, args: &ShowArgs) -> ExitCode {
    let letters = match read_all(broker, topology, &args.selection).await {
        Ok(letters) => letters,
        Err(error) => return unreachable(&error),
    };
    let ids = [args.message_id.clone()];
    let Some(letter) = letters
        .into_iter()
        .find(|letter| args.selection.matches(letter, &ids))
    else {
        eprintln!(
            "candorctl: no dead letter with message id {:?} in the selected queues",
            args.message_id
        );
        return ExitCode::from(EXIT_NOT_OK);
    };
    output::emit(args.output.output, &letter, describe);
    ExitCode::SUCCESS
}

/// A dead letter for people: its facts, its headers, its payload.
fn describe(letter: &DeadLetter) -> String {
    let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    let facts = [
        ("message id", text(&letter.message_id)),
        ("service", letter.service.to_owned()),
        ("queue", letter.queue.clone()),
        ("routing key", text(&letter.routing_key)),
        ("incident", text(&letter.incident_id)),
        ("reason", text(&letter.reason)),
        ("dead-lettered", text(&letter.dead_lettered_at)),
        ("published", text(&letter.published_at)),
        ("published by", text(&letter.published_by)),
        ("handler attempts", text(&letter.attempts)),
        ("replays", letter.replays.to_string()),
        ("type", text(&letter.message_type)),
        ("content type", text(&letter.content_type)),
    ];
    let mut out = String::new();
    for (name, value) in facts {
        out.push_str(&format!("{:<17}{value}\n", format!("{name}:")));
    }
    out.push_str("\nheaders:\n");
    for (name, value) in &letter.headers {
        out.push_str(&format!("  {name}: {value}\n"));
    }
    out.push_str("\npayload:\n");
    match &letter.payload {
        Payload::Event { json } => {
            out.push_str(&serde_json::to_string_pretty(json).unwrap_or_default());
        }
        Payload::Json { json, error } => {
            out.push_str(&format!("(not a valid event: {error})\n"));
            out.push_str(&serde_json::to_string_pretty(json).unwrap_or_default());
        }
        Payload::Undecodable { bytes, error } => {
            out.push_str(&format!("({bytes} bytes, not shown: {error})"));
        }
    }
    out.push('\n');
    out
}

async fn replay(broker: &Broker, topology: &Topology, args: &ReplayArgs) -> ExitCode {
    let publisher = Publisher::new(broker.clone());
    let mut replayed = 0_usize;
    let mut failed = 0_usize;
    for service in args.selection.services() {
        let queue = topology.dead_letter_queue_name(service.name());
        let outcome = async {
            let mut sweep = Sweep::open(broker, &queue).await?;
            while let Some(delivery) = sweep.next().await? {
                let letter = DeadLetter::from_delivery(service.name(), &queue, &delivery);
                if !args.selection.matches(&letter, &args.message_ids) {
                    continue;
                }
                let id = letter
                    .message_id
                    .clone()
                    .unwrap_or_else(|| "(no id)".to_owned());
                match replay_one(&publisher, &letter, &delivery).await {
                    Ok(routing_key) => {
                        // Only now, with the publish confirmed, may it go.
                        sweep.remove(delivery.delivery_tag).await?;
                        replayed += 1;
                        println!(
                            "replayed {id} from {} to {routing_key} (replay {})",
                            letter.service,
                            letter.replays + 1
                        );
                    }
                    Err(reason) => {
                        failed += 1;
                        eprintln!("candorctl: not replayed {id} (left in {queue}): {reason}");
                    }
                }
            }
            sweep.finish().await
        };
        if let Err(error) = outcome.await {
            eprintln!("candorctl: {}", errors::describe_anyhow(&error));
            return ExitCode::from(EXIT_UNREACHABLE);
        }
    }
    println!("{replayed} replayed, {failed} not replayed");
    if failed > 0 {
        ExitCode::from(EXIT_NOT_OK)
    } else {
        ExitCode::SUCCESS
    }
}

/// Publishes one dead letter again to its original routing key, as the
/// operator's broker user; the routing key on success.
async fn replay_one(
    publisher: &Publisher,
    letter: &DeadLetter,
    delivery: &lapin::message::Delivery,
) -> Result<String, String> {
    let Some(routing_key) = &letter.routing_key else {
        return Err("its original routing key is not known".to_owned());
    };
    let owner = ROUTES
        .iter()
        .find(|rule| rule.routing_key == routing_key)
        .map(|rule| rule.owner);
    match owner {
        Some(EventOwner::Operators) => {}
        Some(owner) => {
            let service = owner.service().map_or("another", ServiceQueue::name);
            return Err(format!(
                "{routing_key} is published only by the {service} service's broker user; the broker and every consumer refuse it from an operator"
            ));
        }
        None => {
            return Err(format!(
                "{routing_key:?} is not a routing key of Candor's contract"
            ));
        }
    }
    let properties = &delivery.properties;
    let mut message = OutgoingMessage::new(routing_key.clone(), delivery.data.clone())
        .with_header(HEADER_REPLAYS, (letter.replays + 1).to_string());
    if let Some(content_type) = &letter.content_type {
        message = message.with_content_type(content_type.clone());
    }
    if let Some(message_id) = &letter.message_id {
        message = message.with_message_id(message_id.clone());
    }
    if let Some(message_type) = &letter.message_type {
        message = message.with_message_type(message_type.clone());
    }
    if let Some(published) = properties
        .timestamp()
        .and_then(|seconds| i64::try_from(seconds).ok())
        .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
    {
        message = message.with_timestamp(published);
    }
    // The original headers (trace context, …) travel on; what the
    // dead-lettering added does not.
    let dropped = [
        HEADER_ERROR,
        HEADER_ORIGINAL_ROUTING_KEY,
        HEADER_ATTEMPTS,
        HEADER_ORIGINAL_USER_ID,
        HEADER_DEAD_LETTERED_AT,
        HEADER_REPLAYS,
    ];
    let headers = properties.headers().clone().unwrap_or_default();
    for name in headers.inner().keys() {
        let name = name.as_str();
        let broker_added = name.starts_with("x-death")
            || name.starts_with("x-first-death")
            || name.starts_with("x-last-death")
            || name == "x-delivery-count"
            || name == "x-acquired-count";
        if dropped.contains(&name) || broker_added {
            continue;
        }
        if let Some(value) = header_string(&headers, name) {
            message = message.with_header(name, value);
        }
    }
    publisher
        .publish(message)
        .await
        .map_err(|error| errors::describe(&error))?;
    Ok(routing_key.clone())
}

async fn purge(broker: &Broker, topology: &Topology, args: &PurgeArgs) -> ExitCode {
    // Take every selected message first (held, so still safe), ask, then
    // remove those and return the rest.
    let mut sweeps = Vec::new();
    let mut chosen: Vec<(usize, u64)> = Vec::new();
    for service in args.selection.services() {
        let queue = topology.dead_letter_queue_name(service.name());
        let taken = async {
            let mut sweep = Sweep::open(broker, &queue).await?;
            let mut tags = Vec::new();
            while let Some(delivery) = sweep.next().await? {
                let letter = DeadLetter::from_delivery(service.name(), &queue, &delivery);
                if args.selection.matches(&letter, &args.message_ids) {
                    tags.push(delivery.delivery_tag);
                }
            }
            anyhow::Ok((sweep, tags))
        };
        match taken.await {
            Ok((sweep, tags)) => {
                let index = sweeps.len();
                chosen.extend(tags.into_iter().map(|tag| (index, tag)));
                sweeps.push(sweep);
            }
            Err(error) => {
                for sweep in sweeps {
                    let _ = sweep.finish().await;
                }
                return unreachable(&errors::describe_anyhow(&error));
            }
        }
    }
    let confirmed = chosen.is_empty() || args.yes || confirm(chosen.len());
    let mut purged = 0_usize;
    if confirmed {
        for (index, tag) in &chosen {
            if let Some(sweep) = sweeps.get_mut(*index) {
                if let Err(error) = sweep.remove(*tag).await {
                    eprintln!("candorctl: {}", errors::describe_anyhow(&error));
                    break;
                }
                purged += 1;
            }
        }
    }
    for sweep in sweeps {
        if let Err(error) = sweep.finish().await {
            eprintln!("candorctl: {}", errors::describe_anyhow(&error));
        }
    }
    println!("{purged} dead letters purged");
    if confirmed && purged == chosen.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_OK)
    }
}

/// Asks on the terminal; anything but `y`/`yes` is no.
fn confirm(count: usize) -> bool {
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "Purge {count} dead letters for good? [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn unreachable(error: &str) -> ExitCode {
    eprintln!("candorctl: {error}");
    ExitCode::from(EXIT_UNREACHABLE)
}
