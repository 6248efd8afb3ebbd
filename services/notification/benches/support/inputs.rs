//! What the benches read and feed: their command-line arguments, and the
//! events they publish to the service as its producers would.

use candor_proto::events::v1::Event;
use candor_testkit::environment::TestEnvironment;

/// The value after `name` on the command line (`--count 20000`), if any.
pub fn string_argument(name: &str) -> Option<String> {
    let arguments: Vec<String> = std::env::args().collect();
    arguments
        .iter()
        .position(|argument| argument == name)
        .and_then(|index| arguments.get(index + 1))
        .cloned()
}

/// Publishes `event` in binary protobuf under its routing key, as the
/// account service and the forum publish it.
pub async fn publish<E: Event>(environment: &TestEnvironment, event: &E) -> anyhow::Result<()> {
    environment
        .broker
        .publish_raw(
            E::ROUTING_KEY,
            Some("application/x-protobuf"),
            &event.encode_to_vec(),
        )
        .await?;
    Ok(())
}
