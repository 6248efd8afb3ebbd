//! The broker configuration agrees with the consumers' size limits.

use candor_platform::messaging::definitions::minimum_broker_max_message_size;

use crate::read;

#[test]
fn the_broker_accepts_the_largest_message_a_consumer_accepts_and_no_much_larger() {
    let config = read("deploy/rabbitmq/rabbitmq.conf");
    let value: usize = config
        .lines()
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim() == "max_message_size")
        .map(|(_, value)| value.trim().parse().expect("max_message_size is a number"))
        .expect("deploy/rabbitmq/rabbitmq.conf sets max_message_size");
    let minimum = minimum_broker_max_message_size();
    assert!(
        value >= minimum,
        "max_message_size {value} is below {minimum}, the largest message a consumer accepts plus headers"
    );
    assert!(
        value <= 4 * minimum,
        "max_message_size {value} is far above what any consumer accepts ({minimum})"
    );
}
