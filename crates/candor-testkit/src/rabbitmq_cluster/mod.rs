//! A RabbitMQ cluster of its own for a test: three (or more) extra nodes on
//! this machine beside the shared broker, which they never touch. Each node
//! has its own name (`candor-<id>-a@localhost`, …), AMQP and distribution
//! ports, data and log directories, configuration and plugins file under
//! one temporary directory; the first also serves the management API (for
//! the per-test users of [`TestBroker::with_users_on`]). The others join it
//! with `rabbitmqctl stop_app / join_cluster / start_app`.
//!
//! A test can stop a node (SIGTERM, an orderly shutdown) or kill it, and
//! ask which node leads a quorum queue and which node each connection is on.
//! Every node is killed when the cluster is dropped; nodes left behind by a
//! test process that died are killed by the next cluster started.
//!
//! Its async methods run `rabbitmqctl` in place: use them on tokio's
//! multi-threaded runtime. Needs RabbitMQ's own scripts (`rabbitmq-server`,
//! `rabbitmqctl`): from `CANDOR_TEST_RABBITMQ_BIN_DIR`, else
//! `/usr/lib/rabbitmq/bin` (Debian's package, whose `/usr/sbin` wrappers
//! would switch to the `rabbitmq` user), else the `PATH`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::binary::free_port;
use crate::management::ManagementApi;
use crate::rabbitmq::TestBroker;

mod processes;

use processes::{clean_up_after_dead_runs, clusters_dir, kill_node, signal, vm_pid};

/// Where RabbitMQ's scripts are, when not in `/usr/lib/rabbitmq/bin` or on
/// the `PATH`.
pub const RABBITMQ_BIN_DIR_VAR: &str = "CANDOR_TEST_RABBITMQ_BIN_DIR";
const DEBIAN_BIN_DIR: &str = "/usr/lib/rabbitmq/bin";
/// How long a node may take to boot, and a cluster to form, on a busy
/// 2-core machine.
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);
/// The administrator every node has (RabbitMQ's default user, which may
/// log in only from this machine).
const ADMIN_USER: &str = "guest";
const ADMIN_PASSWORD: &str = "guest";
/// Ports RabbitMQ's CLI tools take for their own distribution (35672-35682
/// by default); no node port may fall there.
const CLI_DIST_PORTS: std::ops::RangeInclusive<u16> = 35_600..=35_700;

/// A running cluster; every node is killed on drop.
#[derive(Debug)]
pub struct RabbitCluster {
    /// Temporary directory of this cluster: `owner` (the test process id)
    /// and one directory per node.
    dir: PathBuf,
    bin_dir: Option<PathBuf>,
    /// `HOME` of every node and CLI call: holds the cluster's Erlang cookie.
    home: PathBuf,
    nodes: Vec<ClusterNode>,
}

#[derive(Debug)]
struct ClusterNode {
    /// `candor-<id>-a@localhost`.
    name: String,
    amqp_port: u16,
    dist_port: u16,
    management_port: Option<u16>,
    dir: PathBuf,
    /// The `rabbitmq-server` script, which starts the Erlang VM as its
    /// child; the VM's own pid is in `<dir>/pid`.
    process: Mutex<Option<Child>>,
    /// True once stopped or killed by the test.
    down: AtomicBool,
}

/// One AMQP connection as the cluster lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConnection {
    /// The broker user it logged in as.
    pub user: String,
    /// The node it is on (an index into the cluster's nodes).
    pub node: usize,
    /// The name the client gave it (`candor <pid>` for Candor's).
    pub name: String,
}

