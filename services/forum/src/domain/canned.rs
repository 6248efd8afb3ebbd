//! Canned reply templates: `{name}` placeholders, built-in ones filled from
//! the forum's links and the answered post, the rest from the caller's
//! variables (Markdown-escaped, inserted literally).

use std::collections::{BTreeSet, HashMap};

use candor_platform::validation::{TextRejected, TextRule};

/// Placeholders the forum fills itself.
pub const BUILT_IN: [&str; 5] = [
    "deactivation_url",
    "password_reset_url",
    "forum_url",
    "member_display_name",
    "thread_url",
];

const MAX_VARIABLES: usize = 16;
/// A variable's value: one line of 1..=500 characters, inserted as sent
/// (Markdown-escaped).
const VALUE: TextRule = TextRule::single_line(1, 500);

/// Why a template could not be filled (INVALID_ARGUMENT).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FillError {
    #[error("placeholder {{{0}}} has no value")]
    Missing(String),
    #[error("at most {MAX_VARIABLES} entries")]
    TooMany,
    #[error("key {0:?} must match ^[a-z_]{{1,32}}$")]
    BadKey(String),
    #[error("value of {0:?} {1}")]
    BadValue(String, TextRejected),
}

/// The `{name}` placeholders of a template, in order of appearance.
fn placeholders(template: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let mut rest_start = 0;
    std::iter::from_fn(move || {
        loop {
            let open = template.get(rest_start..)?.find('{')? + rest_start;
            let close = template.get(open + 1..)?.find(['{', '}'])? + open + 1;
            rest_start = open + 1;
            if !template[close..].starts_with('}') {
                continue;
            }
            let name = &template[open + 1..close];
            if is_key(name) {
                rest_start = close + 1;
                return Some((open, close + 1, name));
            }
        }
    })
}

fn is_key(name: &str) -> bool {
    (1..=32).contains(&name.len()) && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

/// Placeholders of `template` that are not built in, ascending.
pub fn required_variables(template: &str) -> Vec<String> {
    placeholders(template)
        .map(|(_, _, name)| name)
        .filter(|name| !BUILT_IN.contains(name))
        .map(str::to_owned)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Checks the caller's variables against the contract's rules.
pub fn check_variables(variables: &HashMap<String, String>) -> Result<(), FillError> {
    if variables.len() > MAX_VARIABLES {
        return Err(FillError::TooMany);
    }
    for (key, value) in variables {
        if !is_key(key) {
            return Err(FillError::BadKey(key.clone()));
        }
        if let Err(reason) = VALUE.check_verbatim(value) {
            return Err(FillError::BadValue(key.clone(), reason));
        }
    }
    Ok(())
}

/// Fills `template`: built-ins from `built_in` (inserted as they are), other
/// placeholders from `variables` (Markdown-escaped).
pub fn fill(
    template: &str,
    built_in: &HashMap<&'static str, String>,
    variables: &HashMap<String, String>,
) -> Result<String, FillError> {
    let mut filled = String::with_capacity(template.len() + 128);
    let mut copied_until = 0;
    for (start, end, name) in placeholders(template) {
        filled.push_str(&template[copied_until..start]);
        if let Some(value) = built_in.get(name) {
            filled.push_str(value);
        } else if let Some(value) = variables.get(name) {
            filled.push_str(&escape_markdown(value));
        } else {
            return Err(FillError::Missing(name.to_owned()));
        }
        copied_until = end;
    }
    filled.push_str(&template[copied_until..]);
    Ok(filled)
}

/// Backslash-escapes the characters Markdown gives meaning to, so plain text
/// stays plain.
pub fn escape_markdown(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if "\\`*_{}[]()<>#+-.!|~".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_built_ins_and_escaped_variables_and_names_a_missing_one() {
        let template =
            "Hi {member_display_name}, go to {deactivation_url}. {answer} {not a placeholder}";
        let built_in = HashMap::from([
            ("member_display_name", "Ann".to_owned()),
            (
                "deactivation_url",
                "https://x.example/account/deactivate".to_owned(),
            ),
        ]);
        let variables = HashMap::from([("answer".to_owned(), "*yes*".to_owned())]);
        assert_eq!(
            fill(template, &built_in, &variables).unwrap(),
            "Hi Ann, go to https://x.example/account/deactivate. \\*yes\\* {not a placeholder}"
        );
        assert_eq!(required_variables(template), vec!["answer".to_owned()]);
        assert_eq!(
            fill(template, &built_in, &HashMap::new()).unwrap_err(),
            FillError::Missing("answer".to_owned())
        );
    }

    #[test]
    fn variables_are_checked() {
        let bad_key = HashMap::from([("Bad".to_owned(), "x".to_owned())]);
        assert!(matches!(
            check_variables(&bad_key),
            Err(FillError::BadKey(_))
        ));
        let empty = HashMap::from([("ok".to_owned(), String::new())]);
        assert!(matches!(
            check_variables(&empty),
            Err(FillError::BadValue(..))
        ));
        let header = HashMap::from([("ok".to_owned(), "line\r\nbreak".to_owned())]);
        assert!(matches!(
            check_variables(&header),
            Err(FillError::BadValue(_, TextRejected::LineBreak))
        ));
        let long = HashMap::from([("ok".to_owned(), "x".repeat(501))]);
        assert!(matches!(
            check_variables(&long),
            Err(FillError::BadValue(_, TextRejected::TooLong { .. }))
        ));
    }
}
