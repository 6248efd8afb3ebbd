//! RabbitMQ definitions generated from the code: the users (one per service,
//! operators, an administrator), their permissions and topic permissions,
//! the exchanges, queues and bindings of the [`Topology`]. One document that
//! docker compose loads at the broker's start (`load_definitions`) and that
//! the tests import through the management API, so both run with exactly the
//! permissions the code implies.
//!
//! ```text
//! let json = BrokerDefinitions::new("candor", "/")
//!     .service_user(ServiceQueue::Account, "candor-account", &account_password)
//!     .operator_user("candor-operator", &operator_password)
//!     .to_json_string()?;
//! ```
//!
//! Passwords are stored as RabbitMQ's `rabbit_password_hashing_sha256`
//! hashes, never in clear.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ownership::largest_message_bytes;
use super::permissions::{UserPermissions, UserRole};
use super::topology::{
    QueueArgument, QueueSettings, ServiceQueue, Topology, queue_type_argument_list,
};
use crate::config::QueueType;

/// The `hashing_algorithm` of every generated user.
pub const HASHING_ALGORITHM: &str = "rabbit_password_hashing_sha256";

/// Why the definitions cannot be generated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DefinitionsError {
    #[error(
        "namespace {0:?} must be 1..=100 characters of a-z, A-Z, 0-9, '-', '_' or '.' (as AMQP_NAMESPACE)"
    )]
    Namespace(String),
    #[error("virtual host must not be empty")]
    VirtualHost,
    #[error("user name {0:?} must be 1..=255 visible ASCII characters without a comma")]
    UserName(String),
    #[error("user {0:?} is defined twice")]
    DuplicateUser(String),
    #[error("user {0:?} has an empty password")]
    EmptyPassword(String),
}

/// One user of the document, its password already hashed.
#[derive(Debug, Clone)]
struct DefinedUser {
    name: String,
    role: UserRole,
    password_hash: String,
    empty_password: bool,
}

/// A builder for the definitions document of one deployment.
#[derive(Debug, Clone)]
pub struct BrokerDefinitions {
    namespace: String,
    vhost: String,
    settings: QueueSettings,
    users: Vec<DefinedUser>,
}

