//! Colour for people only: on a terminal, never when `NO_COLOR` is set
//! (the platform's rule, which the services' text logs follow too).

use std::io::IsTerminal as _;

/// Whether candorctl's stdout gets colour.
pub fn stdout_colour() -> bool {
    candor_platform::telemetry::colour_wanted(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// Green when all is well, red when not, yellow in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Warning,
}

/// `text` in `tone`'s colour when `colour` is on, unchanged otherwise.
pub fn paint(text: &str, tone: Tone, colour: bool) -> String {
    if !colour {
        return text.to_owned();
    }
    let code = match tone {
        Tone::Good => "32",
        Tone::Bad => "31",
        Tone::Warning => "33",
    };
    format!("\u{1b}[{code}m{text}\u{1b}[0m")
}
