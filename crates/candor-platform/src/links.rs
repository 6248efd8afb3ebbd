//! The public site's routes Candor links to, in one place: every email,
//! forum post and canned reply builds its links here from `PUBLIC_BASE_URL`,
//! so the front end has one table to implement (README, "Public links").

/// Builds links under `PUBLIC_BASE_URL`.
#[derive(Debug, Clone)]
pub struct PublicLinks {
    base: String,
}

impl PublicLinks {
    /// `base` is `PUBLIC_BASE_URL`; a trailing slash is ignored.
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// The public site's root.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Where a member asks for a password reset email.
    pub fn password_reset(&self) -> String {
        format!("{}/account/reset-password", self.base)
    }

    /// The link in a password reset email: the page that sets the new
    /// password with `token`.
    pub fn password_reset_confirmation(&self, token: &str) -> String {
        format!("{}/account/reset-password/confirm?token={token}", self.base)
    }

    /// Where a signed-in member starts deactivating their account.
    pub fn deactivation(&self) -> String {
        format!("{}/account/deactivate", self.base)
    }

    /// The link in a deactivation email: the page that confirms it with
    /// `token`.
    pub fn deactivation_confirmation(&self, token: &str) -> String {
        format!("{}/account/deactivate/confirm?token={token}", self.base)
    }

    /// The forum's front page.
    pub fn forum(&self) -> String {
        format!("{}/forum", self.base)
    }

    /// One forum thread.
    pub fn forum_thread(&self, thread_id: impl std::fmt::Display) -> String {
        format!("{}/forum/threads/{thread_id}", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::PublicLinks;

    #[test]
    fn every_route_hangs_off_the_base_without_a_double_slash() {
        let links = PublicLinks::new("https://books.example/");
        assert_eq!(links.base(), "https://books.example");
        assert_eq!(
            links.password_reset(),
            "https://books.example/account/reset-password"
        );
        assert_eq!(
            links.password_reset_confirmation("t0k"),
            "https://books.example/account/reset-password/confirm?token=t0k"
        );
        assert_eq!(
            links.deactivation(),
            "https://books.example/account/deactivate"
        );
        assert_eq!(
            links.deactivation_confirmation("t0k"),
            "https://books.example/account/deactivate/confirm?token=t0k"
        );
        assert_eq!(links.forum(), "https://books.example/forum");
        assert_eq!(
            links.forum_thread("42"),
            "https://books.example/forum/threads/42"
        );
    }
}
