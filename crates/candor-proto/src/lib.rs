//! Candor's contracts: the gRPC services and the RabbitMQ event messages
//! defined in the workspace's `proto/` directory, generated at build time
//! with protox (no system `protoc`) and tonic-prost-build.
//!
//! - [`account::v1`], [`notification::v1`], [`membership::v1`],
//!   [`forum::v1`]: messages, plus `<service>_client` and `<service>_server`
//!   modules (e.g. [`account::v1::account_service_server::AccountServiceServer`]).
//! - [`events::v1`]: the event payloads, their routing keys and the [`events::v1::Event`]
//!   trait.
//! - [`FILE_DESCRIPTOR_SET`] for gRPC server reflection and
//!   [`descriptor_pool`] for runtime reflection.
//! - [`decode_json`] / [`encode_json`]: the proto3 JSON mapping for any
//!   message of this crate; [`encode_snake_json`]: the stable snake_case
//!   form tools print.
//! - [`reference::markdown`]: the API reference `docs/api.md`, from the
//!   comments in `proto/`.
//!
//! Every generated message implements [`prost::Name`], so it knows its full
//! protobuf name (e.g. `candor.events.v1.BreachReported`).

pub use prost;
pub use tonic;

mod json;
pub mod reference;
mod snake;

pub use json::{
    DescriptorSetError, JsonError, decode_json, descriptor_pool, encode_json, encode_json_pretty,
};
pub use snake::{
    encode_snake_json, enum_value_names, enum_value_prefix, short_enum_value_name, upper_snake,
};

/// The encoded `google.protobuf.FileDescriptorSet` of every file in `proto/`
/// (with imports such as `google/protobuf/timestamp.proto`, and comments),
/// for `tonic_reflection::server::Builder::register_encoded_file_descriptor_set`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/candor_descriptor.bin"));

/// Package `candor.account.v1`: members, credentials, sessions, breach intake.
pub mod account {
    /// Version 1 of the account service contract.
    #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/candor.account.v1.rs"));
    }
}

/// Package `candor.notification.v1`: email jobs and delivery status.
pub mod notification {
    /// Version 1 of the notification service contract.
    #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/candor.notification.v1.rs"));
    }
}

/// Package `candor.membership.v1`: tiers and the credit ledger.
pub mod membership {
    /// Version 1 of the membership service contract.
    #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/candor.membership.v1.rs"));
    }
}

/// Package `candor.forum.v1`: boards, threads, posts, incident threads.
pub mod forum {
    /// Version 1 of the forum service contract.
    #[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/candor.forum.v1.rs"));
    }
}

/// Package `candor.events.v1`: the messages on the `candor.events` exchange.
pub mod events {
    /// Version 1 of the event contract: payloads, routing keys, and helpers
    /// to decode a delivery by its content type.
    pub mod v1;
}