impl BrokerDefinitions {
    /// The topology of `namespace` (`AMQP_NAMESPACE`) in virtual host
    /// `vhost` (`/` unless `AMQP_URL` names another), with quorum queues
    /// and a delivery limit of 20 (the services' defaults), and no users yet.
    pub fn new(namespace: &str, vhost: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            vhost: vhost.to_owned(),
            settings: QueueSettings {
                queue_type: QueueType::Quorum,
                delivery_limit: 20,
            },
            users: Vec::new(),
        }
    }

    /// The queue type the services are configured with (`AMQP_QUEUE_TYPE`).
    pub fn queue_type(mut self, queue_type: QueueType) -> Self {
        self.settings.queue_type = queue_type;
        self
    }

    /// The delivery limit the services are configured with
    /// (`AMQP_DELIVERY_LIMIT`).
    pub fn delivery_limit(mut self, delivery_limit: u32) -> Self {
        self.settings.delivery_limit = delivery_limit;
        self
    }

    /// A user with `role`'s permissions (see [`UserPermissions::for_role`]).
    pub fn user(mut self, name: &str, password: &SecretString, role: UserRole) -> Self {
        self.users.push(DefinedUser {
            name: name.to_owned(),
            role,
            password_hash: hash_password(password.expose_secret()),
            empty_password: password.expose_secret().is_empty(),
        });
        self
    }

    /// The broker user of `service` (its `AMQP_URL` user).
    pub fn service_user(self, service: ServiceQueue, name: &str, password: &SecretString) -> Self {
        self.user(name, password, UserRole::Service(service))
    }

    /// An operator user (one of `AMQP_OPERATOR_USERS`).
    pub fn operator_user(self, name: &str, password: &SecretString) -> Self {
        self.user(name, password, UserRole::Operator)
    }

    /// An administrator, to run the broker and its management UI.
    pub fn administrator_user(self, name: &str, password: &SecretString) -> Self {
        self.user(name, password, UserRole::Administrator)
    }

    /// The definitions document, as `POST /api/definitions` and
    /// `load_definitions` take it.
    pub fn to_json(&self) -> Result<Value, DefinitionsError> {
        self.validate()?;
        let topology = Topology::new(&self.namespace);
        let vhost = self.vhost.as_str();
        let events = topology.events_exchange();
        let users: Vec<Value> = self
            .users
            .iter()
            .map(|user| {
                json!({
                    "name": user.name,
                    "password_hash": user.password_hash,
                    "hashing_algorithm": HASHING_ALGORITHM,
                    "tags": user.role.tags(),
                    "limits": {},
                })
            })
            .collect();
        let mut permissions = Vec::new();
        let mut topic_permissions = Vec::new();
        for user in &self.users {
            let granted = UserPermissions::for_role(&topology, user.role);
            permissions.push(json!({
                "user": user.name,
                "vhost": vhost,
                "configure": granted.configure,
                "write": granted.write,
                "read": granted.read,
            }));
            topic_permissions.push(json!({
                "user": user.name,
                "vhost": vhost,
                "exchange": events,
                "write": granted.topic_write,
                "read": granted.topic_read,
            }));
        }
        let exchanges = vec![
            exchange(vhost, &events, "topic"),
            exchange(vhost, &topology.dead_letter_exchange(), "direct"),
        ];
        let mut queues = Vec::new();
        let mut bindings = Vec::new();
        for service in ServiceQueue::ALL {
            let queue = topology.queue_name(service.name());
            let dead_letter_queue = topology.dead_letter_queue_name(service.name());
            queues.push(queue_definition(
                vhost,
                &dead_letter_queue,
                queue_type_argument_list(self.settings),
            ));
            queues.push(queue_definition(
                vhost,
                &queue,
                topology.consumed_queue_arguments(self.settings, &queue),
            ));
            bindings.push(binding(
                vhost,
                &topology.dead_letter_exchange(),
                &dead_letter_queue,
                &queue,
            ));
            for routing_key in service.routing_keys() {
                bindings.push(binding(vhost, &events, &queue, routing_key));
            }
        }
        Ok(json!({
            "users": users,
            "vhosts": [{ "name": vhost }],
            "permissions": permissions,
            "topic_permissions": topic_permissions,
            "parameters": [],
            "global_parameters": [],
            "policies": [],
            "exchanges": exchanges,
            "queues": queues,
            "bindings": bindings,
        }))
    }

    /// [`BrokerDefinitions::to_json`] as indented text.
    pub fn to_json_string(&self) -> Result<String, DefinitionsError> {
        let document = self.to_json()?;
        Ok(serde_json::to_string_pretty(&document).unwrap_or_else(|_| document.to_string()))
    }

    fn validate(&self) -> Result<(), DefinitionsError> {
        let namespace_ok = !self.namespace.is_empty()
            && self.namespace.len() <= 100
            && self
                .namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !namespace_ok {
            return Err(DefinitionsError::Namespace(self.namespace.clone()));
        }
        if self.vhost.is_empty() {
            return Err(DefinitionsError::VirtualHost);
        }
        let mut seen = std::collections::BTreeSet::new();
        for user in &self.users {
            let name_ok = !user.name.is_empty()
                && user.name.len() <= 255
                && user.name.chars().all(|c| c.is_ascii_graphic() && c != ',');
            if !name_ok {
                return Err(DefinitionsError::UserName(user.name.clone()));
            }
            if !seen.insert(user.name.as_str()) {
                return Err(DefinitionsError::DuplicateUser(user.name.clone()));
            }
            if user.empty_password {
                return Err(DefinitionsError::EmptyPassword(user.name.clone()));
            }
        }
        Ok(())
    }
}

/// The `max_message_size` the broker needs at least: the largest message a
/// consumer accepts plus room for properties and headers.
pub fn minimum_broker_max_message_size() -> usize {
    largest_message_bytes() + 64 * 1024
}

