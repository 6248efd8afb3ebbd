//! `candorctl accounts import` and `candorctl seed`: load members into the
//! account service through the streaming `ImportAccounts` RPC.

pub mod csv_file;
pub mod seed;
pub mod stream;

use std::process::ExitCode;

use crate::endpoints::Endpoints;

#[derive(clap::Subcommand, Debug)]
pub enum AccountsCommand {
    /// Stream a CSV file (email, display_name, joined_at, hash_algorithm,
    /// salt, hash) into the account service; prints the summary with the
    /// line of every rejected record. Exit 0 when every record was
    /// imported, 1 when some were rejected.
    Import(Box<csv_file::ImportArgs>),
}

pub async fn run(command: AccountsCommand, endpoints: &Endpoints) -> ExitCode {
    match command {
        AccountsCommand::Import(args) => csv_file::run(*args, endpoints).await,
    }
}
