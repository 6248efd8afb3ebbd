//! Whole-system checks for Candor. The library lists what each service
//! binary accepts (read from the services' own clap definitions, so it cannot
//! drift); the tests hold the deployment files and the README to it.

use clap::CommandFactory;

pub mod mailbox;
pub mod stack;

/// One service binary and the settings it accepts.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// The compose service name (`account`, …).
    pub compose_name: &'static str,
    /// The binary (`candor-account`, …).
    pub binary: &'static str,
    /// The default gRPC port.
    pub default_port: u16,
    /// Every setting: (environment variable, required without default).
    pub settings: Vec<Setting>,
}

/// One configuration setting of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub env: String,
    pub long_flag: String,
    pub required: bool,
    pub default: Option<String>,
}

/// The four services as their code defines them.
pub fn services() -> Vec<ServiceSettings> {
    vec![
        describe(
            "account",
            candor_account::BINARY_NAME,
            &candor_account::Config::command(),
        ),
        describe(
            "notification",
            candor_notification::BINARY_NAME,
            &candor_notification::Config::command(),
        ),
        describe(
            "membership",
            candor_membership::BINARY_NAME,
            &candor_membership::Config::command(),
        ),
        describe(
            "forum",
            candor_forum::BINARY_NAME,
            &candor_forum::Config::command(),
        ),
    ]
}

fn describe(
    compose_name: &'static str,
    binary: &'static str,
    command: &clap::Command,
) -> ServiceSettings {
    let settings: Vec<Setting> = command
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_string_lossy().into_owned();
            Some(Setting {
                env,
                long_flag: arg
                    .get_long()
                    .map(|long| format!("--{long}"))
                    .unwrap_or_default(),
                required: arg.is_required_set(),
                default: arg
                    .get_default_values()
                    .first()
                    .map(|value| value.to_string_lossy().into_owned()),
            })
        })
        .collect();
    let default_port = settings
        .iter()
        .find(|setting| setting.env == "GRPC_ADDR")
        .and_then(|setting| setting.default.as_deref())
        .and_then(|addr| addr.rsplit(':').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_default();
    ServiceSettings {
        compose_name,
        binary,
        default_port,
        settings,
    }
}
