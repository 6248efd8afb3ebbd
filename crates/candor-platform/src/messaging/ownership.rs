//! Who may publish each routing key, and how large its message may be: the
//! table every consumer checks before a handler sees a message, and that the
//! generated broker definitions turn into topic permissions.
//!
//! RabbitMQ validates the `user_id` property against the connection's user,
//! so `user_id` names the publisher reliably; the consumer compares it with
//! the owner of the routing key ([`RoutingPolicy::check`]). The broker's
//! topic permissions stop a service from publishing another's key at all;
//! the consumer check is the second line that holds even if a permission was
//! set wrong, or a user was given the `impersonator` tag.

use std::collections::HashMap;

use candor_proto::events::v1::{
    ACCOUNT_DEACTIVATED, BREACH_ACCOUNTS_AFFECTED, BREACH_ENUMERATION_COMPLETED, BREACH_REPORTED,
    FORUM_INCIDENT_THREAD_OPENED, NOTIFICATION_NOTICE_UNDELIVERED,
};

use super::topology::ServiceQueue;
use crate::config::AmqpConfig;

/// Largest `AccountsAffected` batch accepted. The contract allows 1..=1000
/// accounts per batch (account sends 500); the largest account is a 36-byte
/// id, an email of at most 254 bytes, a display name of at most 64
/// characters (256 bytes of UTF-8) and a timestamp, about 570 bytes with the
/// protobuf framing, so a full batch of the largest accounts stays under
/// 600 KiB. 1 MiB leaves room for that (and for its JSON form) and refuses
/// anything an order of magnitude larger before it is decoded.
pub const MAX_BATCH_MESSAGE_BYTES: usize = 1024 * 1024;

/// Largest message of every other routing key: one incident, one thread or
/// one account, whose text fields are bounded to a few KiB each; 256 KiB is
/// far above any valid event and small enough that a flood of them cannot
/// exhaust a consumer's memory (prefetch × 256 KiB).
pub const MAX_EVENT_MESSAGE_BYTES: usize = 256 * 1024;

/// Who publishes a routing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventOwner {
    /// The service whose broker user is `AMQP_ACCOUNT_USER`.
    Account,
    /// The service whose broker user is `AMQP_FORUM_USER`.
    Forum,
    /// The service whose broker user is `AMQP_NOTIFICATION_USER`.
    Notification,
    /// Any of `AMQP_OPERATOR_USERS` (candorctl, the management UI).
    Operators,
}

impl EventOwner {
    /// The service this owner is, if it is one.
    pub fn service(self) -> Option<ServiceQueue> {
        match self {
            EventOwner::Account => Some(ServiceQueue::Account),
            EventOwner::Forum => Some(ServiceQueue::Forum),
            EventOwner::Notification => Some(ServiceQueue::Notification),
            EventOwner::Operators => None,
        }
    }
}

/// One row of the routing contract: a key, its owner, its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRule {
    pub routing_key: &'static str,
    pub owner: EventOwner,
    /// Largest message body accepted, checked before anything is decoded.
    pub max_message_bytes: usize,
}

/// The routing contract of DESIGN.md: every routing key, who owns it, and
/// its size limit.
pub const ROUTES: [RouteRule; 6] = [
    RouteRule {
        routing_key: BREACH_REPORTED,
        owner: EventOwner::Operators,
        max_message_bytes: MAX_EVENT_MESSAGE_BYTES,
    },
    RouteRule {
        routing_key: BREACH_ACCOUNTS_AFFECTED,
        owner: EventOwner::Account,
        max_message_bytes: MAX_BATCH_MESSAGE_BYTES,
    },
    RouteRule {
        routing_key: BREACH_ENUMERATION_COMPLETED,
        owner: EventOwner::Account,
        max_message_bytes: MAX_EVENT_MESSAGE_BYTES,
    },
    RouteRule {
        routing_key: ACCOUNT_DEACTIVATED,
        owner: EventOwner::Account,
        max_message_bytes: MAX_EVENT_MESSAGE_BYTES,
    },
    RouteRule {
        routing_key: FORUM_INCIDENT_THREAD_OPENED,
        owner: EventOwner::Forum,
        max_message_bytes: MAX_EVENT_MESSAGE_BYTES,
    },
    RouteRule {
        routing_key: NOTIFICATION_NOTICE_UNDELIVERED,
        owner: EventOwner::Notification,
        max_message_bytes: MAX_EVENT_MESSAGE_BYTES,
    },
];

/// The routing keys `owner` publishes.
pub fn routing_keys_owned_by(owner: EventOwner) -> impl Iterator<Item = &'static str> {
    ROUTES
        .iter()
        .filter(move |rule| rule.owner == owner)
        .map(|rule| rule.routing_key)
}

/// The largest message of every routing key (what the broker's
/// `max_message_size` must at least allow).
pub fn largest_message_bytes() -> usize {
    ROUTES
        .iter()
        .map(|rule| rule.max_message_bytes)
        .max()
        .unwrap_or(MAX_EVENT_MESSAGE_BYTES)
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    owner_description: String,
    publishers: Vec<String>,
    max_message_bytes: usize,
}

/// The [`ROUTES`] with their owners resolved to broker users: what a
/// consumer accepts. Built from the settings ([`RoutingPolicy::from_config`]);
/// tests may add routes of their own ([`RoutingPolicy::with_route`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingPolicy {
    routes: HashMap<String, Route>,
}

