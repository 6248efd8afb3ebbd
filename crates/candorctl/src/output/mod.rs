//! Every read command's output: `-o table` (the default, for people),
//! `-o json` or `-o yaml` (for scripts: stable snake_case keys, enum values
//! in lower snake_case). A command builds one serializable value and a
//! table renderer; [`emit`] picks.

pub mod names;
pub mod style;
pub mod table;

use serde::Serialize;

/// How a read command writes its answer.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns or text for people (Markdown for a report).
    #[default]
    #[value(alias = "markdown")]
    Table,
    /// Pretty-printed JSON with snake_case keys.
    Json,
    /// YAML with the same keys as the JSON.
    Yaml,
}

/// The `-o/--output` flag of a read command.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct OutputArgs {
    /// Output format: table (for people), json or yaml (for scripts).
    #[arg(
        short = 'o',
        long = "output",
        value_enum,
        default_value_t,
        visible_alias = "format"
    )]
    pub output: OutputFormat,
}

/// `value` as `format`; `table` renders the human form.
pub fn render<T: Serialize>(
    format: OutputFormat,
    value: &T,
    table: impl FnOnce(&T) -> String,
) -> String {
    match format {
        OutputFormat::Table => table(value),
        OutputFormat::Json => serde_json::to_string_pretty(value)
            .map(|mut text| {
                text.push('\n');
                text
            })
            .unwrap_or_else(|error| format!("{{\"error\": {:?}}}\n", error.to_string())),
        OutputFormat::Yaml => serde_yaml::to_string(value)
            .unwrap_or_else(|error| format!("error: {:?}\n", error.to_string())),
    }
}

/// Writes [`render`]'s text to stdout (a trailing newline added when missing).
pub fn emit<T: Serialize>(format: OutputFormat, value: &T, table: impl FnOnce(&T) -> String) {
    let text = render(format, value, table);
    if text.ends_with('\n') {
        print!("{text}");
    } else {
        println!("{text}");
    }
}
