//! What the account service's list RPCs share: the page size asked for,
//! clamped, and the rule every page token meets before it is decoded.

use candor_platform::grpc::InvalidField;
use candor_platform::validation::TextRule;

/// Page tokens are short base64 strings; an empty one starts at the top.
const PAGE_TOKEN: TextRule = TextRule::single_line(0, 512);

/// `requested` entries per page: `default` for 0, at most `max`.
pub(super) fn page_size(requested: u32, default: u32, max: u32) -> u32 {
    match requested {
        0 => default,
        size => size.min(max),
    }
}

/// Refuses a `page_token` no list RPC could have issued, naming the field.
pub(super) fn check_page_token(token: &str) -> Result<(), InvalidField> {
    PAGE_TOKEN
        .check_verbatim(token)
        .map_err(|reason| InvalidField::new("page_token", reason))
}
