//! The node processes of a [`RabbitCluster`]: starting them, running
//! `rabbitmqctl` against them, signalling and killing them (their process
//! group, the VM found by the node name in its environment), and killing
//! what a dead test run left behind.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

use anyhow::{Context, bail};
use candor_platform::sync::lock;

use super::{ClusterNode, RABBITMQ_BIN_DIR_VAR, RabbitCluster};

impl RabbitCluster {
    /// Starts one node's `rabbitmq-server` with everything of its own.
    pub(super) fn spawn(&self, node: &ClusterNode) -> anyhow::Result<()> {
        let dir = &node.dir;
        let mut config = String::from(
            "# A node of a test cluster (candor-testkit rabbitmq_cluster).\n\
             log.console = false\n\
             log.file.level = info\n",
        );
        let plugins = match node.management_port {
            Some(port) => {
                config.push_str(&format!(
                    "management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {port}\n"
                ));
                "[rabbitmq_management].\n"
            }
            None => "[].\n",
        };
        fs::write(dir.join("rabbitmq.conf"), config)?;
        fs::write(dir.join("enabled_plugins"), plugins)?;
        let log = fs::File::create(dir.join("stdout.log"))?;
        let child = self
            .command("rabbitmq-server")
            .current_dir(dir)
            .env("RABBITMQ_NODENAME", &node.name)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", node.amqp_port.to_string())
            .env("RABBITMQ_DIST_PORT", node.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", dir.join("advanced.config"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("RABBITMQ_PID_FILE", dir.join("pid"))
            // Erlang distribution on the loopback interface only.
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // A process group of its own: the script, the VM and its
            // helpers are killed together.
            .process_group(0)
            .spawn()
            .with_context(|| {
                format!(
                    "starting rabbitmq-server for {} (set {RABBITMQ_BIN_DIR_VAR} to RabbitMQ's scripts)",
                    node.name
                )
            })?;
        fs::write(dir.join("group"), child.id().to_string())?;
        *lock(&node.process) = Some(child);
        Ok(())
    }

    /// A RabbitMQ script with the cluster's cookie and no machine-wide
    /// environment file.
    pub(super) fn command(&self, script: &str) -> Command {
        let program = match &self.bin_dir {
            Some(dir) => dir.join(script),
            None => PathBuf::from(script),
        };
        let mut command = Command::new(program);
        command
            .env("HOME", &self.home)
            .env("RABBITMQ_CONF_ENV_FILE", self.dir.join("rabbitmq-env.conf"));
        command
    }

    /// Runs `rabbitmqctl -n <node> args…`; fails with its output.
    pub(super) fn ctl(&self, node: &ClusterNode, args: &[&str]) -> anyhow::Result<String> {
        let output = self
            .command("rabbitmqctl")
            .args(["-n", &node.name, "-q"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running rabbitmqctl")?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            bail!(
                "rabbitmqctl -n {} {} failed ({}): {stdout}{}",
                node.name,
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(stdout)
    }

    /// `rabbitmqctl … --formatter json` on the first node still up.
    pub(super) fn ctl_json(&self, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let node = self
            .nodes
            .iter()
            .find(|node| !node.down.load(Ordering::SeqCst))
            .context("every node of the cluster is down")?;
        let mut args = args.to_vec();
        args.extend(["--formatter", "json"]);
        let output = self.ctl(node, &args)?;
        serde_json::from_str(&output)
            .with_context(|| format!("rabbitmqctl {} printed {output}", args.join(" ")))
    }
}

/// Kills a node: its Erlang VM (by its pid file) and the process group of
/// the script that started it (which has exited already when the VM stopped
/// by itself).
pub(super) fn kill_node(node: &ClusterNode) {
    if let Some(pid) = vm_pid(&node.dir, &node.name) {
        kill(pid);
    }
    if let Some(mut child) = lock(&node.process).take() {
        signal_group(child.id(), "KILL");
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The pid in `<dir>/pid`, if that process is still the Erlang VM of `name`
/// (a pid may have been reused since). RabbitMQ starts distribution from
/// `RABBITMQ_NODENAME` inside the VM, so the name is in the process's
/// environment, not its command line.
pub(super) fn vm_pid(dir: &Path, name: &str) -> Option<u32> {
    let pid: u32 = fs::read_to_string(dir.join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    runs_node(pid, name).then_some(pid)
}

/// Whether process `pid` was started for node `name`.
pub(super) fn runs_node(pid: u32, name: &str) -> bool {
    let Ok(environment) = fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let wanted = format!("RABBITMQ_NODENAME={name}");
    environment
        .split(|byte| *byte == 0)
        .any(|variable| variable == wanted.as_bytes())
}

/// Signals every process of the group `group`.
pub(super) fn signal_group(group: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{group}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

pub(super) fn kill(pid: u32) {
    signal(pid, "KILL");
}

pub(super) fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Where every test cluster's directory is.
pub(super) fn clusters_dir() -> PathBuf {
    std::env::temp_dir().join("candor-rabbitmq-clusters")
}

/// Kills the nodes of clusters whose test process is gone (it crashed or
/// was killed before dropping them) and removes their directories.
pub(super) fn clean_up_after_dead_runs(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let owner = fs::read_to_string(dir.join("owner"))
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok());
        let alive = owner.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if alive {
            continue;
        }
        let id = entry.file_name().to_string_lossy().into_owned();
        for node in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let letter = node.file_name().to_string_lossy().into_owned();
            let name = format!("candor-{id}-{letter}@localhost");
            if let Some(pid) = vm_pid(&node.path(), &name) {
                eprintln!("test cluster: killing node {name}, left by a dead test run");
                kill(pid);
            }
            let group = fs::read_to_string(node.path().join("group"))
                .ok()
                .and_then(|pid| pid.trim().parse::<u32>().ok());
            if let Some(group) = group.filter(|pid| runs_node(*pid, &name)) {
                signal_group(group, "KILL");
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
