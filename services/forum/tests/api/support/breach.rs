//! The README's breach example, as a message.

use candor_proto::events::v1::BreachReported;

const EXAMPLE: &str =
    include_str!("../../../../../crates/candor-proto/tests/data/breach_reported.json");

/// The example breach under another incident id.
pub fn example(incident_id: &str) -> BreachReported {
    let mut breach: BreachReported = candor_proto::decode_json(EXAMPLE.as_bytes()).unwrap();
    breach.incident_id = incident_id.to_owned();
    breach
}
