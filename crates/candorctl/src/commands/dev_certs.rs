//! `candorctl dev-certs`: a throwaway certificate authority, one
//! certificate for every compose service (`cert.pem`), and one per caller
//! (`<caller>-cert.pem`, `<caller>-key.pem` for `operator`, `account`,
//! `notification`, `membership`, `forum`, `frontend`) whose DNS name is the
//! caller's name, so that with mutual TLS the certificate identifies its
//! caller; to try the TLS switch (`deploy/compose.tls.yml`). For
//! development only: the CA's key is not kept, and the key files are
//! readable by the containers' user.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use candor_platform::auth::Caller;
use candor_platform::grpc::certificates::CertificateAuthority;

/// The names compose's services reach each other and the host reaches them by.
const COMPOSE_HOSTS: &str = "account,notification,membership,forum,localhost,127.0.0.1";

#[derive(clap::Args, Debug)]
pub struct DevCertsArgs {
    /// Directory to write `ca.pem`, `cert.pem` and `key.pem` into (created
    /// when missing; existing files are replaced).
    #[arg(long, default_value = "deploy/certs")]
    out: PathBuf,

    /// Comma-separated DNS names and IP addresses the certificate is for.
    #[arg(long, value_delimiter = ',', default_value = COMPOSE_HOSTS)]
    hosts: Vec<String>,
}

pub async fn run(args: DevCertsArgs) -> ExitCode {
    match write(&args.out, &args.hosts) {
        Ok(()) => {
            println!(
                "wrote {0}/ca.pem, {0}/cert.pem and {0}/key.pem for {1}, and {0}/<caller>-cert.pem and -key.pem naming each caller (development only)",
                args.out.display(),
                args.hosts.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("candorctl: dev-certs: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Generates a CA and a certificate for `hosts` (server and client use, so
/// it also serves mutual TLS) into `out`.
pub fn write(out: &Path, hosts: &[String]) -> anyhow::Result<()> {
    anyhow::ensure!(
        hosts.iter().any(|host| !host.trim().is_empty()),
        "--hosts names no host"
    );
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;

    let hosts: Vec<String> = hosts
        .iter()
        .map(|host| host.trim().to_owned())
        .filter(|host| !host.is_empty())
        .collect();
    let ca = CertificateAuthority::generate("Candor development CA")?;
    let cert = ca
        .issue("Candor development services", &hosts)
        .context("--hosts")?;

    let mut files = vec![
        ("ca.pem".to_owned(), ca.cert_pem.clone()),
        ("cert.pem".to_owned(), cert.cert_pem),
        ("key.pem".to_owned(), cert.key_pem),
    ];
    for caller in Caller::ALL {
        // The caller's name first (it identifies the caller), then the
        // hosts, minus other callers' names (a certificate naming two
        // callers identifies neither).
        let mut names = vec![caller.name().to_owned()];
        names.extend(
            hosts
                .iter()
                .filter(|host| host.parse::<Caller>().is_err())
                .cloned(),
        );
        let issued = ca
            .issue(&format!("Candor {caller}"), &names)
            .with_context(|| format!("the {caller} certificate"))?;
        files.push((format!("{caller}-cert.pem"), issued.cert_pem));
        files.push((format!("{caller}-key.pem"), issued.key_pem));
    }
    for (name, contents) in files {
        let path = out.join(&name);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
