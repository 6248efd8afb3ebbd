//! Reading a dead-letter queue without losing or reordering anything.
//!
//! The choice, and why: `basic.get` without auto-ack takes the messages one
//! by one from the head, up to the number the queue held when we started
//! (later arrivals are left alone), and holds every one unacknowledged on
//! our channel. A message we act on is acked only after the action is done
//! (a replay after its publisher confirm). All the others go back at the
//! end with one `basic.nack(multiple, requeue)`, which returns them to the
//! head of the queue in their order; if candorctl dies instead, the broker
//! returns them itself when the connection drops. Nothing is ever removed
//! that was not acted on.
//!
//! Rejected alternatives: a consumer (`basic.consume`) gets messages pushed
//! beyond what it handles and reorders on cancel; consuming and
//! republishing every message to the tail rewrites the whole queue on each
//! `list`, changes each message's `user_id`, and interleaves messages that
//! arrive meanwhile. `basic.nack` rather than `basic.reject` or a closed
//! channel, because RabbitMQ 4.3+ does not count a nack towards a quorum
//! queue's delivery limit. (RabbitMQ 4.0–4.2 count every return, and a
//! quorum queue has a delivery limit of 20 by default there: a dead letter
//! looked at twenty times on those versions is dropped, so the
//! `x-delivery-count` header is shown to warn.)

use anyhow::Context as _;
use candor_platform::messaging::Broker;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, QueueDeclareOptions};
use lapin::types::FieldTable;

/// One pass over a dead-letter queue.
pub struct Sweep {
    channel: Channel,
    queue: String,
    /// Messages the queue held at the start that are still to be taken.
    remaining: u32,
    /// Delivery tags taken and neither acked nor returned, ascending.
    held: Vec<u64>,
}

impl Sweep {
    /// Opens a channel on `queue`; fails (naming it) when it does not exist.
    pub async fn open(broker: &Broker, queue: &str) -> anyhow::Result<Self> {
        let channel = broker.channel().await?;
        // A passive declare needs no permission and tells the count.
        let declared = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("queue {queue} does not exist (has its service started?)"))?;
        Ok(Self {
            channel,
            queue: queue.to_owned(),
            remaining: declared.message_count(),
            held: Vec::new(),
        })
    }

    /// The next message, held until [`Sweep::remove`] or [`Sweep::finish`];
    /// `None` once every message of the start was taken.
    pub async fn next(&mut self) -> anyhow::Result<Option<Delivery>> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let got = self
            .channel
            .basic_get(
                self.queue.as_str().into(),
                BasicGetOptions { no_ack: false },
            )
            .await
            .with_context(|| format!("basic.get on {}", self.queue))?;
        let Some(got) = got else {
            self.remaining = 0;
            return Ok(None);
        };
        self.remaining -= 1;
        let delivery = got.delivery;
        self.held.push(delivery.delivery_tag);
        Ok(Some(delivery))
    }

    /// Removes a held message from the queue (acks it).
    pub async fn remove(&mut self, delivery_tag: u64) -> anyhow::Result<()> {
        self.channel
            .basic_ack(delivery_tag, BasicAckOptions { multiple: false })
            .await
            .with_context(|| format!("acknowledging a message of {}", self.queue))?;
        self.held.retain(|tag| *tag != delivery_tag);
        Ok(())
    }

    /// Returns every message still held, in order, and closes the channel.
    pub async fn finish(self) -> anyhow::Result<()> {
        if let Some(last) = self.held.last() {
            self.channel
                .basic_nack(
                    *last,
                    BasicNackOptions {
                        multiple: true,
                        requeue: true,
                    },
                )
                .await
                .with_context(|| format!("returning the messages of {}", self.queue))?;
        }
        let _ = self.channel.close(200, "done".into()).await;
        Ok(())
    }
}
