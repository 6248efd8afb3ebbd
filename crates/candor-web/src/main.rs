//! The candor-web binary: configuration from flags and the environment,
//! then the server until SIGTERM or Ctrl-C. `candor-web health [host:port]`
//! is the container's health check instead (GET /healthz, exit 0 on 200).

use std::process::ExitCode;

use candor_web::{App, Config};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("health") {
        let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        return health(&addr);
    }
    candor_platform::service::main::<Config, _, _, _>(
        candor_web::BINARY_NAME,
        |config| &config.telemetry,
        |config, shutdown| async move { App::build(config).await?.run_until(shutdown).await },
    )
}

fn health(addr: &str) -> ExitCode {
    let checked = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(candor_web::health::check(addr)));
    match checked {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("candor-web health: {error:#}");
            ExitCode::FAILURE
        }
    }
}