impl RabbitCluster {
    /// Starts three nodes and clusters them.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_nodes(3).await
    }

    /// Starts `count` nodes (`a`, `b`, …) and joins the others to the
    /// first; returns once every node runs in the cluster.
    pub async fn start_nodes(count: usize) -> anyhow::Result<Self> {
        tokio::task::spawn_blocking(move || Self::start_blocking(count))
            .await
            .context("starting the RabbitMQ cluster")?
    }

    fn start_blocking(count: usize) -> anyhow::Result<Self> {
        if !(1..=26).contains(&count) {
            bail!("a test cluster has 1 to 26 nodes, not {count}");
        }
        let base = clusters_dir();
        clean_up_after_dead_runs(&base);
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let dir = base.join(&id);
        let home = dir.join("home");
        fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
        fs::write(dir.join("owner"), std::process::id().to_string())?;
        // Read instead of the machine's /etc/rabbitmq/rabbitmq-env.conf,
        // which names the shared node.
        fs::write(dir.join("rabbitmq-env.conf"), "")?;
        write_cookie(&home, &uuid::Uuid::new_v4().simple().to_string())?;
        let mut nodes = Vec::with_capacity(count);
        for index in 0..count {
            let letter = char::from(b'a' + u8::try_from(index).unwrap_or(0));
            let node_dir = dir.join(letter.to_string());
            fs::create_dir_all(&node_dir)?;
            nodes.push(ClusterNode {
                name: format!("candor-{id}-{letter}@localhost"),
                amqp_port: node_port()?,
                dist_port: node_port()?,
                management_port: if index == 0 { Some(node_port()?) } else { None },
                dir: node_dir,
                process: Mutex::new(None),
                down: AtomicBool::new(false),
            });
        }
        let cluster = Self {
            dir,
            bin_dir: bin_dir(),
            home,
            nodes,
        };
        // From here on, drop kills whatever started.
        for node in &cluster.nodes {
            cluster.spawn(node)?;
        }
        for node in &cluster.nodes {
            let pid_file = node.dir.join("pid");
            cluster
                .ctl(
                    node,
                    &[
                        "wait",
                        &pid_file.to_string_lossy(),
                        "--timeout",
                        &BOOT_TIMEOUT.as_secs().to_string(),
                    ],
                )
                .with_context(|| format!("{} did not boot", node.name))?;
        }
        let first = &cluster.nodes[0];
        for node in &cluster.nodes[1..] {
            cluster.ctl(node, &["stop_app"])?;
            cluster
                .ctl(node, &["join_cluster", &first.name])
                .with_context(|| format!("{} cannot join {}", node.name, first.name))?;
            cluster.ctl(node, &["start_app"])?;
        }
        cluster.wait_until_all_running()?;
        Ok(cluster)
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a cluster has at least one node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The Erlang name of node `index` (`candor-<id>-a@localhost`).
    pub fn node_name(&self, index: usize) -> &str {
        &self.nodes[index].name
    }

    /// The AMQP port of node `index` (on 127.0.0.1).
    pub fn amqp_port(&self, index: usize) -> u16 {
        self.nodes[index].amqp_port
    }

    /// `AMQP_URL` for `user`, listing the nodes in the order of `order`
    /// (indexes), comma-separated, in the default virtual host.
    pub fn amqp_url(&self, user: &str, password: &str, order: &[usize]) -> String {
        order
            .iter()
            .map(|&index| {
                format!(
                    "amqp://{user}:{password}@127.0.0.1:{}/%2f",
                    self.nodes[index].amqp_port
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The administrator's `AMQP_URL` listing every node in `order`.
    pub fn admin_url(&self, order: &[usize]) -> String {
        self.amqp_url(ADMIN_USER, ADMIN_PASSWORD, order)
    }

    /// The management API of the first node, as the administrator.
    pub fn management(&self) -> anyhow::Result<ManagementApi> {
        let port = self.nodes[0]
            .management_port
            .context("the first node serves the management API")?;
        ManagementApi::at(&format!("http://127.0.0.1:{port}"), &self.admin_url(&[0]))
    }

    /// A test namespace on this cluster with a broker user per service and
    /// an operator ([`TestBroker::with_users_on`]), whose URLs list the
    /// nodes in `order`: a service connects to the first and fails over to
    /// the next. The topology is created through the first node. Nothing is
    /// deleted when it is dropped: the cluster goes with it.
    pub async fn test_broker(&self, order: &[usize]) -> anyhow::Result<TestBroker> {
        Ok(
            TestBroker::with_users_on(&self.admin_url(order), self.management()?)
                .await?
                .without_cleanup(),
        )
    }

    /// Stops node `index` as `docker stop` or systemd would: SIGTERM to its
    /// Erlang VM, on which RabbitMQ shuts down in order (clients
    /// disconnected, quorum queue replicas stopped, so the others elect a
    /// new leader). Returns once the VM has exited. A signal rather than
    /// `rabbitmqctl stop`, whose own VM takes a second or two to start: the
    /// test chooses the moment.
    pub async fn stop_node(&self, index: usize) -> anyhow::Result<()> {
        self.blocking(move |cluster| {
            let node = &cluster.nodes[index];
            node.down.store(true, Ordering::SeqCst);
            let pid = vm_pid(&node.dir, &node.name)
                .with_context(|| format!("{} is not running", node.name))?;
            signal(pid, "TERM");
            let deadline = Instant::now() + BOOT_TIMEOUT;
            while Path::new(&format!("/proc/{pid}")).exists() {
                if Instant::now() >= deadline {
                    bail!("{} did not stop within {BOOT_TIMEOUT:?}", node.name);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            kill_node(node);
            Ok(())
        })
        .await
    }

    /// Kills node `index`'s Erlang VM (SIGKILL): its TCP connections are
    /// reset without a word, as when a machine dies.
    pub async fn kill_node(&self, index: usize) -> anyhow::Result<()> {
        self.blocking(move |cluster| {
            let node = &cluster.nodes[index];
            node.down.store(true, Ordering::SeqCst);
            kill_node(node);
            Ok(())
        })
        .await
    }

    /// The node leading the quorum queue `queue` (its full name, in the
    /// default virtual host), as an index into the nodes.
    pub async fn leader_of(&self, queue: &str) -> anyhow::Result<usize> {
        let queue = queue.to_owned();
        self.blocking(move |cluster| {
            let listed = cluster.ctl_json(&["list_queues", "-p", "/", "name", "leader"])?;
            let leader = listed
                .as_array()
                .into_iter()
                .flatten()
                .find(|entry| entry["name"] == queue.as_str())
                .and_then(|entry| entry["leader"].as_str())
                .with_context(|| format!("no quorum queue {queue} with a leader: {listed}"))?
                .to_owned();
            cluster.index_of(&leader)
        })
        .await
    }

    /// Every AMQP connection of the cluster, with the node it is on.
    pub async fn connections(&self) -> anyhow::Result<Vec<ClusterConnection>> {
        self.blocking(|cluster| {
            let listed = cluster.ctl_json(&["list_connections", "user", "port", "name"])?;
            let mut connections = Vec::new();
            for entry in listed.as_array().into_iter().flatten() {
                let port = entry["port"].as_u64().unwrap_or_default();
                let Some(node) = cluster
                    .nodes
                    .iter()
                    .position(|node| u64::from(node.amqp_port) == port)
                else {
                    continue;
                };
                connections.push(ClusterConnection {
                    user: entry["user"].as_str().unwrap_or_default().to_owned(),
                    node,
                    name: entry["name"].as_str().unwrap_or_default().to_owned(),
                });
            }
            Ok(connections)
        })
        .await
    }

    /// The nodes running RabbitMQ in the cluster, by index.
    pub async fn running_nodes(&self) -> anyhow::Result<Vec<usize>> {
        self.blocking(|cluster| cluster.running_node_indexes())
            .await
    }

    /// Runs CLI calls, which block for a second or two, where the async
    /// runtime allows it (a multi-threaded runtime, as the tests using a
    /// cluster have).
    async fn blocking<T>(
        &self,
        work: impl FnOnce(&Self) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        tokio::task::block_in_place(|| work(self))
    }

    fn index_of(&self, name: &str) -> anyhow::Result<usize> {
        self.nodes
            .iter()
            .position(|node| node.name == name)
            .with_context(|| format!("{name} is not a node of this cluster"))
    }

    fn running_node_indexes(&self) -> anyhow::Result<Vec<usize>> {
        let status = self.ctl_json(&["cluster_status"])?;
        let running: Vec<usize> = status["running_nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|name| name.as_str())
            .filter_map(|name| self.index_of(name).ok())
            .collect();
        Ok(running)
    }

    fn wait_until_all_running(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + BOOT_TIMEOUT;
        loop {
            let running = self.running_node_indexes();
            if let Ok(running) = &running
                && running.len() == self.nodes.len()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("the cluster did not form within {BOOT_TIMEOUT:?}: running {running:?}");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for RabbitCluster {
    fn drop(&mut self) {
        for node in &self.nodes {
            kill_node(node);
        }
        if let Err(error) = fs::remove_dir_all(&self.dir) {
            eprintln!("test cluster: removing {}: {error}", self.dir.display());
        }
    }
}

fn write_cookie(home: &Path, cookie: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = home.join(".erlang.cookie");
    fs::write(&path, cookie)?;
    // Erlang refuses a cookie file others may read.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400))?;
    Ok(())
}

/// A free port outside the CLI tools' distribution range.
fn node_port() -> anyhow::Result<u16> {
    loop {
        let port = free_port()?;
        if !CLI_DIST_PORTS.contains(&port) {
            return Ok(port);
        }
    }
}

fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(RABBITMQ_BIN_DIR_VAR) {
        return Some(PathBuf::from(dir));
    }
    let debian = Path::new(DEBIAN_BIN_DIR);
    debian
        .join("rabbitmq-server")
        .exists()
        .then(|| debian.to_owned())
}
