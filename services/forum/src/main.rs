//! The candor-forum binary: configuration from flags and the environment,
//! then the app until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use candor_forum::{App, Config};

fn main() -> ExitCode {
    candor_platform::service::main::<Config, _, _, _>(
        candor_forum::BINARY_NAME,
        |config| &config.common.telemetry,
        |config, shutdown| async move { App::build(config).await?.run_until(shutdown).await },
    )
}
