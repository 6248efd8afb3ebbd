//! Sends import records to `ImportAccounts` in chunks while they are still
//! being read, so a million-line file needs no more memory than one chunk.

use std::io::IsTerminal;

use candor_proto::account::v1::{ImportAccountsRequest, ImportAccountsResponse, ImportRecord};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::endpoints::Endpoints;

/// Records per stream message (the RPC takes up to 1000).
const CHUNK: usize = 500;

/// Streams `records` (read on a blocking thread: they come from a file or a
/// generator) and returns the service's summary. `total` sizes the progress
/// bar when known.
pub async fn import<I>(
    endpoints: &Endpoints,
    records: I,
    total: Option<u64>,
) -> anyhow::Result<ImportAccountsResponse>
where
    I: Iterator<Item = ImportRecord> + Send + 'static,
{
    let progress = progress_bar(total);
    let (sender, receiver) = mpsc::channel::<ImportAccountsRequest>(4);
    let bar = progress.clone();
    let producer = tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(CHUNK);
        for record in records {
            chunk.push(record);
            if chunk.len() == CHUNK {
                bar.inc(CHUNK as u64);
                let records = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                if sender
                    .blocking_send(ImportAccountsRequest { records })
                    .is_err()
                {
                    return;
                }
            }
        }
        if !chunk.is_empty() {
            bar.inc(chunk.len() as u64);
            let _ = sender.blocking_send(ImportAccountsRequest { records: chunk });
        }
    });
    let mut client = endpoints
        .operator_stream_channel(&endpoints.account_grpc_url)?
        .account()
        .max_decoding_message_size(64 * 1024 * 1024);
    let response = client.import_accounts(ReceiverStream::new(receiver)).await;
    let _ = producer.await;
    progress.finish_and_clear();
    Ok(response
        .map_err(|status| {
            anyhow::anyhow!("ImportAccounts: {:?}: {}", status.code(), status.message())
        })?
        .into_inner())
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::new_spinner(),
    };
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} records {per_sec} eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Prints the summary; exit status 0 when nothing was rejected.
pub fn print_summary(summary: &ImportAccountsResponse, local_rejections: &[(u64, String)]) -> bool {
    println!(
        "received {}, imported {}, rejected {}",
        summary.received + local_rejections.len() as u64,
        summary.imported,
        summary.rejected + local_rejections.len() as u64
    );
    for (line, message) in local_rejections {
        println!("line {line}: {message}");
    }
    for rejection in &summary.rejections {
        println!(
            "line {}: {}: {}",
            rejection.line_number,
            rejection
                .reason()
                .as_str_name()
                .trim_start_matches("IMPORT_REJECTION_REASON_"),
            rejection.message
        );
    }
    if summary.rejections_truncated {
        println!("(more rejections not listed)");
    }
    summary.rejected == 0 && local_rejections.is_empty()
}