/// A password as RabbitMQ's `rabbit_password_hashing_sha256` stores it:
/// base64(salt ++ sha256(salt ++ password)) with a random 4-byte salt.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0_u8; 4];
    rand::rng().fill_bytes(&mut salt);
    hash_password_with_salt(salt, password)
}

/// [`hash_password`] with a given salt (to check against a known hash).
pub fn hash_password_with_salt(salt: [u8; 4], password: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(password.as_bytes());
    let mut salted = salt.to_vec();
    salted.extend_from_slice(&hasher.finalize());
    BASE64.encode(salted)
}

fn exchange(vhost: &str, name: &str, kind: &str) -> Value {
    json!({
        "name": name,
        "vhost": vhost,
        "type": kind,
        "durable": true,
        "auto_delete": false,
        "internal": false,
        "arguments": {},
    })
}

fn queue_definition(
    vhost: &str,
    name: &str,
    arguments: Vec<(&'static str, QueueArgument)>,
) -> Value {
    let arguments: serde_json::Map<String, Value> = arguments
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                QueueArgument::Text(text) => Value::from(text),
                QueueArgument::Integer(number) => Value::from(number),
            };
            (key.to_owned(), value)
        })
        .collect();
    json!({
        "name": name,
        "vhost": vhost,
        "durable": true,
        "auto_delete": false,
        "arguments": arguments,
    })
}

fn binding(vhost: &str, source: &str, queue: &str, routing_key: &str) -> Value {
    json!({
        "source": source,
        "vhost": vhost,
        "destination": queue,
        "destination_type": "queue",
        "routing_key": routing_key,
        "arguments": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_matches_rabbitmq() {
        // `rabbitmqctl eval 'rabbit_password:hash(<<"candor">>).'` on RabbitMQ
        // 3.10 (sha256 hashing), base64-encoded as the definitions store it.
        let known = "VRehO3KuD9Z3DgKmSihDmiqWzz6JBylQv1MIaDQ72pFJ6zPS";
        let decoded = BASE64.decode(known).unwrap();
        let salt: [u8; 4] = decoded[..4].try_into().unwrap();
        assert_eq!(hash_password_with_salt(salt, "candor"), known);
        assert_ne!(hash_password("candor"), hash_password("candor"));
    }

    #[test]
    fn the_document_has_every_user_queue_and_binding() {
        let password = SecretString::from("secret");
        let document = BrokerDefinitions::new("candor", "/")
            .service_user(ServiceQueue::Forum, "candor-forum", &password)
            .operator_user("candor-operator", &password)
            .to_json()
            .unwrap();
        assert_eq!(document["users"].as_array().unwrap().len(), 2);
        assert_eq!(document["users"][1]["tags"], json!(["management"]));
        assert_eq!(
            document["topic_permissions"][0]["write"],
            r"^(forum\.incident_thread_opened)$"
        );
        assert_eq!(document["queues"].as_array().unwrap().len(), 8);
        let forum = &document["queues"][7];
        assert_eq!(forum["name"], "candor.forum");
        assert_eq!(forum["arguments"]["x-delivery-limit"], 20);
        assert_eq!(
            forum["arguments"]["x-dead-letter-routing-key"],
            "candor.forum"
        );
        // 4 dead-letter bindings + 3 + 5 + 4 + 2 event bindings.
        assert_eq!(document["bindings"].as_array().unwrap().len(), 18);
    }

    #[test]
    fn bad_input_is_named() {
        let password = SecretString::from("secret");
        let twice = BrokerDefinitions::new("candor", "/")
            .operator_user("op", &password)
            .operator_user("op", &password);
        assert_eq!(
            twice.to_json().unwrap_err(),
            DefinitionsError::DuplicateUser("op".to_owned())
        );
        assert_eq!(
            BrokerDefinitions::new("can dor", "/")
                .to_json()
                .unwrap_err(),
            DefinitionsError::Namespace("can dor".to_owned())
        );
        let empty =
            BrokerDefinitions::new("candor", "/").operator_user("op", &SecretString::from(""));
        assert_eq!(
            empty.to_json().unwrap_err(),
            DefinitionsError::EmptyPassword("op".to_owned())
        );
    }
}
