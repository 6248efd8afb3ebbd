//! `candorctl incident list`: the incidents the account service recorded,
//! newest first, as a table or JSON.

use std::process::ExitCode;

use candor_proto::account::v1::{IncidentSummary, ListIncidentsRequest};
use serde::Serialize;

use crate::commands::EXIT_UNREACHABLE;
use crate::endpoints::Endpoints;
use crate::errors::describe_anyhow;
use crate::output::{self, OutputArgs};
use crate::timefmt::rfc3339;

/// Incidents asked for per page.
const PAGE_SIZE: u32 = 100;

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Show at most this many incidents (the newest).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// One listed incident.
#[derive(Debug, Clone, Serialize)]
pub struct ListedIncident {
    pub incident_id: String,
    pub title: String,
    pub discovered_at: Option<String>,
    pub recorded_at: Option<String>,
    pub affected_accounts: u64,
    /// `recording` (affected set not frozen yet), `enumerating` or `complete`.
    pub enumeration: String,
    pub batches_enqueued: u32,
    pub batch_count: u32,
    pub enumeration_completed_at: Option<String>,
}

impl From<IncidentSummary> for ListedIncident {
    fn from(summary: IncidentSummary) -> Self {
        let enumeration = if summary.enumeration_completed_at.is_some() {
            "complete"
        } else if summary.batch_count == 0 && summary.affected_accounts == 0 {
            "recording"
        } else {
            "enumerating"
        };
        Self {
            incident_id: summary.incident_id,
            title: summary.title,
            discovered_at: summary.discovered_at.as_ref().map(rfc3339),
            recorded_at: summary.recorded_at.as_ref().map(rfc3339),
            affected_accounts: summary.affected_accounts,
            enumeration: enumeration.to_owned(),
            batches_enqueued: summary.batches_enqueued,
            batch_count: summary.batch_count,
            enumeration_completed_at: summary.enumeration_completed_at.as_ref().map(rfc3339),
        }
    }
}

pub async fn run(args: ListArgs, endpoints: &Endpoints) -> ExitCode {
    let (incidents, more) = match fetch(endpoints, args.limit as usize).await {
        Ok(listed) => listed,
        Err(error) => {
            eprintln!(
                "candorctl: cannot list the incidents: {}",
                describe_anyhow(&error)
            );
            return ExitCode::from(EXIT_UNREACHABLE);
        }
    };
    output::emit(args.output.output, &incidents, |incidents| {
        table(incidents).join("\n")
    });
    if more {
        eprintln!(
            "candorctl: more incidents were recorded before these; raise --limit to see them"
        );
    }
    ExitCode::SUCCESS
}

/// The newest `limit` incidents, and whether older ones exist.
async fn fetch(endpoints: &Endpoints, limit: usize) -> anyhow::Result<(Vec<ListedIncident>, bool)> {
    let mut client = endpoints
        .operator_channel(&endpoints.account_grpc_url)?
        .account();
    let mut incidents = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_incidents(ListIncidentsRequest {
                page_size: PAGE_SIZE,
                page_token,
            })
            .await
            .map_err(|status| anyhow::anyhow!("{}", status.message()))?
            .into_inner();
        incidents.extend(page.incidents.into_iter().map(ListedIncident::from));
        if incidents.len() >= limit || page.next_page_token.is_empty() {
            let more = incidents.len() > limit || !page.next_page_token.is_empty();
            incidents.truncate(limit);
            return Ok((incidents, more));
        }
        page_token = page.next_page_token;
    }
}

/// Aligned columns, a header first; "no incidents recorded" when empty.
fn table(incidents: &[ListedIncident]) -> Vec<String> {
    if incidents.is_empty() {
        return vec!["no incidents recorded".to_owned()];
    }
    let rows: Vec<[String; 5]> = incidents
        .iter()
        .map(|incident| {
            [
                incident.incident_id.clone(),
                incident.recorded_at.clone().unwrap_or_default(),
                incident.affected_accounts.to_string(),
                match incident.enumeration.as_str() {
                    "enumerating" => format!(
                        "enumerating {}/{}",
                        incident.batches_enqueued, incident.batch_count
                    ),
                    other => other.to_owned(),
                },
                incident.title.clone(),
            ]
        })
        .collect();
    let header = ["INCIDENT", "RECORDED", "AFFECTED", "ENUMERATION", "TITLE"].map(str::to_owned);
    let widths: Vec<usize> = (0..4)
        .map(|column| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or_default()
        })
        .collect();
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let mut line = String::new();
            for (column, width) in widths.iter().enumerate() {
                line.push_str(&format!("{:<width$}  ", row[column]));
            }
            line.push_str(&row[4]);
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_its_columns_and_names_the_enumeration_state() {
        let listed = |id: &str, batches: (u32, u32), done: bool| ListedIncident {
            incident_id: id.to_owned(),
            title: format!("Title of {id}"),
            discovered_at: None,
            recorded_at: Some("2025-05-20T10:00:00Z".to_owned()),
            affected_accounts: 1200,
            enumeration: if done { "complete" } else { "enumerating" }.to_owned(),
            batches_enqueued: batches.0,
            batch_count: batches.1,
            enumeration_completed_at: None,
        };
        let lines = table(&[
            listed("2025-06-second", (1, 3), false),
            listed("2025-05-first", (3, 3), true),
        ]);
        assert_eq!(
            lines,
            [
                "INCIDENT        RECORDED              AFFECTED  ENUMERATION      TITLE",
                "2025-06-second  2025-05-20T10:00:00Z  1200      enumerating 1/3  Title of 2025-06-second",
                "2025-05-first   2025-05-20T10:00:00Z  1200      complete         Title of 2025-05-first",
            ]
        );
        assert_eq!(table(&[]), ["no incidents recorded"]);
    }
}
