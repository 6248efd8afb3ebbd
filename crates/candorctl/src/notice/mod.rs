//! The breach notice an operator writes: a TOML file and/or flags, turned
//! into a validated `BreachReported`. Every problem names the field and,
//! when it comes from the file, the line.

pub mod file;
mod flags;
mod lines;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use candor_proto::events::v1::BreachReported;

pub use file::NoticeFile;
pub use flags::NoticeFlags;
use lines::KeyLines;
pub use lines::line_at;

/// One thing wrong with a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeProblem {
    /// The file, when the problem comes from one.
    pub file: Option<PathBuf>,
    /// The 1-based line in that file, when known.
    pub line: Option<usize>,
    /// The field path in snake_case (`compensation.currency`).
    pub field: String,
    pub message: String,
}

impl fmt::Display for NoticeProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(formatter, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(formatter, "{}: ", file.display())?,
            _ => {}
        }
        write!(formatter, "{}: {}", self.field, self.message)
    }
}

/// Every problem found; displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeProblems(pub Vec<NoticeProblem>);

impl fmt::Display for NoticeProblems {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(formatter)?;
            }
            write!(formatter, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for NoticeProblems {}

/// Reads the notice from `file` (if any), applies `flags` over it, converts
/// and validates it as of `now`.
pub fn load(
    file: Option<&Path>,
    flags: &NoticeFlags,
    now: SystemTime,
) -> Result<BreachReported, NoticeProblems> {
    let (notice, key_lines) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                NoticeProblems(vec![NoticeProblem {
                    file: Some(path.to_owned()),
                    line: None,
                    field: "file".to_owned(),
                    message: format!("cannot read: {error}"),
                }])
            })?;
            parse(&text, Some(path))?
        }
        None => (NoticeFile::default(), KeyLines::default()),
    };
    let notice = flags.apply(notice);
    let locate = |field: &str, message: String| NoticeProblem {
        file: file.map(Path::to_owned),
        line: key_lines.line_of(field),
        field: field.to_owned(),
        message,
    };
    // One pass: conversion problems (a bad time, an unknown enum value)
    // and the event's own rules are all reported together. A field that
    // did not convert is not also reported as missing.
    let (breach, conversion) = notice.into_event();
    let mut problems: Vec<NoticeProblem> = conversion
        .iter()
        .map(|(field, message)| locate(field, message.clone()))
        .collect();
    if let Err(error) = breach.validate(now) {
        problems.extend(
            error
                .violations
                .into_iter()
                .filter(|violation| {
                    !conversion
                        .iter()
                        .any(|(field, _)| *field == violation.field)
                })
                .map(|violation| {
                    locate(
                        &violation.field,
                        operator_words(&violation.field, &violation.description),
                    )
                }),
        );
    }
    if let Some(message) = late_without_reason(&breach, now) {
        problems.push(locate("late_notification_reason", message));
    }
    if problems.is_empty() {
        return Ok(breach);
    }
    // In file order, so the list reads top to bottom.
    problems.sort_by_key(|problem| problem.line.unwrap_or(usize::MAX));
    Err(NoticeProblems(problems))
}

/// GDPR Art. 33(1): a supervisory authority notified more than 72 hours
/// after the breach was discovered must be given the reasons for the delay.
/// A late incident (notified late, or not notified and already past the
/// clock at `now`) without `late_notification_reason` is refused, naming
/// the delay; the consumers accept it (the members' notice must not wait),
/// so the check lives here, where the operator can still add the reason.
fn late_without_reason(breach: &BreachReported, now: SystemTime) -> Option<String> {
    if !breach.late_notification_reason.trim().is_empty() {
        return None;
    }
    let discovered = breach.discovered_at.as_ref()?;
    let (reported, what) = match breach.authority_notified_at.as_ref() {
        Some(notified) => (notified.seconds, "the authority was notified"),
        None => (
            chrono::DateTime::<chrono::Utc>::from(now).timestamp(),
            "it is now",
        ),
    };
    let delay = reported - discovered.seconds;
    (delay > crate::commands::incident::regulator::GDPR_NOTIFICATION_SECONDS).then(|| {
        format!(
            "required: {what} {} hours after discovered_at, past GDPR Art. 33's 72 hours; state the reasons for the delay (or set authority_notified_at if it was notified in time)",
            delay / 3600
        )
    })
}

/// The enums a notice names by short value (`all`, `email_address`).
const NOTICE_ENUMS: [&str; 3] = [
    "candor.events.v1.PasswordResetScope",
    "candor.events.v1.DataClass",
    "candor.events.v1.CompensationKind",
];

/// A validation message in the notice's own words: an enum field left
/// unset lists its valid values, and protobuf value names
/// (`COMPENSATION_KIND_NONE`) become the short names a notice uses.
fn operator_words(field: &str, description: &str) -> String {
    for enum_name in NOTICE_ENUMS {
        let prefix = candor_proto::enum_value_prefix(enum_name);
        let is_this_enum = field == "password_reset_scope"
            && enum_name.ends_with("PasswordResetScope")
            || field.ends_with(".data_class") && enum_name.ends_with("DataClass")
            || field == "compensation.kind" && enum_name.ends_with("CompensationKind");
        if is_this_enum && description.contains(&prefix) && description.starts_with("must be") {
            return format!(
                "required; valid values: {}",
                candor_proto::enum_value_names(enum_name).join(", ")
            );
        }
    }
    let mut words = description.to_owned();
    for enum_name in NOTICE_ENUMS {
        let prefix = candor_proto::enum_value_prefix(enum_name);
        for short in candor_proto::enum_value_names(enum_name) {
            let full = format!("{prefix}{}", short.to_ascii_uppercase());
            words = words.replace(&full, &format!("{short:?}"));
        }
    }
    words
}

/// Parses TOML text into a notice and the line of every key.
pub fn parse(text: &str, path: Option<&Path>) -> Result<(NoticeFile, KeyLines), NoticeProblems> {
    let syntax_problem = |error: toml::de::Error| {
        let line = error.span().map(|span| lines::line_at(text, span.start));
        NoticeProblems(vec![NoticeProblem {
            file: path.map(Path::to_owned),
            line,
            field: "file".to_owned(),
            message: error.message().trim().to_owned(),
        }])
    };
    let key_lines = KeyLines::parse(text).map_err(syntax_problem)?;
    let notice: NoticeFile = toml::from_str(text).map_err(|error| {
        let mut problems = syntax_problem(error);
        // serde names the offending key in the message; point at its line.
        if let Some(problem) = problems.0.first_mut() {
            problem.field = "notice".to_owned();
        }
        problems
    })?;
    Ok((notice, key_lines))
}
