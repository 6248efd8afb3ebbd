//! `candorctl accounts import FILE.csv`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use candor_proto::account::v1::{ImportRecord, LegacyHashAlgorithm, LegacyPasswordHash};

use super::stream;
use crate::commands::{EXIT_INVALID_INPUT, EXIT_NOT_OK, EXIT_UNREACHABLE};
use crate::endpoints::Endpoints;
use crate::notice::file::{parse_time, timestamp};

/// The columns, in this order, with a header line.
pub const HEADER: [&str; 6] = [
    "email",
    "display_name",
    "joined_at",
    "hash_algorithm",
    "salt",
    "hash",
];

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The CSV file: a header line `email,display_name,joined_at,hash_algorithm,salt,hash`,
    /// then one member per line. `joined_at` is RFC 3339 or YYYY-MM-DD;
    /// `hash_algorithm` is salted_sha1, salted_md5, md5, bcrypt, argon2id,
    /// or empty for no password.
    pub file: PathBuf,
}

/// Lines the tool could not turn into records (line, reason).
type LocalRejections = Arc<Mutex<Vec<(u64, String)>>>;

pub async fn run(args: ImportArgs, endpoints: &Endpoints) -> ExitCode {
    let mut reader = match csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&args.file)
    {
        Ok(reader) => reader,
        Err(error) => {
            eprintln!("candorctl: {}: {error}", args.file.display());
            return ExitCode::from(EXIT_INVALID_INPUT);
        }
    };
    match reader.headers() {
        Ok(header) if header.iter().map(str::trim).eq(HEADER) => {}
        Ok(header) => {
            eprintln!(
                "candorctl: {}:1: the header must be `{}`, found `{}`",
                args.file.display(),
                HEADER.join(","),
                header.iter().collect::<Vec<_>>().join(",")
            );
            return ExitCode::from(EXIT_INVALID_INPUT);
        }
        Err(error) => {
            eprintln!("candorctl: {}:1: {error}", args.file.display());
            return ExitCode::from(EXIT_INVALID_INPUT);
        }
    }
    let total = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        count_records(&args.file)
    } else {
        None
    };
    let local: LocalRejections = Arc::default();
    let records = records(reader, local.clone());
    match stream::import(endpoints, records, total).await {
        Ok(summary) => {
            let local = local.lock().map(|list| list.clone()).unwrap_or_default();
            if stream::print_summary(&summary, &local) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_NOT_OK)
            }
        }
        Err(error) => {
            eprintln!(
                "candorctl: account service ({}): {}",
                endpoints.account_grpc_url,
                crate::errors::describe_anyhow(&error)
            );
            ExitCode::from(EXIT_UNREACHABLE)
        }
    }
}

/// The file's records, read lazily; a line that is not a record at all is
/// noted in `local` with its line number and skipped.
fn records(
    reader: csv::Reader<std::fs::File>,
    local: LocalRejections,
) -> impl Iterator<Item = ImportRecord> + Send + 'static {
    reader.into_records().filter_map(move |row| {
        let row = match row {
            Ok(row) => row,
            Err(error) => {
                let line = error
                    .position()
                    .map(csv::Position::line)
                    .unwrap_or_default();
                note(&local, line, format!("not a CSV record: {error}"));
                return None;
            }
        };
        let line = row.position().map(csv::Position::line).unwrap_or_default();
        match record(&row, line) {
            Ok(record) => Some(record),
            Err(message) => {
                note(&local, line, message);
                None
            }
        }
    })
}

fn note(local: &LocalRejections, line: u64, message: String) {
    if let Ok(mut list) = local.lock() {
        list.push((line, message));
    }
}

/// One CSV row as an import record; what only the service can judge
/// (address syntax, duplicates, hash shape) is left to it.
pub fn record(row: &csv::StringRecord, line: u64) -> Result<ImportRecord, String> {
    if row.len() != HEADER.len() {
        return Err(format!(
            "expected {} columns, found {}",
            HEADER.len(),
            row.len()
        ));
    }
    let field = |index: usize| row.get(index).unwrap_or_default().trim().to_owned();
    let joined_at = parse_time(&field(2)).map_err(|message| format!("joined_at: {message}"))?;
    let algorithm = field(3);
    let password_hash = if algorithm.is_empty() {
        None
    } else {
        let full = format!("LEGACY_HASH_ALGORITHM_{}", algorithm.to_ascii_uppercase());
        let algorithm = LegacyHashAlgorithm::from_str_name(&full)
            .filter(|algorithm| *algorithm != LegacyHashAlgorithm::Unspecified)
            .ok_or_else(|| format!("hash_algorithm: unknown algorithm {algorithm:?} (salted_sha1, salted_md5, md5, bcrypt, argon2id)"))?;
        Some(LegacyPasswordHash {
            algorithm: algorithm as i32,
            salt: row.get(4).unwrap_or_default().to_owned(),
            hash: field(5),
        })
    };
    Ok(ImportRecord {
        line_number: line,
        email: field(0),
        display_name: field(1),
        joined_at: Some(timestamp(joined_at)),
        password_hash,
    })
}

/// Lines after the header, to size the progress bar (only on a terminal).
fn count_records(path: &std::path::Path) -> Option<u64> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut buffer = vec![0_u8; 1 << 16];
    let mut lines = 0_u64;
    loop {
        let read = file.read(&mut buffer).ok()?;
        if read == 0 {
            return Some(lines.saturating_sub(1));
        }
        lines += buffer[..read].iter().filter(|byte| **byte == b'\n').count() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fields: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(fields.to_vec())
    }

    #[test]
    fn a_full_row_becomes_a_record_with_its_line() {
        let record = record(
            &row(&[
                "ada@example.org",
                "Ada",
                "2010-05-01",
                "salted_sha1",
                "s4lt",
                "ABCDEF",
            ]),
            7,
        )
        .unwrap();
        assert_eq!(record.line_number, 7);
        assert_eq!(record.email, "ada@example.org");
        assert_eq!(record.joined_at.unwrap().seconds, 1_272_672_000);
        let hash = record.password_hash.unwrap();
        assert_eq!(hash.algorithm(), LegacyHashAlgorithm::SaltedSha1);
        assert_eq!(hash.salt, "s4lt");
    }

    #[test]
    fn an_empty_algorithm_means_no_password() {
        let record = record(
            &row(&["", "No Email", "2010-05-01T00:00:00Z", "", "", ""]),
            2,
        )
        .unwrap();
        assert!(record.password_hash.is_none());
        assert!(record.email.is_empty());
    }

    #[test]
    fn bad_rows_name_the_field() {
        let bad_time = record(&row(&["a@b.c", "A", "yesterday", "", "", ""]), 3).unwrap_err();
        assert!(bad_time.starts_with("joined_at:"), "{bad_time}");
        let bad_algorithm =
            record(&row(&["a@b.c", "A", "2010-01-01", "rot13", "", "x"]), 4).unwrap_err();
        assert!(
            bad_algorithm.starts_with("hash_algorithm:"),
            "{bad_algorithm}"
        );
        let short = record(&row(&["a@b.c", "A"]), 5).unwrap_err();
        assert!(short.contains("expected 6 columns"), "{short}");
    }
}
