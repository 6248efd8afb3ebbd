//! The stable snake_case JSON of a message, for tools' output (candorctl's
//! `-o json`): field names as declared in `proto/` (`incident_id`, not
//! `incidentId`) and enum values by their short lower-case name
//! (`all`, not `PASSWORD_RESET_SCOPE_ALL`), the same names a breach notice
//! file uses. The proto3 JSON mapping ([`crate::encode_json`]) stays what
//! goes over the wire.

use prost::{Message, Name};
use prost_reflect::{DynamicMessage, EnumDescriptor, Kind, MessageDescriptor, SerializeOptions};

use crate::{JsonError, descriptor_pool};

/// `message` as a JSON value with snake_case keys and short enum values.
pub fn encode_snake_json<M: Message + Name>(message: &M) -> Result<serde_json::Value, JsonError> {
    let message_type = M::full_name();
    let descriptor = descriptor_pool()?
        .get_message_by_name(&message_type)
        .ok_or_else(|| JsonError::UnknownMessageType {
            message_type: message_type.clone(),
        })?;
    let mut dynamic = DynamicMessage::new(descriptor.clone());
    dynamic
        .transcode_from(message)
        .map_err(|source| JsonError::Conversion {
            message_type: message_type.clone(),
            source,
        })?;
    let options = SerializeOptions::new().use_proto_field_name(true);
    let mut value = dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|source| JsonError::Serialize {
            message_type,
            source,
        })?;
    shorten_enums(&mut value, &descriptor);
    Ok(value)
}

/// The short lower-case name of an enum value: the value's name without the
/// enum's prefix (`PASSWORD_RESET_SCOPE_ALL` → `all`), as buf's
/// `ENUM_VALUE_PREFIX` rule guarantees every value has one.
pub fn short_enum_value_name(enumeration: &EnumDescriptor, value_name: &str) -> String {
    let prefix = enum_value_prefix(enumeration.name());
    value_name
        .strip_prefix(&prefix)
        .unwrap_or(value_name)
        .to_ascii_lowercase()
}

/// The prefix of every value of enum `full_name`
/// (`candor.events.v1.DataClass` → `DATA_CLASS_`).
pub fn enum_value_prefix(full_name: &str) -> String {
    let name = full_name.rsplit('.').next().unwrap_or(full_name);
    format!("{}_", upper_snake(name))
}

/// The short names of every valid value of enum `full_name`
/// (`candor.events.v1.DataClass`), in declaration order, without the
/// `UNSPECIFIED` zero value; empty for an unknown enum.
pub fn enum_value_names(full_name: &str) -> Vec<String> {
    let Some(enumeration) = descriptor_pool()
        .ok()
        .and_then(|pool| pool.get_enum_by_name(full_name))
    else {
        return Vec::new();
    };
    enumeration
        .values()
        .filter(|value| value.number() != 0)
        .map(|value| short_enum_value_name(&enumeration, value.name()))
        .collect()
}

fn shorten_enums(value: &mut serde_json::Value, descriptor: &MessageDescriptor) {
    let Some(object) = value.as_object_mut() else {
        return;
    };
    for field in descriptor.fields() {
        let Some(field_value) = object.get_mut(field.name()) else {
            continue;
        };
        let items: Vec<&mut serde_json::Value> = match field_value {
            serde_json::Value::Array(items) => items.iter_mut().collect(),
            other => vec![other],
        };
        match field.kind() {
            Kind::Enum(enumeration) => {
                for item in items {
                    if let Some(name) = item.as_str() {
                        *item =
                            serde_json::Value::String(short_enum_value_name(&enumeration, name));
                    }
                }
            }
            Kind::Message(message) => {
                for item in items {
                    shorten_enums(item, &message);
                }
            }
            _ => {}
        }
    }
}

/// `PasswordResetScope` → `PASSWORD_RESET_SCOPE` (a protobuf enum name to
/// its values' prefix; also how tools turn any CamelCase name into words).
pub fn upper_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (index, character) in name.chars().enumerate() {
        if character.is_ascii_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(character.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::v1::{
        BreachReported, Compensation, CompensationKind, DataClass, DataClassTaken,
        PasswordResetScope,
    };

    #[test]
    fn keys_are_snake_case_and_enums_short() {
        let breach = BreachReported {
            incident_id: "incident-1".to_owned(),
            password_reset_scope: PasswordResetScope::All as i32,
            data_classes: vec![DataClassTaken {
                data_class: DataClass::PasswordHash as i32,
                description: String::new(),
            }],
            compensation: Some(Compensation {
                kind: CompensationKind::LifetimeMembership as i32,
                value_minor_units: 2500,
                ..Compensation::default()
            }),
            affected_joined_before: Some(prost_types::Timestamp {
                seconds: 1_320_105_600,
                nanos: 0,
            }),
            ..BreachReported::default()
        };
        let json = encode_snake_json(&breach).unwrap();
        assert_eq!(json["incident_id"], "incident-1");
        assert_eq!(json["password_reset_scope"], "all");
        assert_eq!(json["data_classes"][0]["data_class"], "password_hash");
        assert_eq!(json["compensation"]["kind"], "lifetime_membership");
        assert_eq!(json["affected_joined_before"], "2011-11-01T00:00:00Z");
        assert!(json.get("incidentId").is_none());
    }

    #[test]
    fn valid_values_are_listed_without_unspecified() {
        assert_eq!(
            enum_value_names("candor.events.v1.PasswordResetScope"),
            ["affected", "all", "none"]
        );
        assert!(enum_value_names("candor.events.v1.Nothing").is_empty());
    }
}
