//! What keeps the pages safe to use: the cookies that carry a member's
//! session, the CSRF token every form posts back, and the response headers
//! every page is served with.

pub mod cookies;
pub mod csrf;
pub mod headers;
