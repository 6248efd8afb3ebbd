//! The breached-password corpus: the 100,000 most common passwords of
//! public breach dumps, bundled with the binary (gzip, 370 KB) and loaded
//! once into a `HashSet` (about 5 MB) the first time a password is checked;
//! `App::build` loads it at start so a damaged archive stops the service.
//!
//! Source: SecLists, `Passwords/Common-Credentials/10-million-password-list-top-100000.txt`
//! (Daniel Miessler, Jason Haddix and contributors, MIT licence; the list
//! comes from Mark Burnett's "10 million passwords" release), byte for byte;
//! see `README.md` beside this file. `common_passwords.txt` adds a few
//! site-specific ones. Entries are compared case-insensitively.

use std::collections::HashSet;
use std::io::Read as _;
use std::sync::LazyLock;

use anyhow::Context as _;

/// The gzip-compressed list, one password a line.
const TOP_100K_GZ: &[u8] = include_bytes!("common_passwords_100k.txt.gz");
/// Site-specific additions, one a line (lower case).
const SITE_SPECIFIC: &str = include_str!("common_passwords.txt");

static CORPUS: LazyLock<Result<HashSet<Box<str>>, String>> =
    LazyLock::new(|| load().map_err(|error| format!("{error:#}")));

fn load() -> anyhow::Result<HashSet<Box<str>>> {
    let mut text = String::with_capacity(800 * 1024);
    flate2::read::GzDecoder::new(TOP_100K_GZ)
        .read_to_string(&mut text)
        .context("decompressing the bundled common-password list")?;
    let corpus: HashSet<Box<str>> = text
        .lines()
        .chain(SITE_SPECIFIC.lines())
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| line.to_lowercase().into_boxed_str())
        .collect();
    anyhow::ensure!(
        corpus.len() >= 96_000,
        "the bundled common-password list has only {} entries",
        corpus.len()
    );
    Ok(corpus)
}

/// Loads the corpus now (at start), so a damaged archive stops the service
/// instead of failing the first registration.
pub fn preload() -> anyhow::Result<usize> {
    CORPUS
        .as_ref()
        .map(HashSet::len)
        .map_err(|error| anyhow::anyhow!("{error}"))
}

/// Whether `lowered` (already lower-cased) is in the corpus. A corpus that
/// failed to load counts every password as common (fail closed); `preload`
/// keeps a service with such a corpus from starting.
pub fn contains(lowered: &str) -> bool {
    CORPUS
        .as_ref()
        .map_or(true, |corpus| corpus.contains(lowered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_holds_the_hundred_thousand_most_common_passwords() {
        let size = preload().unwrap();
        // 100,000 lines, fewer once compared case-insensitively.
        assert!(size >= 96_000, "{size}");
        for common in ["123456", "password", "trustno1", "qwerty123", "iloveyou"] {
            assert!(contains(common), "{common}");
        }
        // The last lines of the list, so it was not truncated.
        assert!(contains("070162"));
        assert!(contains("07021954"));
        assert!(!contains("correct horse battery staple 9731"));
    }
}
