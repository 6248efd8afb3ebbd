//! The broker nodes of `AMQP_URL`: one AMQP URL, or several separated by
//! commas (the nodes of a RabbitMQ cluster), and the order the [`super::Broker`]
//! tries them in.

use std::str::FromStr;

use lapin::uri::AMQPUri;
use secrecy::{ExposeSecret, SecretString};

/// Heartbeat interval (seconds) used when a URL does not set one, so a dead
/// peer behind a NAT or load balancer is noticed within a minute.
const DEFAULT_HEARTBEAT_SECONDS: u16 = 30;
/// TCP + handshake timeout used when a URL does not set one, so a
/// blackholed node fails an attempt instead of hanging it.
const DEFAULT_CONNECTION_TIMEOUT_MILLIS: u64 = 10_000;

/// One node of `AMQP_URL`.
#[derive(Clone)]
pub struct BrokerNode {
    /// The full URL with the heartbeat and connection timeout filled in.
    uri: SecretString,
    /// `host:port` (with `amqps://` when over TLS): what logs show, never
    /// the credentials.
    label: String,
}

impl BrokerNode {
    /// `host:port` of the node (`amqps://host:port` over TLS), for logs.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The URL to connect with (holds the password).
    pub(crate) fn uri(&self) -> &str {
        self.uri.expose_secret()
    }
}

impl std::fmt::Debug for BrokerNode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.label)
    }
}

/// Every node of `AMQP_URL`, in the order given, all reached with the same
/// user and virtual host: the user is every publish's `user_id` and the
/// owner consumers check, and the virtual host holds the topology, so
/// neither may change when the connection moves to another node.
#[derive(Clone, Debug)]
pub struct BrokerAddresses {
    nodes: Vec<BrokerNode>,
    user: String,
    vhost: String,
}

impl BrokerAddresses {
    /// Parses `AMQP_URL`. A problem is named by the entry's position (the
    /// value itself holds a password, so it is never repeated).
    pub fn parse(value: &str) -> Result<Self, String> {
        let entries: Vec<&str> = value.split(',').map(str::trim).collect();
        let count = entries.len();
        let position = |index: usize| {
            if count == 1 {
                String::new()
            } else {
                format!("entry {} of {count}: ", index + 1)
            }
        };
        let mut nodes: Vec<BrokerNode> = Vec::with_capacity(count);
        let mut first: Option<AMQPUri> = None;
        for (index, entry) in entries.iter().enumerate() {
            let uri =
                parse_entry(entry).map_err(|problem| format!("{}{problem}", position(index)))?;
            if let Some(first) = &first {
                if uri.authority.userinfo.username != first.authority.userinfo.username {
                    return Err(format!(
                        "{}names another user than entry 1; every node of a cluster is reached as the same user",
                        position(index)
                    ));
                }
                if uri.vhost != first.vhost {
                    return Err(format!(
                        "{}names another virtual host than entry 1; every node is reached in the same virtual host",
                        position(index)
                    ));
                }
            }
            let label = label(&uri);
            if let Some(earlier) = nodes.iter().position(|node| node.label == label) {
                return Err(format!(
                    "{}repeats the node of entry {} ({label})",
                    position(index),
                    earlier + 1
                ));
            }
            let mut connect = uri.clone();
            connect
                .query
                .heartbeat
                .get_or_insert(DEFAULT_HEARTBEAT_SECONDS);
            connect
                .query
                .connection_timeout
                .get_or_insert(DEFAULT_CONNECTION_TIMEOUT_MILLIS);
            nodes.push(BrokerNode {
                uri: SecretString::from(connect.to_string()),
                label,
            });
            first.get_or_insert(uri);
        }
        let first = first.ok_or_else(|| "names no broker".to_owned())?;
        Ok(Self {
            nodes,
            user: first.authority.userinfo.username,
            vhost: first.vhost,
        })
    }

    /// The nodes in the order given.
    pub fn nodes(&self) -> &[BrokerNode] {
        &self.nodes
    }