impl RoutingPolicy {
    /// Candor's routes with the owners' users from `AMQP_ACCOUNT_USER`,
    /// `AMQP_FORUM_USER`, `AMQP_NOTIFICATION_USER` and `AMQP_OPERATOR_USERS`.
    pub fn from_config(config: &AmqpConfig) -> Self {
        let mut policy = Self {
            routes: HashMap::new(),
        };
        for rule in ROUTES {
            let publishers = match rule.owner {
                EventOwner::Account => vec![config.amqp_account_user.clone()],
                EventOwner::Forum => vec![config.amqp_forum_user.clone()],
                EventOwner::Notification => vec![config.amqp_notification_user.clone()],
                EventOwner::Operators => config.amqp_operator_users.clone(),
            };
            policy = policy.with_route(rule.routing_key, publishers, rule.max_message_bytes);
        }
        policy
    }

    /// Adds (or replaces) a route accepted from `publishers` up to
    /// `max_message_bytes`.
    pub fn with_route<U: Into<String>>(
        mut self,
        routing_key: &str,
        publishers: impl IntoIterator<Item = U>,
        max_message_bytes: usize,
    ) -> Self {
        let publishers: Vec<String> = publishers.into_iter().map(Into::into).collect();
        let owner_description = match publishers.as_slice() {
            [one] => format!("user {one:?}"),
            many => format!(
                "users {}",
                many.iter()
                    .map(|user| format!("{user:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.routes.insert(
            routing_key.to_owned(),
            Route {
                owner_description,
                publishers,
                max_message_bytes,
            },
        );
        self
    }

    /// Whether a message may reach a handler: its routing key is known, its
    /// body is within the key's limit, and its `user_id` is the key's owner.
    /// The error is the reason the consumer dead-letters it with.
    pub fn check(
        &self,
        routing_key: &str,
        user_id: Option<&str>,
        body_bytes: usize,
    ) -> Result<(), String> {
        let Some(route) = self.routes.get(routing_key) else {
            return Err(format!(
                "unknown routing key {:?}: no publisher owns it",
                truncated(routing_key)
            ));
        };
        if body_bytes > route.max_message_bytes {
            return Err(format!(
                "message too large: {routing_key} accepts at most {} bytes, this one has {body_bytes}",
                route.max_message_bytes
            ));
        }
        match user_id {
            Some(user) if route.publishers.iter().any(|owner| owner == user) => Ok(()),
            Some(user) => Err(format!(
                "untrusted publisher: {routing_key} is accepted only from {}, this message came from {:?}",
                route.owner_description,
                truncated(user)
            )),
            None => Err(format!(
                "untrusted publisher: {routing_key} is accepted only from {}, this message has no user_id",
                route.owner_description
            )),
        }
    }
}

/// At most 100 characters of untrusted text for a reason.
fn truncated(text: &str) -> String {
    text.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RoutingPolicy {
        RoutingPolicy::from_config(&AmqpConfig::new("amqp://127.0.0.1", "candor"))
    }

    #[test]
    fn every_routing_key_has_exactly_one_rule() {
        let mut keys: Vec<_> = ROUTES.iter().map(|rule| rule.routing_key).collect();
        keys.sort_unstable();
        let mut expected = candor_proto::events::v1::ROUTING_KEYS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }

    #[test]
    fn owners_publish_their_keys_only() {
        let policy = policy();
        assert_eq!(
            policy.check(ACCOUNT_DEACTIVATED, Some("candor-account"), 10),
            Ok(())
        );
        assert_eq!(
            policy.check(BREACH_REPORTED, Some("candor-operator"), 10),
            Ok(())
        );
        assert_eq!(
            policy.check(BREACH_ACCOUNTS_AFFECTED, Some("mallory"), 10),
            Err("untrusted publisher: breach.accounts_affected is accepted only from user \"candor-account\", this message came from \"mallory\"".to_owned())
        );
        assert_eq!(
            policy.check(FORUM_INCIDENT_THREAD_OPENED, None, 10),
            Err("untrusted publisher: forum.incident_thread_opened is accepted only from user \"candor-forum\", this message has no user_id".to_owned())
        );
        assert!(
            policy
                .check(BREACH_REPORTED, Some("candor-account"), 10)
                .is_err()
        );
    }

    #[test]
    fn size_is_checked_before_the_publisher_and_unknown_keys_are_refused() {
        let policy = policy();
        let reason = policy
            .check(BREACH_REPORTED, None, MAX_EVENT_MESSAGE_BYTES + 1)
            .unwrap_err();
        assert!(
            reason.starts_with("message too large: breach.reported accepts at most 262144 bytes")
        );
        assert_eq!(
            policy.check(
                BREACH_ACCOUNTS_AFFECTED,
                Some("candor-account"),
                MAX_BATCH_MESSAGE_BYTES
            ),
            Ok(())
        );
        assert!(
            policy
                .check("breach.other", Some("candor-account"), 1)
                .unwrap_err()
                .starts_with("unknown routing key")
        );
    }

    #[test]
    fn several_operator_users_are_named_in_the_reason() {
        let mut config = AmqpConfig::new("amqp://127.0.0.1", "candor");
        config.amqp_operator_users = vec!["alice".to_owned(), "bob".to_owned()];
        let policy = RoutingPolicy::from_config(&config);
        assert_eq!(policy.check(BREACH_REPORTED, Some("bob"), 1), Ok(()));
        assert!(
            policy
                .check(BREACH_REPORTED, Some("carol"), 1)
                .unwrap_err()
                .contains("only from users \"alice\", \"bob\"")
        );
    }
}
