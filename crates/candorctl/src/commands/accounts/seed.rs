//! `candorctl seed`: demo members for a fresh stack, imported the same way
//! a real member base is. Every seeded member's password is
//! [`DEMO_PASSWORD`] (stored as a salted SHA-1 legacy hash, so the first
//! login also shows the upgrade to argon2id).

use std::process::ExitCode;

use candor_proto::account::v1::{ImportRecord, LegacyHashAlgorithm, LegacyPasswordHash};
use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use sha1::{Digest, Sha1};

use super::stream;
use crate::commands::{EXIT_INVALID_INPUT, EXIT_NOT_OK, EXIT_UNREACHABLE};
use crate::endpoints::Endpoints;
use crate::notice::file::{parse_time, timestamp};

/// The password of every seeded member (demo data only).
pub const DEMO_PASSWORD: &str = "candor-demo-password";

#[derive(clap::Args, Debug)]
pub struct SeedArgs {
    /// How many members to create.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub accounts: u64,
    /// The breach cutoff the demo is built around (RFC 3339 or YYYY-MM-DD).
    #[arg(long, default_value = "2011-11-01")]
    pub joined_before: String,
    /// Share of members who joined before the cutoff, 0.0..=1.0.
    #[arg(long, default_value_t = 0.6)]
    pub share: f64,
    /// Email domain of the seeded members.
    #[arg(long, default_value = "members.candor.example")]
    pub domain: String,
    /// Seed of the generator: the same seed makes the same members.
    #[arg(long, default_value_t = 42)]
    pub random_seed: u64,
}

pub async fn run(args: SeedArgs, endpoints: &Endpoints) -> ExitCode {
    let cutoff = match parse_time(&args.joined_before) {
        Ok(cutoff) => cutoff,
        Err(message) => {
            eprintln!("candorctl: --joined-before: {message}");
            return ExitCode::from(EXIT_INVALID_INPUT);
        }
    };
    if !(0.0..=1.0).contains(&args.share) {
        eprintln!("candorctl: --share: must be between 0.0 and 1.0");
        return ExitCode::from(EXIT_INVALID_INPUT);
    }
    let members = members(
        args.accounts,
        cutoff,
        args.share,
        args.domain.clone(),
        args.random_seed,
    );
    match stream::import(endpoints, members, Some(args.accounts)).await {
        Ok(summary) => {
            let clean = stream::print_summary(&summary, &[]);
            println!("every seeded member's password is {DEMO_PASSWORD:?}");
            if clean {
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

/// `count` members: about `share` of them joined in the ten years before
/// `cutoff`, the others between the cutoff and now.
pub fn members(
    count: u64,
    cutoff: DateTime<Utc>,
    share: f64,
    domain: String,
    seed: u64,
) -> impl Iterator<Item = ImportRecord> + Send + 'static {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let early_span = Duration::days(3650).num_seconds();
    let late_span = (Utc::now() - cutoff).num_seconds().max(1);
    (1..=count).map(move |number| {
        let joined_at = if rng.random_bool(share) {
            cutoff - Duration::seconds(rng.random_range(1..=early_span))
        } else {
            cutoff + Duration::seconds(rng.random_range(0..late_span))
        };
        let salt = format!("{:08x}", rng.random::<u32>());
        let hash = hex::encode(Sha1::digest(format!("{salt}{DEMO_PASSWORD}").as_bytes()));
        ImportRecord {
            line_number: number,
            email: format!("member{number}@{domain}"),
            display_name: format!("Member {number}"),
            joined_at: Some(timestamp(joined_at)),
            password_hash: Some(LegacyPasswordHash {
                algorithm: LegacyHashAlgorithm::SaltedSha1 as i32,
                salt,
                hash,
            }),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_the_share_joined_before_the_cutoff_and_the_demo_password_verifies() {
        let cutoff = parse_time("2011-11-01").unwrap();
        let members: Vec<ImportRecord> =
            members(2000, cutoff, 0.6, "example.org".to_owned(), 7).collect();
        let before = members
            .iter()
            .filter(|member| member.joined_at.unwrap().seconds < cutoff.timestamp())
            .count();
        assert!(
            (1000..1400).contains(&before),
            "{before} of 2000 joined before the cutoff"
        );
        let hash = members[0].password_hash.as_ref().unwrap();
        let expected = hex::encode(Sha1::digest(
            format!("{}{DEMO_PASSWORD}", hash.salt).as_bytes(),
        ));
        assert_eq!(hash.hash, expected);
        assert_eq!(members[41].email, "member42@example.org");
    }

    #[test]
    fn the_same_seed_makes_the_same_members() {
        let cutoff = parse_time("2011-11-01").unwrap();
        let first: Vec<ImportRecord> = members(50, cutoff, 0.5, "x.org".to_owned(), 1).collect();
        let second: Vec<ImportRecord> = members(50, cutoff, 0.5, "x.org".to_owned(), 1).collect();
        assert_eq!(first, second);
    }
}