    /// The user every node is reached as (lapin's `guest` when the URLs
    /// name none, as RabbitMQ's clients do).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The virtual host (`/` when the URLs name none).
    pub fn vhost(&self) -> &str {
        &self.vhost
    }
}

fn parse_entry(entry: &str) -> Result<AMQPUri, String> {
    if entry.is_empty() {
        return Err("is empty (two commas in a row, or one at an end)".to_owned());
    }
    if !(entry.starts_with("amqp://") || entry.starts_with("amqps://")) {
        return Err("must start with amqp:// or amqps://".to_owned());
    }
    let uri = AMQPUri::from_str(entry).map_err(|error| {
        // Some parse errors quote the URL, password included.
        format!(
            "is not a valid AMQP URL: {}",
            error.replace(entry, "<the URL>")
        )
    })?;
    if uri.authority.host.is_empty() {
        return Err("names no host".to_owned());
    }
    Ok(uri)
}

fn label(uri: &AMQPUri) -> String {
    let address = format!("{}:{}", uri.authority.host, uri.authority.port);
    match uri.scheme {
        lapin::uri::AMQPScheme::AMQP => address,
        lapin::uri::AMQPScheme::AMQPS => format!("amqps://{address}"),
    }
}

/// Which node to try next: the first node at start; after a connection is
/// lost, the node after the one it was on (round robin), so a node that went
/// away is tried last. [`NodeRotation::failed`] says when a whole round of
/// attempts failed, which is when the reconnect backoff starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeRotation {
    count: usize,
    next: usize,
    /// Failed attempts since the last success or the last full round.
    failed_in_round: usize,
}

impl NodeRotation {
    pub(crate) fn new(count: usize) -> Self {
        Self {
            count: count.max(1),
            next: 0,
            failed_in_round: 0,
        }
    }

    /// The node to try now.
    pub(crate) fn next(&self) -> usize {
        self.next
    }

    /// A connection to `node` opened: it is where the next round starts
    /// should the connection stay away.
    pub(crate) fn connected(&mut self, node: usize) {
        self.next = node % self.count;
        self.failed_in_round = 0;
    }

    /// The connection to `node` was lost: move on to the node after it.
    pub(crate) fn lost(&mut self, node: usize) {
        self.next = (node + 1) % self.count;
        self.failed_in_round = 0;
    }

