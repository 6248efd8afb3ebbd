//! Rules for the text fields every service accepts over gRPC, in one place.
//!
//! Two things every string field gets, whatever it means:
//! - a maximum length checked on the raw value, before any trimming, so a
//!   4 MiB string of spaces is refused rather than trimmed (and so the bound
//!   is on what arrived, not on what was left);
//! - a character rule: single-line fields (names, titles, subjects, ids)
//!   refuse CR, LF and every other control character, as well as the Unicode
//!   line and paragraph separators, because they end up in email headers,
//!   log lines and HTML titles; multi-line fields (post bodies) keep LF and
//!   TAB (CRLF from a web form becomes LF) and refuse every other control
//!   character.
//!
//! [`TextRule::check`] returns the value to store: trimmed, and for
//! multi-line text with CRLF normalised. Callers store that value, so what
//! is stored is exactly what was checked.
//!
//! The errors only give the reason; [`InvalidField`] prefixes the field name
//! ("display_name: must be a single line") and is what the RPCs answer.

use std::borrow::Cow;

/// Why a text field was refused; the text follows "<field>: ".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextRejected {
    /// More characters arrived than the field allows (counted before trimming).
    #[error("must be at most {max} characters (is {actual})")]
    TooLong {
        /// The field's maximum, in Unicode scalar values.
        max: usize,
        /// What arrived, counted up to `max + 1`.
        actual: usize,
    },
    /// Fewer characters than required once surrounding whitespace is removed.
    #[error("must be at least {min} characters after trimming")]
    TooShort {
        /// The field's minimum, in Unicode scalar values.
        min: usize,
    },
    /// A CR, LF or Unicode line separator in a single-line field.
    #[error("must be a single line (no CR, LF or line separator)")]
    LineBreak,
    /// Any other control character.
    #[error("must not contain control characters (found U+{0:04X})")]
    ControlCharacter(u32),
}

/// Whether a field may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Names, titles, subjects, addresses, ids: no line break at all.
    Single,
    /// Bodies: LF and TAB allowed (CRLF normalised to LF).
    Multi,
}

/// The length bounds and line rule of one text field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    /// Fewest characters after trimming (0: the field is optional).
    pub min_chars: usize,
    /// Most characters of the raw value, before trimming.
    pub max_chars: usize,
    /// Whether line breaks are allowed.
    pub lines: Lines,
}

impl TextRule {
    /// A single-line field of `min_chars..=max_chars` characters.
    pub const fn single_line(min_chars: usize, max_chars: usize) -> Self {
        Self {
            min_chars,
            max_chars,
            lines: Lines::Single,
        }
    }

    /// A multi-line field of `min_chars..=max_chars` characters.
    pub const fn multi_line(min_chars: usize, max_chars: usize) -> Self {
        Self {
            min_chars,
            max_chars,
            lines: Lines::Multi,
        }
    }

