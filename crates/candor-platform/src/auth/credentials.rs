//! The credentials a service accepts: `OPERATOR_TOKEN` for operators and
//! `CALLER_TOKENS` for the other callers. Only SHA-256 digests of the tokens
//! are kept in memory; a presented token is hashed and compared with every
//! digest in constant time.

use secrecy::ExposeSecret as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::Caller;
use crate::config::AuthConfig;

/// A SHA-256 digest of a token.
type TokenDigest = [u8; 32];

fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// The parsed `CALLER_TOKENS` setting: which caller each accepted token
/// belongs to, as digests. `Debug` shows the callers, never the digests.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CallerTokens {
    entries: Vec<(Caller, TokenDigest)>,
}

impl std::fmt::Debug for CallerTokens {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let callers: Vec<&str> = self
            .entries
            .iter()
            .map(|(caller, _)| caller.name())
            .collect();
        write!(formatter, "CallerTokens({})", callers.join(", "))
    }
}

impl CallerTokens {
    /// Parses `caller=token` pairs separated by commas or newlines (blank
    /// entries are skipped). A caller may have several tokens (rotation).
    /// Errors name the entry by position and never include a token.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut entries: Vec<(Caller, TokenDigest)> = Vec::new();
        let pairs = value
            .split([',', '\n'])
            .map(|pair| pair.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r'))
            .filter(|pair| !pair.is_empty());
        for (index, pair) in pairs.enumerate() {
            let position = index + 1;
            let (name, token) = pair
                .split_once('=')
                .ok_or_else(|| format!("entry {position} is not `caller=token` (no `=`)"))?;
            let caller: Caller = name
                .trim()
                .parse()
                .map_err(|error| format!("entry {position}: {error}"))?;
            if caller == Caller::Operator {
                return Err(format!(
                    "entry {position}: operators use OPERATOR_TOKEN, not CALLER_TOKENS"
                ));
            }
            check_token_strength(token.trim())
                .map_err(|reason| format!("entry {position} ({caller}): the token {reason}"))?;
            let token_digest = digest(token.trim());
            if let Some((other, _)) = entries.iter().find(|(_, known)| *known == token_digest) {
                return Err(format!(
                    "entry {position} ({caller}): the same token is already given for {other}; every token must be distinct"
                ));
            }
            entries.push((caller, token_digest));
        }
        Ok(Self { entries })
    }

    /// The callers with at least one token, each once.
    pub fn callers(&self) -> Vec<Caller> {
        let mut callers: Vec<Caller> = self.entries.iter().map(|(caller, _)| *caller).collect();
        callers.sort_unstable();
        callers.dedup();
        callers
    }

    /// True when no token is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The strength rule for every bearer token a service accepts or presents:
/// at least 16 visible ASCII characters without `,` (the `CALLER_TOKENS`
/// separator), of at least 8 different characters.
pub fn check_token_strength(token: &str) -> Result<(), String> {
    if token.len() < 16 {
        return Err("must be at least 16 characters".to_owned());
    }
    if !token.chars().all(|c| c.is_ascii_graphic() && c != ',') {
        return Err("must be visible ASCII characters without spaces or `,`".to_owned());
    }
    let mut distinct: Vec<char> = token.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 8 {
        return Err("is too repetitive (fewer than 8 different characters)".to_owned());
    }
    Ok(())
}

/// The credentials this service accepts.
#[derive(Clone)]
pub struct Credentials {
    known: Vec<(Caller, TokenDigest)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Credentials { .. }")
    }
}

/// Why the configured credentials cannot be used together.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("CALLER_TOKENS gives OPERATOR_TOKEN to the {0} caller; every token must be distinct")]
    OperatorTokenReused(Caller),
}

impl Credentials {
    /// The operator token and the caller tokens of `config`.
    pub fn new(config: &AuthConfig) -> Result<Self, CredentialsError> {
        let operator = digest(config.operator_token.expose_secret());
        let callers = config.caller_tokens.clone().unwrap_or_default();
        if let Some((caller, _)) = callers.entries.iter().find(|(_, known)| *known == operator) {
            return Err(CredentialsError::OperatorTokenReused(*caller));
        }
        let mut known = vec![(Caller::Operator, operator)];
        known.extend(callers.entries);
        Ok(Self { known })
    }

    /// The caller `token` belongs to, if any. The presented token is hashed
    /// once and compared with every known digest, so timing tells neither
    /// whether nor which one matched.
    pub fn caller_of(&self, token: &str) -> Option<Caller> {
        let presented = digest(token);
        let mut found = None;
        for (caller, known) in &self.known {
            if bool::from(known.ct_eq(&presented)) {
                found = Some(*caller);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_separated_by_commas_and_newlines() {
        let tokens = CallerTokens::parse(
            "forum=forum-token-0123456789, frontend=frontend-token-0123456789\n\nforum=forum-token-9876543210\r\n",
        )
        .unwrap();
        assert_eq!(tokens.callers(), vec![Caller::Forum, Caller::FrontEnd]);
        assert_eq!(tokens.entries.len(), 3);
        assert!(CallerTokens::parse("").unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_entry_and_never_the_token() {
        let cases = [
            ("forum", "entry 1 is not `caller=token`"),
            (
                "forum=abc",
                "entry 1 (forum): the token must be at least 16 characters",
            ),
            ("forum=aaaaaaaaaaaaaaaaaaaa", "too repetitive"),
            ("forum=secret-token 0123456789", "visible ASCII"),
            ("nobody=secret-token-0123456789", "unknown caller `nobody`"),
            ("operator=secret-token-0123456789", "OPERATOR_TOKEN"),
            (
                "forum=secret-token-0123456789,account=secret-token-0123456789",
                "entry 2 (account): the same token is already given for forum",
            ),
        ];
        for (value, expected) in cases {
            let error = CallerTokens::parse(value).unwrap_err();
            assert!(error.contains(expected), "{value}: {error}");
            assert!(!error.contains("secret-token"), "{error}");
            assert!(!error.contains("aaaaaaaa"), "{error}");
        }
    }

    #[test]
    fn identifies_callers_and_refuses_near_misses() {
        let mut config = AuthConfig::new("operator-token-0123456789", "own-token-0123456789");
        config.caller_tokens = Some(
            CallerTokens::parse("forum=forum-token-0123456789,forum=forum-token-9876543210")
                .unwrap(),
        );
        let credentials = Credentials::new(&config).unwrap();
        assert_eq!(
            credentials.caller_of("operator-token-0123456789"),
            Some(Caller::Operator)
        );
        assert_eq!(
            credentials.caller_of("forum-token-9876543210"),
            Some(Caller::Forum)
        );
        assert_eq!(credentials.caller_of("forum-token-987654321"), None);
        // The service's own SERVICE_TOKEN is what it presents, not what it accepts.
        assert_eq!(credentials.caller_of("own-token-0123456789"), None);
    }

    #[test]
    fn the_operator_token_cannot_double_as_a_caller_token() {
        let mut config = AuthConfig::new("operator-token-0123456789", "own-token-0123456789");
        config.caller_tokens =
            Some(CallerTokens::parse("forum=operator-token-0123456789").unwrap());
        let error = Credentials::new(&config).unwrap_err();
        assert_eq!(
            error.to_string(),
            "CALLER_TOKENS gives OPERATOR_TOKEN to the forum caller; every token must be distinct"
        );
    }
}
