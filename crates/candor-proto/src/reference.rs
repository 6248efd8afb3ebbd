//! The API reference (`docs/api.md`), generated from the comments in
//! `proto/`: every package's overview, every RPC with its credential and
//! status codes, every message's fields and every enum's values, so a
//! platform team can read the whole API without the proto files.
//!
//! `crates/candor-proto/tests/contracts/api_reference.rs` fails when
//! `docs/api.md` differs from [`markdown`]; rerun it with
//! `CANDOR_UPDATE_API_REFERENCE=1` to write the file.

use std::fmt::Write as _;

use prost_reflect::{
    EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor, ServiceDescriptor,
};

use crate::{DescriptorSetError, descriptor_pool};

/// Where the reference lives in the repository.
pub const PATH: &str = "docs/api.md";

/// The path of a file's `package` statement in `FileDescriptorProto`.
const PACKAGE_PATH: [i32; 1] = [2];

/// The whole reference as Markdown.
pub fn markdown() -> Result<String, DescriptorSetError> {
    let pool = descriptor_pool()?;
    let files: Vec<FileDescriptor> = pool
        .files()
        .filter(|file| file.name().starts_with("candor/"))
        .collect();
    let mut out = String::new();
    out.push_str(
        "# Candor API reference\n\n\
         <!-- Generated from proto/ by crates/candor-proto/src/reference.rs; do not edit.\n     \
         Regenerate: CANDOR_UPDATE_API_REFERENCE=1 cargo test -p candor-proto --test contracts api_reference -->\n\n\
         The gRPC services and event payloads of Candor's `v1` API, from the comments in\n\
         `proto/`. The versioning policy and the history are in\n\
         [`proto/CHANGELOG.md`](../proto/CHANGELOG.md); how callers authenticate is in the\n\
         README (\"gRPC callers and permissions\").\n\n## Contents\n\n",
    );
    for file in &files {
        let _ = writeln!(
            out,
            "- [`{package}`](#{anchor}) (`{name}`)",
            package = file.package_name(),
            anchor = anchor(file.package_name()),
            name = file.name(),
        );
        for service in file.services() {
            let _ = writeln!(
                out,
                "  - [{}](#{})",
                service.name(),
                anchor(service.full_name())
            );
        }
    }
    for file in &files {
        write_file(&mut out, file);
    }
    Ok(out)
}

fn write_file(out: &mut String, file: &FileDescriptor) {
    let _ = write!(out, "\n## {}\n\n", file.package_name());
    let _ = write!(out, "Defined in `proto/{}`.\n\n", file.name());
    push_block(out, &comment(file, &PACKAGE_PATH));
    for service in file.services() {
        write_service(out, file, &service);
    }
    let messages: Vec<MessageDescriptor> = file.messages().flat_map(with_nested).collect();
    if !messages.is_empty() {
        out.push_str("### Messages\n\n");
        for message in &messages {
            write_message(out, file, message);
        }
    }
    let enums: Vec<EnumDescriptor> = file
        .enums()
        .chain(
            messages
                .iter()
                .flat_map(|message| message.child_enums().collect::<Vec<_>>()),
        )
        .collect();
    if !enums.is_empty() {
        out.push_str("### Enums\n\n");
        for enumeration in &enums {
            write_enum(out, file, enumeration);
        }
    }
}

fn write_service(out: &mut String, file: &FileDescriptor, service: &ServiceDescriptor) {
    let _ = write!(out, "### {}\n\n", service.full_name());
    push_block(out, &comment(file, service.path()));
    for method in service.methods() {
        let stream = |streaming: bool| if streaming { "stream " } else { "" };
        let _ = write!(
            out,
            "#### {name}\n\n`rpc {name}({input_stream}{input}) returns ({output_stream}{output})`\n\n",
            name = method.name(),
            input_stream = stream(method.is_client_streaming()),
            input = method.input().full_name(),
            output_stream = stream(method.is_server_streaming()),
            output = method.output().full_name(),
        );
        let _ = write!(
            out,
            "Request [`{input}`](#{input_anchor}), response [`{output}`](#{output_anchor}).\n\n",
            input = method.input().name(),
            input_anchor = anchor(method.input().full_name()),
            output = method.output().name(),
            output_anchor = anchor(method.output().full_name()),
        );
        push_block(out, &comment(file, method.path()));
    }
}

