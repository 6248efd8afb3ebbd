//! Contract tests for candor-proto: JSON mapping, descriptor set, routing keys.

mod descriptors;
mod events;
mod json;
