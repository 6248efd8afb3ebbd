//! The forum's rules, with no I/O: who posts, what a post or title may be,
//! canned reply templates, the incident notice and page tokens.

pub mod canned;
pub mod fields;
pub mod notice;
pub mod paging;
pub mod poster;
pub mod posting;
