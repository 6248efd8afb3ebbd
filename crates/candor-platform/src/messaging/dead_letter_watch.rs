//! Seeing which services dead-letter a message, without touching their
//! dead-letter queues: an exclusive queue bound to the dead-letter exchange
//! under every service queue's name receives a copy of each dead letter
//! from the moment it is bound (the exchange is direct, so every bound
//! queue gets one). Reading the dead-letter queues themselves would mean
//! taking and requeueing their messages, which RabbitMQ counts against a
//! quorum queue's delivery limit until it drops them.
//!
//! The queue lives as long as the watch's channel: dropping the watch
//! closes the channel, and RabbitMQ deletes the queue with it.

use anyhow::Context as _;
use lapin::Channel;
use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};

use super::message::{HEADER_ERROR, header_string};
use super::topology::{ServiceQueue, Topology, short};

/// One dead letter of a watched message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedDeadLetter {
    /// The service whose queue dead-lettered it.
    pub service: ServiceQueue,
    /// Why (`x-candor-error`), or how the broker itself dead-lettered it.
    pub reason: String,
}

/// An exclusive queue collecting copies of every service's dead letters.
pub struct DeadLetterWatch {
    channel: Channel,
    queue: String,
    topology: Topology,
}

impl DeadLetterWatch {
    /// Declares the watch queue and binds it for every service; dead letters
    /// of messages published after this returns are seen.
    pub async fn open(channel: Channel, topology: &Topology) -> anyhow::Result<Self> {
        let queue = topology.dead_letter_watch_queue_name(&uuid::Uuid::new_v4().to_string());
        let mut arguments = FieldTable::default();
        // Exclusive queues cannot be quorum queues, whatever the policy.
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("classic".into()),
        );
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(short(&queue)?, options, arguments)
            .await
            .with_context(|| format!("declaring the dead-letter watch queue {queue}"))?;
        let exchange = topology.dead_letter_exchange();
        for service in ServiceQueue::ALL {
            let routing_key = topology.queue_name(service.name());
            channel
                .queue_bind(
                    short(&queue)?,
                    short(&exchange)?,
                    short(&routing_key)?,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .with_context(|| format!("binding {queue} to {exchange} for {routing_key}"))?;
        }
        Ok(Self {
            channel,
            queue,
            topology: topology.clone(),
        })
    }

    /// Takes every dead letter that arrived since the last call and returns
    /// those of the message `message_id`.
    pub async fn take(&self, message_id: &str) -> anyhow::Result<Vec<WatchedDeadLetter>> {
        let mut found = Vec::new();
        while let Some(message) = self
            .channel
            .basic_get(short(&self.queue)?, BasicGetOptions { no_ack: true })
            .await
            .with_context(|| format!("basic.get on {}", self.queue))?
        {
            let delivery = message.delivery;
            let properties = &delivery.properties;
            let id = properties.message_id().as_ref().map(|id| id.as_str());
            if id != Some(message_id) {
                continue;
            }
            let Some(service) = ServiceQueue::ALL.into_iter().find(|service| {
                self.topology.queue_name(service.name()) == delivery.routing_key.as_str()
            }) else {
                continue;
            };
            let headers = properties.headers().clone().unwrap_or_default();
            let reason = header_string(&headers, HEADER_ERROR).unwrap_or_else(|| {
                // The broker's own dead-lettering (delivery limit, expiry)
                // adds `x-death` but no reason of ours.
                "dead-lettered by the broker (see its x-death header)".to_owned()
            });
            found.push(WatchedDeadLetter { service, reason });
        }
        Ok(found)
    }

    /// Closes the channel, which deletes the queue.
    pub async fn close(self) {
        let _ = self.channel.close(200, "done".into()).await;
    }
}