    /// An attempt on the current node failed: move on to the next one.
    /// True when that completed a round in which every node failed.
    pub(crate) fn failed(&mut self) -> bool {
        self.next = (self.next + 1) % self.count;
        self.failed_in_round += 1;
        if self.failed_in_round >= self.count {
            self.failed_in_round = 0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cret-pa55";

    fn error_of(value: &str) -> String {
        match BrokerAddresses::parse(value) {
            Ok(addresses) => panic!("{value} parsed as {addresses:?}"),
            Err(error) => {
                assert!(
                    !error.contains(SECRET),
                    "the error shows the password: {error}"
                );
                error
            }
        }
    }

    #[test]
    fn one_url_is_one_node_with_defaults_filled_in() {
        let addresses = BrokerAddresses::parse("amqp://candor:pw@rabbit:5672/%2f").unwrap();
        assert_eq!(addresses.nodes().len(), 1);
        assert_eq!(addresses.nodes()[0].label(), "rabbit:5672");
        assert_eq!(addresses.user(), "candor");
        assert_eq!(addresses.vhost(), "/");
        let uri = addresses.nodes()[0].uri();
        assert!(uri.contains("heartbeat=30"), "{uri}");
        assert!(uri.contains("connection_timeout=10000"), "{uri}");
    }

    #[test]
    fn a_comma_separated_list_keeps_its_order_and_a_url_s_own_settings() {
        let addresses = BrokerAddresses::parse(
            "amqp://candor:pw@rabbit-1:5672/prod?heartbeat=5, amqp://candor:pw@rabbit-2:5673/prod,amqps://candor:pw@rabbit-3/prod",
        )
        .unwrap();
        let labels: Vec<&str> = addresses.nodes().iter().map(BrokerNode::label).collect();
        assert_eq!(
            labels,
            ["rabbit-1:5672", "rabbit-2:5673", "amqps://rabbit-3:5671"]
        );
        assert_eq!(addresses.vhost(), "prod");
        assert!(addresses.nodes()[0].uri().contains("heartbeat=5"));
        assert!(addresses.nodes()[1].uri().contains("heartbeat=30"));
    }

    #[test]
    fn labels_and_debug_output_never_show_credentials() {
        let addresses =
            BrokerAddresses::parse(&format!("amqp://candor:{SECRET}@rabbit:5672/%2f")).unwrap();
        let shown = format!("{addresses:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("rabbit:5672"), "{shown}");
    }

    #[test]
    fn a_bad_entry_is_named_by_its_position_without_its_value() {
        let good = format!("amqp://candor:{SECRET}@rabbit-1:5672/%2f");
        let cases = [
            (
                format!("{good},http://candor:{SECRET}@rabbit-2"),
                "entry 2 of 2: must start with amqp:// or amqps://",
            ),
            (
                format!("{good},,amqp://candor:{SECRET}@rabbit-3"),
                "entry 2 of 3: is empty",
            ),
            (format!("{good},"), "entry 2 of 2: is empty"),
            (
                format!("{good},amqp://candor:{SECRET}@rabbit-2:notaport/%2f"),
                "entry 2 of 2: is not a valid AMQP URL",
            ),
            (
                format!("{good},amqp://other:{SECRET}@rabbit-2:5672/%2f"),
                "entry 2 of 2: names another user than entry 1",
            ),
            (
                format!("{good},amqp://candor:{SECRET}@rabbit-2:5672/staging"),
                "entry 2 of 2: names another virtual host than entry 1",
            ),
            (
                format!("{good},amqp://candor:{SECRET}@rabbit-2:5672/%2f,{good}"),
                "entry 3 of 3: repeats the node of entry 1 (rabbit-1:5672)",
            ),
            (
                format!("amqp:{SECRET}"),
                "must start with amqp:// or amqps://",
            ),
            ("".to_owned(), "is empty"),
        ];
        for (value, expected) in cases {
            let error = error_of(&value);
            assert!(error.starts_with(expected), "{value}: {error}");
        }
    }

    #[test]
    fn rotation_starts_at_the_first_node_and_backs_off_only_after_a_failed_round() {
        let mut rotation = NodeRotation::new(3);
        assert_eq!(rotation.next(), 0);
        assert!(!rotation.failed());
        assert_eq!(rotation.next(), 1);
        assert!(!rotation.failed());
        assert_eq!(rotation.next(), 2);
        assert!(rotation.failed(), "all three failed: back off");
        assert_eq!(rotation.next(), 0, "the next round starts over");
        assert!(!rotation.failed());
        rotation.connected(1);
        assert_eq!(rotation.next(), 1);
    }

    #[test]
    fn a_lost_connection_moves_on_to_the_next_node_round_robin() {
        let mut rotation = NodeRotation::new(3);
        rotation.connected(0);
        rotation.lost(0);
        assert_eq!(rotation.next(), 1);
        rotation.connected(1);
        rotation.lost(1);
        assert_eq!(rotation.next(), 2);
        rotation.connected(2);
        rotation.lost(2);
        assert_eq!(rotation.next(), 0, "wraps around");
        // A whole round counts from the loss: the two others, then the lost one.
        rotation.lost(0);
        assert!(!rotation.failed());
        assert!(!rotation.failed());
        assert!(rotation.failed());
    }

    #[test]
    fn one_node_backs_off_after_each_failure() {
        let mut rotation = NodeRotation::new(1);
        assert!(rotation.failed());
        assert!(rotation.failed());
        rotation.lost(0);
        assert_eq!(rotation.next(), 0);
    }
}
