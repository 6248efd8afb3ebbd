//! What each broker user may do, as RabbitMQ permission patterns: derived
//! from the topology (which queues a service owns, which keys it binds) and
//! the ownership table (which keys it publishes), so the permissions change
//! with the code and never by hand.
//!
//! What RabbitMQ checks, and so what each pattern must allow:
//! - `queue.declare`: configure on the queue; with `x-dead-letter-exchange`
//!   also read on the queue and write on the dead-letter exchange.
//! - `queue.bind`: write on the queue, read on the exchange, and (topic
//!   exchange) the binding key against the topic read pattern.
//! - `basic.publish`: write on the exchange, and (topic exchange) the routing
//!   key against the topic write pattern.
//! - `basic.consume` / `basic.get`: read on the queue.
//! - a passive `exchange.declare` needs no permission.
//!
//! A user with no topic permission on an exchange may use every key there,
//! so every user gets one on `<namespace>.events`; `^$` matches no key
//! Candor uses.

use super::ownership::{EventOwner, routing_keys_owned_by};
use super::topology::{ServiceQueue, Topology};

/// What a broker user is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserRole {
    /// A Candor service: its own queues, the keys it owns.
    Service(ServiceQueue),
    /// An operator (candorctl, the management UI): publishes
    /// `breach.reported` and nothing else, and reads (lists, replays,
    /// purges) the dead-letter queues.
    Operator,
    /// Runs the broker: every permission and the management `administrator`
    /// tag. Not for services or operators' tools.
    Administrator,
}

impl UserRole {
    /// The management tags of the user.
    pub fn tags(self) -> &'static [&'static str] {
        match self {
            UserRole::Service(_) => &[],
            // The management UI's "Publish message" needs a login.
            UserRole::Operator => &["management"],
            UserRole::Administrator => &["administrator"],
        }
    }
}

/// One user's RabbitMQ permissions in the virtual host, and its topic
/// permissions on the events exchange. Each field is a regular expression
/// matched against a resource name (or, for the topic patterns, a routing key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPermissions {
    /// Queues and exchanges the user may declare and delete.
    pub configure: String,
    /// Exchanges the user may publish to, queues it may bind.
    pub write: String,
    /// Queues it may consume, exchanges it may bind from.
    pub read: String,
    /// Routing keys it may publish on the events exchange.
    pub topic_write: String,
    /// Binding keys it may bind from the events exchange.
    pub topic_read: String,
}

/// Matches nothing Candor names (RabbitMQ reads an empty pattern the same way).
const NOTHING: &str = "^$";

impl UserPermissions {
    /// The permissions of `role` in the deployment named by `topology`.
    pub fn for_role(topology: &Topology, role: UserRole) -> Self {
        let events = topology.events_exchange();
        match role {
            UserRole::Service(service) => {
                let own_queues = [
                    topology.queue_name(service.name()),
                    topology.dead_letter_queue_name(service.name()),
                ];
                let exchanges = [events, topology.dead_letter_exchange()];
                let both: Vec<&str> = exchanges
                    .iter()
                    .chain(own_queues.iter())
                    .map(String::as_str)
                    .collect();
                let owner = match service {
                    ServiceQueue::Account => Some(EventOwner::Account),
                    ServiceQueue::Forum => Some(EventOwner::Forum),
                    ServiceQueue::Notification => Some(EventOwner::Notification),
                    ServiceQueue::Membership => None,
                };
                let owned: Vec<&str> = owner
                    .map(|owner| routing_keys_owned_by(owner).collect())
                    .unwrap_or_default();
                Self {
                    configure: any_of(own_queues.iter().map(String::as_str)),
                    write: any_of(both.iter().copied()),
                    read: any_of(both.iter().copied()),
                    topic_write: any_of(owned),
                    topic_read: any_of(service.routing_keys().iter().copied()),
                }
            }
            // Publishes breach.reported; reads the dead-letter queues
            // (`basic.get`, ack, nack and `queue.purge` need read on the
            // queue; nothing else of a service's queues); and watches the
            // dead letters while waiting for the services' answers, through
            // its own exclusive queues bound to the dead-letter exchange.
            UserRole::Operator => {
                let dead_letter_queues: Vec<String> = ServiceQueue::ALL
                    .into_iter()
                    .map(|service| topology.dead_letter_queue_name(service.name()))
                    .collect();
                let watch = format!(
                    "^{}\\.[A-Za-z0-9-]+$",
                    escape(&topology.dead_letter_watch_prefix())
                );
                let dead_letters = escape(&topology.dead_letter_exchange());
                Self {
                    configure: watch.clone(),
                    write: format!("{}|{watch}", any_of([events.as_str()])),
                    read: format!(
                        "{}|^{dead_letters}$|{watch}",
                        any_of(dead_letter_queues.iter().map(String::as_str))
                    ),
                    topic_write: any_of(routing_keys_owned_by(EventOwner::Operators)),
                    topic_read: NOTHING.to_owned(),
                }
            }
            UserRole::Administrator => Self {
                configure: ".*".to_owned(),
                write: ".*".to_owned(),
                read: ".*".to_owned(),
                topic_write: ".*".to_owned(),
                topic_read: ".*".to_owned(),
            },
        }
    }
}

/// `^(a|b)$` with each name matched literally; [`NOTHING`] for no names.
fn any_of<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.into_iter().map(escape).collect();
    if names.is_empty() {
        return NOTHING.to_owned();
    }
    format!("^({})$", names.join("|"))
}

/// Escapes the characters a regular expression treats specially.
fn escape(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len() + 4);
    for character in name.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_configures_its_own_queues_and_publishes_its_own_keys() {
        let topology = Topology::new("candor");
        let account =
            UserPermissions::for_role(&topology, UserRole::Service(ServiceQueue::Account));
        assert_eq!(
            account.configure,
            r"^(candor\.account|candor\.account\.dead\-letter)$"
        );
        assert_eq!(
            account.write,
            r"^(candor\.events|candor\.dlx|candor\.account|candor\.account\.dead\-letter)$"
        );
        assert_eq!(
            account.topic_write,
            r"^(breach\.accounts_affected|breach\.enumeration_completed|account\.deactivated)$"
        );
        assert_eq!(
            account.topic_read,
            r"^(breach\.reported|forum\.incident_thread_opened|notification\.notice_undelivered)$"
        );

        let notification =
            UserPermissions::for_role(&topology, UserRole::Service(ServiceQueue::Notification));
        assert_eq!(
            notification.topic_write,
            r"^(notification\.notice_undelivered)$"
        );
        let membership =
            UserPermissions::for_role(&topology, UserRole::Service(ServiceQueue::Membership));
        assert_eq!(membership.topic_write, "^$");
    }

    #[test]
    fn an_operator_publishes_breach_reported_reads_and_watches_dead_letters() {
        let operator = UserPermissions::for_role(&Topology::new("test-1"), UserRole::Operator);
        let watch = r"^test\-1\.dead\-letter\-watch\.[A-Za-z0-9-]+$";
        assert_eq!(operator.configure, watch);
        assert_eq!(
            operator.read,
            format!(
                r"^(test\-1\.account\.dead\-letter|test\-1\.notification\.dead\-letter|test\-1\.membership\.dead\-letter|test\-1\.forum\.dead\-letter)$|^test\-1\.dlx$|{watch}"
            ),
            "an operator reads the dead-letter queues and its own watch queues"
        );
        assert_eq!(operator.write, format!(r"^(test\-1\.events)$|{watch}"));
        assert_eq!(operator.topic_write, r"^(breach\.reported)$");
    }
}
