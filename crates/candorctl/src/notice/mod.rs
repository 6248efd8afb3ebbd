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
    let breach = notice.into_event().map_err(|problems| {
        NoticeProblems(
            problems
                .into_iter()
                .map(|(field, message)| locate(&field, message))
                .collect(),
        )
    })?;
    breach.validate(now).map_err(|error| {
        NoticeProblems(
            error
                .violations
                .into_iter()
                .map(|violation| locate(&violation.field, violation.description))
                .collect(),
        )
    })?;
    Ok(breach)
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
