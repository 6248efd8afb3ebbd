//! Runtime reflection over Candor's descriptor set and the proto3 JSON
//! mapping (lowerCamelCase names, RFC 3339 timestamps, enum value names) for
//! every generated message.

use std::sync::LazyLock;

use prost::{Message, Name};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};

use crate::FILE_DESCRIPTOR_SET;

static DESCRIPTOR_POOL: LazyLock<Result<DescriptorPool, DescriptorSetError>> =
    LazyLock::new(|| {
        DescriptorPool::decode(FILE_DESCRIPTOR_SET)
            .map_err(|error| DescriptorSetError(error.to_string()))
    });

/// The embedded descriptor set could not be loaded. The build script checks
/// the same set, so this means a broken build rather than bad input.
#[derive(Debug, Clone, thiserror::Error)]
#[error("Candor's embedded file descriptor set cannot be loaded: {0}")]
pub struct DescriptorSetError(String);

/// A [`DescriptorPool`] of every message, enum and service in `proto/` (and
/// the well-known types they import), built on first use.
pub fn descriptor_pool() -> Result<&'static DescriptorPool, DescriptorSetError> {
    DESCRIPTOR_POOL.as_ref().map_err(Clone::clone)
}

/// Why a message could not be converted from or to JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The embedded descriptor set is unusable.
    #[error(transparent)]
    DescriptorSet(#[from] DescriptorSetError),

    /// The message type is not part of Candor's descriptor set.
    #[error("message type {message_type} is not in Candor's descriptor set")]
    UnknownMessageType {
        /// Full protobuf name of the message.
        message_type: String,
    },

    /// The document is not valid JSON, or not valid proto3 JSON for the
    /// message: unknown field, unknown enum value, malformed timestamp,
    /// wrong type, …
    #[error("invalid JSON for {message_type} at line {line} column {column}: {reason}{context}")]
    Invalid {
        /// Full protobuf name of the message.
        message_type: String,
        /// What is wrong, e.g. `unrecognized enum value 'LIFETIME'`.
        reason: String,
        /// 1-based line of the error in the document (0 when unknown).
        line: usize,
        /// 1-based column of the error in the document (0 when unknown).
        column: usize,
        /// The offending line of the document, prefixed with `: near `
        /// (empty when unknown), so the error is readable on its own.
        context: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },

    /// The JSON was well formed but could not be converted into the
    /// generated type (should not happen: both come from the same schema).
    #[error("cannot convert {message_type}: {source}")]
    Conversion {
        /// Full protobuf name of the message.
        message_type: String,
        /// The underlying error.
        #[source]
        source: prost::DecodeError,
    },

    /// The message could not be written as JSON.
    #[error("cannot write {message_type} as JSON: {source}")]
    Serialize {
        /// Full protobuf name of the message.
        message_type: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

fn message_descriptor<M: Name>() -> Result<MessageDescriptor, JsonError> {
    let message_type = M::full_name();
    descriptor_pool()?
        .get_message_by_name(&message_type)
        .ok_or(JsonError::UnknownMessageType { message_type })
}

/// Parses a message from its proto3 JSON form (field names in lowerCamelCase
/// or as declared, RFC 3339 timestamps, enum value names or numbers, 64-bit
/// integers as numbers or strings). Unknown fields are an error.
pub fn decode_json<M: Message + Name + Default>(json: &[u8]) -> Result<M, JsonError> {
    let descriptor = message_descriptor::<M>()?;
    let invalid = |source: serde_json::Error| invalid_json(M::full_name(), json, source);
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let dynamic = DynamicMessage::deserialize(descriptor, &mut deserializer).map_err(invalid)?;
    deserializer.end().map_err(invalid)?;
    dynamic
        .transcode_to::<M>()
        .map_err(|source| JsonError::Conversion {
            message_type: M::full_name(),
            source,
        })
}

/// Writes a message in its canonical proto3 JSON form, compact: lowerCamelCase
/// names, fields with default values omitted, enum value names, RFC 3339
/// timestamps, 64-bit integers as strings.
pub fn encode_json<M: Message + Name>(message: &M) -> Result<String, JsonError> {
    encode_with(message, serde_json::Serializer::new(Vec::new()))
}

/// As [`encode_json`], indented for people to read.
pub fn encode_json_pretty<M: Message + Name>(message: &M) -> Result<String, JsonError> {
    encode_with(message, serde_json::Serializer::pretty(Vec::new()))
}

fn encode_with<M, F>(
    message: &M,
    mut serializer: serde_json::Serializer<Vec<u8>, F>,
) -> Result<String, JsonError>
where
    M: Message + Name,
    F: serde_json::ser::Formatter,
{
    let mut dynamic = DynamicMessage::new(message_descriptor::<M>()?);
    dynamic
        .transcode_from(message)
        .map_err(|source| JsonError::Conversion {
            message_type: M::full_name(),
            source,
        })?;
    dynamic
        .serialize_with_options(&mut serializer, &SerializeOptions::new())
        .map_err(|source| JsonError::Serialize {
            message_type: M::full_name(),
            source,
        })?;
    // serde_json only ever writes valid UTF-8.
    Ok(String::from_utf8_lossy(&serializer.into_inner()).into_owned())
}

fn invalid_json(message_type: String, json: &[u8], source: serde_json::Error) -> JsonError {
    let line = source.line();
    let column = source.column();
    // serde_json appends " at line L column C"; keep the bare reason since
    // the position is reported separately.
    let full = source.to_string();
    let reason = match full.rfind(" at line ") {
        Some(index) if line > 0 => full[..index].to_owned(),
        _ => full,
    };
    let context = line
        .checked_sub(1)
        .and_then(|index| {
            String::from_utf8_lossy(json)
                .lines()
                .nth(index)
                .map(str::trim)
                .map(str::to_owned)
        })
        .filter(|text| !text.is_empty())
        .map(|text| {
            let shortened: String = text.chars().take(160).collect();
            format!(": near `{shortened}`")
        })
        .unwrap_or_default();
    JsonError::Invalid {
        message_type,
        reason,
        line,
        column,
        context,
        source,
    }
}