fn write_message(out: &mut String, file: &FileDescriptor, message: &MessageDescriptor) {
    let _ = write!(out, "#### {}\n\n", message.full_name());
    push_block(out, &comment(file, message.path()));
    let fields: Vec<FieldDescriptor> = message.fields().collect();
    if fields.is_empty() {
        out.push_str("No fields.\n\n");
        return;
    }
    out.push_str("| field | number | type | description |\n| --- | --- | --- | --- |\n");
    for field in &fields {
        let _ = writeln!(
            out,
            "| `{name}` | {number} | {kind} | {description} |",
            name = field.name(),
            number = field.number(),
            kind = field_type(field),
            description = cell(&comment(file, field.path())),
        );
    }
    out.push('\n');
}

fn write_enum(out: &mut String, file: &FileDescriptor, enumeration: &EnumDescriptor) {
    let _ = write!(out, "#### {}\n\n", enumeration.full_name());
    push_block(out, &comment(file, enumeration.path()));
    out.push_str("| value | number | description |\n| --- | --- | --- |\n");
    for value in enumeration.values() {
        let _ = writeln!(
            out,
            "| `{name}` | {number} | {description} |",
            name = value.name(),
            number = value.number(),
            description = cell(&comment(file, value.path())),
        );
    }
    out.push('\n');
}

/// A message and every message nested in it, depth first.
fn with_nested(message: MessageDescriptor) -> Vec<MessageDescriptor> {
    if message.is_map_entry() {
        return Vec::new();
    }
    let mut all = vec![message.clone()];
    for child in message.child_messages() {
        all.extend(with_nested(child));
    }
    all
}

/// The field's type as the proto file spells it, linked when it is one of
/// Candor's own.
fn field_type(field: &FieldDescriptor) -> String {
    if field.is_map()
        && let Kind::Message(entry) = field.kind()
    {
        let key = entry.map_entry_key_field();
        let value = entry.map_entry_value_field();
        return format!(
            "map<{}, {}>",
            kind_name(&key.kind()),
            kind_name(&value.kind())
        );
    }
    let kind = kind_name(&field.kind());
    if field.is_list() {
        format!("repeated {kind}")
    } else if field
        .containing_oneof()
        .is_some_and(|oneof| oneof.is_synthetic())
    {
        format!("optional {kind}")
    } else if let Some(oneof) = field.containing_oneof() {
        format!("{kind} (one of `{}`)", oneof.name())
    } else {
        kind
    }
}

fn kind_name(kind: &Kind) -> String {
    let linked = |full_name: &str| {
        if full_name.starts_with("candor.") {
            format!("[`{full_name}`](#{})", anchor(full_name))
        } else {
            format!("`{full_name}`")
        }
    };
    match kind {
        Kind::Message(message) => linked(message.full_name()),
        Kind::Enum(enumeration) => linked(enumeration.full_name()),
        Kind::Double => "`double`".to_owned(),
        Kind::Float => "`float`".to_owned(),
        Kind::Int32 => "`int32`".to_owned(),
        Kind::Int64 => "`int64`".to_owned(),
        Kind::Uint32 => "`uint32`".to_owned(),
        Kind::Uint64 => "`uint64`".to_owned(),
        Kind::Sint32 => "`sint32`".to_owned(),
        Kind::Sint64 => "`sint64`".to_owned(),
        Kind::Fixed32 => "`fixed32`".to_owned(),
        Kind::Fixed64 => "`fixed64`".to_owned(),
        Kind::Sfixed32 => "`sfixed32`".to_owned(),
        Kind::Sfixed64 => "`sfixed64`".to_owned(),
        Kind::Bool => "`bool`".to_owned(),
        Kind::String => "`string`".to_owned(),
        Kind::Bytes => "`bytes`".to_owned(),
    }
}

/// The leading and trailing comments at `path`, without the one space
/// after `//`, trailing blanks trimmed.
fn comment(file: &FileDescriptor, path: &[i32]) -> String {
    let Some(info) = file.file_descriptor_proto().source_code_info.as_ref() else {
        return String::new();
    };
    let Some(location) = info.location.iter().find(|location| location.path == path) else {
        return String::new();
    };
    let text = [location.leading_comments(), location.trailing_comments()]
        .iter()
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            part.lines()
                .map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    text.trim().to_owned()
}

/// A comment as Markdown paragraphs (the proto comments are written as
/// Markdown-friendly prose and `- ` lists).
fn push_block(out: &mut String, text: &str) {
    if !text.is_empty() {
        out.push_str(text);
        out.push_str("\n\n");
    }
}

