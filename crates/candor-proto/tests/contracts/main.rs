//! Contract tests for candor-proto: JSON mapping, descriptor set, routing keys.

mod account_events;
mod api_reference;
mod descriptors;
mod error_tables;
mod events;
mod json;