    /// Checks `raw` and returns the value to store: trimmed, and for
    /// multi-line text with CRLF (and a lone CR) turned into LF.
    pub fn check<'a>(&self, raw: &'a str) -> Result<Cow<'a, str>, TextRejected> {
        let trimmed = self.checked_trim(raw)?;
        if self.lines == Lines::Multi && trimmed.contains('\r') {
            return Ok(Cow::Owned(
                trimmed.replace("\r\n", "\n").replace('\r', "\n"),
            ));
        }
        Ok(Cow::Borrowed(trimmed))
    }

    /// Like [`TextRule::check`], borrowing: returns the trimmed value. Meant
    /// for single-line rules; a multi-line rule refuses CR here instead of
    /// normalising it.
    pub fn check_trimmed<'a>(&self, raw: &'a str) -> Result<&'a str, TextRejected> {
        let trimmed = self.checked_trim(raw)?;
        if self.lines == Lines::Multi && trimmed.contains('\r') {
            return Err(TextRejected::ControlCharacter(0x0d));
        }
        Ok(trimmed)
    }

    /// The length and character rules, then the minimum on the trimmed value.
    fn checked_trim<'a>(&self, raw: &'a str) -> Result<&'a str, TextRejected> {
        self.check_raw_length(raw)?;
        self.check_characters(raw)?;
        let trimmed = raw.trim();
        if trimmed.chars().count() < self.min_chars {
            return Err(TextRejected::TooShort {
                min: self.min_chars,
            });
        }
        Ok(trimmed)
    }

    /// Checks `raw` as it is, without trimming (for values stored verbatim,
    /// such as tokens and keys): the same length and character rules, with
    /// the minimum counted on the raw value.
    pub fn check_verbatim(&self, raw: &str) -> Result<(), TextRejected> {
        self.check_raw_length(raw)?;
        self.check_characters(raw)?;
        if raw.chars().count() < self.min_chars {
            return Err(TextRejected::TooShort {
                min: self.min_chars,
            });
        }
        Ok(())
    }

    /// The raw length bound. Counting stops one past the maximum, so a huge
    /// value costs no more than a just-too-long one.
    fn check_raw_length(&self, raw: &str) -> Result<(), TextRejected> {
        // Every char is at least one byte: a value this short in bytes fits.
        if raw.len() <= self.max_chars {
            return Ok(());
        }
        let counted = raw.chars().take(self.max_chars + 1).count();
        if counted > self.max_chars {
            return Err(TextRejected::TooLong {
                max: self.max_chars,
                actual: raw.chars().count(),
            });
        }
        Ok(())
    }

    fn check_characters(&self, raw: &str) -> Result<(), TextRejected> {
        for character in raw.chars() {
            match (character, self.lines) {
                ('\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}', Lines::Single) => {
                    return Err(TextRejected::LineBreak);
                }
                ('\n' | '\r' | '\t', Lines::Multi) => {}
                ('\u{2028}' | '\u{2029}', Lines::Multi) => {}
                (other, _) if other.is_control() => {
                    return Err(TextRejected::ControlCharacter(u32::from(other)));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A single-line field of `min_chars..=max_chars` characters, trimmed.
pub fn single_line(raw: &str, min_chars: usize, max_chars: usize) -> Result<&str, TextRejected> {
    TextRule::single_line(min_chars, max_chars).checked_trim(raw)
}

/// A request field that breaks its rule; the message names the field
/// ("field: rule").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidField {
    /// The field as the contract names it (`value.currency`).
    pub field: &'static str,
    /// The rule it breaks, in words.
    pub reason: String,
}

impl InvalidField {
    /// `field` breaks the rule `reason`.
    pub fn new(field: &'static str, reason: impl std::fmt::Display) -> Self {
        Self {
            field,
            reason: reason.to_string(),
        }
    }

    /// Checks a text field against `rule` (length on the raw value, then
    /// characters) and returns it trimmed.
    pub fn check<'a>(field: &'static str, value: &'a str, rule: TextRule) -> Result<&'a str, Self> {
        rule.check_trimmed(value)
            .map_err(|reason| Self::new(field, reason))
    }

    /// Checks a text field as sent (nothing trimmed) against `rule`.
    pub fn check_verbatim(field: &'static str, value: &str, rule: TextRule) -> Result<(), Self> {
        rule.check_verbatim(value)
            .map_err(|reason| Self::new(field, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_fields_refuse_line_breaks_and_control_characters() {
        let rule = TextRule::single_line(1, 64);
        assert_eq!(rule.check("  Ann  ").unwrap(), "Ann");
        assert_eq!(rule.check("Ann\r\nBcc: x@y"), Err(TextRejected::LineBreak));
        assert_eq!(rule.check("Ann\n"), Err(TextRejected::LineBreak));
        assert_eq!(rule.check("Ann\u{2028}"), Err(TextRejected::LineBreak));
        assert_eq!(
            rule.check("A\u{7}nn"),
            Err(TextRejected::ControlCharacter(7))
        );
        assert_eq!(rule.check("A\tnn"), Err(TextRejected::ControlCharacter(9)));
        assert_eq!(rule.check("   "), Err(TextRejected::TooShort { min: 1 }));
    }

    #[test]
    fn the_maximum_is_checked_before_trimming() {
        let rule = TextRule::single_line(1, 10);
        let padded = format!("{}x{}", " ".repeat(20), " ".repeat(20));
        assert_eq!(
            rule.check(&padded),
            Err(TextRejected::TooLong {
                max: 10,
                actual: 41
            })
        );
        assert_eq!(
            rule.check("ééééééééé").unwrap(),
            "ééééééééé",
            "chars, not bytes"
        );
        assert!(rule.check("éééééééééé").is_ok());
        assert!(rule.check("ééééééééééé").is_err());
    }

    #[test]
    fn multi_line_fields_keep_newlines_and_normalise_crlf() {
        let rule = TextRule::multi_line(1, 100);
        assert_eq!(rule.check("a\n\tb").unwrap(), "a\n\tb");
        assert_eq!(rule.check(" a\r\nb\rc ").unwrap(), "a\nb\nc");
        assert_eq!(
            rule.check("a\u{1b}[31mb"),
            Err(TextRejected::ControlCharacter(0x1b))
        );
        assert_eq!(
            rule.check("a\u{0}b"),
            Err(TextRejected::ControlCharacter(0))
        );
    }

    #[test]
    fn verbatim_values_are_not_trimmed() {
        let rule = TextRule::single_line(1, 4);
        assert!(rule.check_verbatim(" ab ").is_ok());
        assert!(rule.check_verbatim(" abc ").is_err());
        assert_eq!(
            rule.check_verbatim(""),
            Err(TextRejected::TooShort { min: 1 })
        );
    }
}
