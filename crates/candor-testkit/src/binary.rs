//! Runs a service's real binary the way an operator would: with only the
//! environment given here (nothing inherited but `PATH`), checks `--help`,
//! configuration errors, health, and a clean exit on SIGTERM.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A service binary plus the environment it runs with.
#[derive(Debug, Clone)]
pub struct ServiceBinary {
    path: PathBuf,
    env: Vec<(String, String)>,
}

impl ServiceBinary {
    /// `path` is usually `env!("CARGO_BIN_EXE_candor-account")`.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_owned(),
            env: Vec::new(),
        }
    }

    /// Adds (or replaces) one environment variable.
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.retain(|(existing, _)| existing != name);
        self.env.push((name.to_owned(), value.into()));
        self
    }

    /// Removes one environment variable.
    pub fn without(mut self, name: &str) -> Self {
        self.env.retain(|(existing, _)| existing != name);
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.path);
        command.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command.envs(self.env.iter().map(|(name, value)| (name, value)));
        command
    }

    /// Runs with `args` to completion (for `--help` and configuration errors).
    pub fn output(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", self.path.display()))
    }

    /// Starts the service in the background; it is killed if dropped.
    pub fn spawn(&self) -> anyhow::Result<RunningBinary> {
        let child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.path.display()))?;
        Ok(RunningBinary { child: Some(child) })
    }
}

/// How a process ended and what it printed.
#[derive(Debug)]
pub struct Exited {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A service process started by [`ServiceBinary::spawn`]. Its output is
/// collected when it exits; it logs little enough at the levels tests use
/// that the pipes do not fill.
pub struct RunningBinary {
    child: Option<std::process::Child>,
}

impl RunningBinary {
    /// Sends SIGTERM and waits for the exit; returns what it printed.
    pub fn terminate(mut self, timeout: Duration) -> anyhow::Result<Exited> {
        let mut child = self.child.take().context("process already reaped")?;
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -TERM failed: {status}");
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                let mut exited = Exited {
                    status,
                    stdout: String::new(),
                    stderr: String::new(),
                };
                if let Some(mut pipe) = child.stdout.take() {
                    std::io::Read::read_to_string(&mut pipe, &mut exited.stdout)?;
                }
                if let Some(mut pipe) = child.stderr.take() {
                    std::io::Read::read_to_string(&mut pipe, &mut exited.stderr)?;
                }
                return Ok(exited);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                bail!("process did not exit within {timeout:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the process has already exited (it should not have).
    pub fn has_exited(&mut self) -> anyhow::Result<bool> {
        match self.child.as_mut() {
            Some(child) => Ok(child.try_wait()?.is_some()),
            None => Ok(true),
        }
    }
}

impl Drop for RunningBinary {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port that was free a moment ago on 127.0.0.1 (for a binary that must
/// be told its address up front).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
