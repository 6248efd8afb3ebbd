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

    /// The binary's file name (`candor-account`), which is also the
    /// service's name in its logs and metrics.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
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
    /// The environment variables this binary is given.
    pub fn environment(&self) -> &[(String, String)] {
        &self.env
    }

    pub fn output(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", self.path.display()))
    }

    /// Starts the service in the background; it is killed if dropped.
    pub fn spawn(&self) -> anyhow::Result<RunningBinary> {
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.path.display()))?;
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        Ok(RunningBinary {
            child: Some(child),
            stdout,
            stderr,
        })
    }
}

/// How a process ended and what it printed.
#[derive(Debug)]
pub struct Exited {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Reads a pipe to its end on a thread, so a chatty process never blocks on
/// a full pipe.
fn drain(
    pipe: Option<impl std::io::Read + Send + 'static>,
) -> Option<std::thread::JoinHandle<String>> {
    let mut pipe = pipe?;
    std::thread::Builder::new()
        .name("binary-output".to_owned())
        .spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
        .ok()
}

/// A service process started by [`ServiceBinary::spawn`]; its output is
/// collected while it runs and handed back when it exits.
pub struct RunningBinary {
    child: Option<std::process::Child>,
    stdout: Option<std::thread::JoinHandle<String>>,
    stderr: Option<std::thread::JoinHandle<String>>,
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
                let collect = |reader: Option<std::thread::JoinHandle<String>>| {
                    reader
                        .and_then(|reader| reader.join().ok())
                        .unwrap_or_default()
                };
                return Ok(Exited {
                    status,
                    stdout: collect(self.stdout.take()),
                    stderr: collect(self.stderr.take()),
                });
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                bail!("process did not exit within {timeout:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id (for reading `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, std::process::Child::id)
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