/// A comment on one table line: paragraphs kept apart with `<br>`, pipes
/// escaped.
fn cell(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| {
            paragraph
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("<br>")
        .replace('|', "\\|")
}

/// GitHub's heading anchor for a heading that is exactly `name` (dots
/// dropped, lower case).
fn anchor(name: &str) -> String {
    name.chars()
        .filter(|character| character.is_alphanumeric() || *character == '-' || *character == '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// One row of an errors table in a proto comment:
/// `| Code | Reason | When |`, one row per status an RPC may answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentedError {
    /// The gRPC code as the specification spells it (`INVALID_ARGUMENT`).
    pub code: String,
    /// The `ErrorInfo.reason` (UPPER_SNAKE_CASE).
    pub reason: String,
    /// When it is answered, in words.
    pub when: String,
}

/// The header of every errors table.
pub const ERRORS_TABLE_HEADER: &str = "| Code | Reason | When |";

/// The rows of the errors table in `text` (a comment): the Markdown table
/// under [`ERRORS_TABLE_HEADER`]. Empty when there is none.
pub fn error_rows(text: &str) -> Vec<DocumentedError> {
    let mut lines = text.lines().map(str::trim);
    if !lines.any(|line| line == ERRORS_TABLE_HEADER) {
        return Vec::new();
    }
    lines
        .take_while(|line| line.starts_with('|'))
        .filter(|line| !line.starts_with("| ---"))
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            match cells.as_slice() {
                [code, reason, when @ ..] => Some(DocumentedError {
                    code: (*code).to_owned(),
                    reason: (*reason).to_owned(),
                    when: when.join("|").trim().to_owned(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// The errors `rpc` of `service` (full name,
/// `candor.account.v1.AccountService`) documents: its own table's rows,
/// then its package's (the errors every RPC of the package may answer).
pub fn documented_errors(service: &str, rpc: &str) -> Result<Vec<DocumentedError>, String> {
    let pool = descriptor_pool().map_err(|error| error.to_string())?;
    let service_descriptor = pool
        .get_service_by_name(service)
        .ok_or_else(|| format!("no service {service} in the contracts"))?;
    let method = service_descriptor
        .methods()
        .find(|method| method.name() == rpc)
        .ok_or_else(|| format!("no RPC {rpc} in {service}"))?;
    let file = service_descriptor.parent_file();
    let mut rows = error_rows(&comment(&file, method.path()));
    rows.extend(error_rows(&comment(&file, &PACKAGE_PATH)));
    Ok(rows)
}

/// The errors table of the package `service` is in (what every RPC of it
/// may answer).
pub fn package_errors(service: &str) -> Result<Vec<DocumentedError>, String> {
    let pool = descriptor_pool().map_err(|error| error.to_string())?;
    let service_descriptor = pool
        .get_service_by_name(service)
        .ok_or_else(|| format!("no service {service} in the contracts"))?;
    Ok(error_rows(&comment(
        &service_descriptor.parent_file(),
        &PACKAGE_PATH,
    )))
}

/// What an RPC that answers only its package's errors says instead of a
/// table.
pub const NO_ERRORS_OF_ITS_OWN: &str = "Errors: none beyond the package's table.";

/// The errors table of each RPC of `service`, by RPC name (own rows only),
/// and whether its comment says it has none of its own
/// ([`NO_ERRORS_OF_ITS_OWN`]).
pub fn rpc_errors(service: &str) -> Result<Vec<(String, Vec<DocumentedError>, bool)>, String> {
    let pool = descriptor_pool().map_err(|error| error.to_string())?;
    let service_descriptor = pool
        .get_service_by_name(service)
        .ok_or_else(|| format!("no service {service} in the contracts"))?;
    let file = service_descriptor.parent_file();
    Ok(service_descriptor
        .methods()
        .map(|method| {
            let text = comment(&file, method.path());
            let none_of_its_own = text.lines().any(|line| line.trim() == NO_ERRORS_OF_ITS_OWN);
            (method.name().to_owned(), error_rows(&text), none_of_its_own)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_tables_are_read_row_by_row() {
        let text = "Creates a member.\n\nErrors:\n\n| Code | Reason | When |\n| --- | --- | --- |\n\
                    | INVALID_ARGUMENT | INVALID_FIELD | a field breaks its rule |\n\
                    | ALREADY_EXISTS | EMAIL_TAKEN | the email is registered |\n\nAfter.";
        let rows = error_rows(text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].code, "ALREADY_EXISTS");
        assert_eq!(rows[1].reason, "EMAIL_TAKEN");
        assert_eq!(rows[1].when, "the email is registered");
        assert!(error_rows("Errors: INVALID_ARGUMENT when …").is_empty());
    }
}
