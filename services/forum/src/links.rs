//! Public links built from PUBLIC_BASE_URL.

use uuid::Uuid;

/// The public site's URLs the forum hands out.
#[derive(Debug, Clone)]
pub struct Links {
    base: String,
}

impl Links {
    /// `base` is PUBLIC_BASE_URL (without trailing slash).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    pub fn thread(&self, thread_id: Uuid) -> String {
        format!("{}/forum/threads/{thread_id}", self.base)
    }

    pub fn forum(&self) -> String {
        format!("{}/forum", self.base)
    }

    /// Where a member starts deactivating their account.
    pub fn deactivation(&self) -> String {
        format!("{}/account/deactivate", self.base)
    }

    /// Where a member asks for a password reset email.
    pub fn password_reset(&self) -> String {
        format!("{}/account/reset-password", self.base)
    }
}
