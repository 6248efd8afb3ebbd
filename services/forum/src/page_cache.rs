//! A short-lived cache of ListPosts pages, so a popular incident thread read
//! by thousands of members costs the database one query per page per TTL
//! instead of one per read.
//!
//! Consistency: any write this replica makes (a post, an edit, a delete, a
//! pin or lock, an incident thread, a deactivated author) invalidates every
//! cached page at once, so a member always sees their own write here. Writes
//! made through *another* replica show up after at most the TTL
//! (`FORUM_PAGE_CACHE_MILLIS`, default 1000 ms; 0 turns the cache off).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use candor_proto::forum::v1::ListPostsResponse;
use uuid::Uuid;

/// One page: the thread, the position it starts after, and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub thread_id: Uuid,
    pub after_seq: i32,
    pub page_size: u32,
}

struct CachedPage {
    generation: u64,
    stored_at: Instant,
    page: Arc<ListPostsResponse>,
}

pub struct PageCache {
    ttl: Duration,
    capacity: usize,
    /// Bumped by every local write; a page read before the bump is stale.
    generation: AtomicU64,
    pages: Mutex<HashMap<PageKey, CachedPage>>,
}

impl PageCache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            generation: AtomicU64::new(0),
            pages: Mutex::new(HashMap::new()),
        }
    }

    /// The generation to pass to [`PageCache::put`]; read it before querying.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A fresh cached page, if any.
    pub fn get(&self, key: &PageKey) -> Option<ListPostsResponse> {
        if self.ttl.is_zero() {
            return None;
        }
        let generation = self.generation();
        let pages = self.pages.lock().ok()?;
        let cached = pages.get(key)?;
        let fresh = cached.generation == generation && cached.stored_at.elapsed() < self.ttl;
        fresh.then(|| (*cached.page).clone())
    }

    /// Stores `page`, read from the database at `generation`.
    pub fn put(&self, key: PageKey, page: &ListPostsResponse, generation: u64) {
        if self.ttl.is_zero() || generation != self.generation() {
            return;
        }
        let Ok(mut pages) = self.pages.lock() else {
            return;
        };
        if pages.len() >= self.capacity {
            let ttl = self.ttl;
            pages.retain(|_, cached| {
                cached.generation == generation && cached.stored_at.elapsed() < ttl
            });
            if pages.len() >= self.capacity {
                pages.clear();
            }
        }
        pages.insert(
            key,
            CachedPage {
                generation,
                stored_at: Instant::now(),
                page: Arc::new(page.clone()),
            },
        );
    }

    /// Forgets every cached page (after a local write).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PageKey {
        PageKey {
            thread_id: Uuid::nil(),
            after_seq: 0,
            page_size: 50,
        }
    }

    fn page(token: &str) -> ListPostsResponse {
        ListPostsResponse {
            next_page_token: token.to_owned(),
            ..ListPostsResponse::default()
        }
    }

    #[test]
    fn a_stored_page_is_served_until_a_write_invalidates_it() {
        let cache = PageCache::new(Duration::from_secs(60), 100);
        cache.put(key(), &page("a"), cache.generation());
        assert_eq!(cache.get(&key()).unwrap().next_page_token, "a");
        cache.invalidate();
        assert!(cache.get(&key()).is_none());
    }

    #[test]
    fn a_page_read_before_a_write_is_not_stored() {
        let cache = PageCache::new(Duration::from_secs(60), 100);
        let generation = cache.generation();
        cache.invalidate();
        cache.put(key(), &page("stale"), generation);
        assert!(cache.get(&key()).is_none());
    }

    #[test]
    fn pages_expire_and_a_zero_ttl_caches_nothing() {
        let cache = PageCache::new(Duration::from_millis(1), 100);
        cache.put(key(), &page("a"), cache.generation());
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.get(&key()).is_none());
        let off = PageCache::new(Duration::ZERO, 100);
        off.put(key(), &page("a"), off.generation());
        assert!(off.get(&key()).is_none());
    }
}
