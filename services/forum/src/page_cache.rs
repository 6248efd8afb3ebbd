//! A short-lived cache of ListPosts pages, so a popular incident thread read
//! by thousands of members costs the database one query per page per TTL
//! instead of one per read.
//!
//! Consistency: any write this replica makes (a post, an edit, a delete, a
//! pin or lock, an incident thread, a deactivated author) invalidates every
//! cached page at once, so a member always sees their own write here. Writes
//! made through *another* replica show up after at most the TTL
//! (`FORUM_PAGE_CACHE_MILLIS`, default 1000 ms; 0 turns the cache off).
//!
//! Only one reader at a time fills a given page: readers that miss while it
//! is being read from the database wait for it rather than send the same
//! query (every page of a busy thread expires once per TTL, and without
//! this the misses of a whole second pile up as duplicate queries).
//!
//! A page is kept as the bytes of its encoded `ListPostsResponse`, served as
//! they are (`grpc::routes`): a hit costs a refcount, not a copy of 50 posts
//! and an encode.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, BuildHasherDefault, DefaultHasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prost::bytes::Bytes;
use tokio::sync::{Mutex as AsyncMutex, MutexGuard as AsyncMutexGuard};
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
    /// An encoded `ListPostsResponse`.
    page: Bytes,
}

pub struct PageCache {
    ttl: Duration,
    capacity: usize,
    /// Bumped by every local write; a page read before the bump is stale.
    generation: AtomicU64,
    pages: Mutex<HashMap<PageKey, CachedPage>>,
    /// Held while a page is read from the database; a page uses the stripe
    /// its key hashes to, so two pages rarely wait for each other.
    fills: Box<[AsyncMutex<()>]>,
}

/// Stripes of [`PageCache::fills`]: more than the database pool has
/// connections, so fills of different pages seldom share one.
const FILL_STRIPES: usize = 64;

impl PageCache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            generation: AtomicU64::new(0),
            pages: Mutex::new(HashMap::new()),
            fills: (0..FILL_STRIPES).map(|_| AsyncMutex::new(())).collect(),
        }
    }

    /// Waits until no other reader is filling `key`'s page. Hold the guard
    /// while reading the page from the database and storing it, and look in
    /// the cache again once it is held: the reader before may have filled it.
    /// None when the cache is off (every reader queries).
    pub async fn fill_lock(&self, key: &PageKey) -> Option<AsyncMutexGuard<'_, ()>> {
        if self.ttl.is_zero() {
            return None;
        }
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        // The remainder is below FILL_STRIPES, so it fits in usize.
        let stripe = (hash % FILL_STRIPES as u64) as usize;
        Some(self.fills[stripe].lock().await)
    }

    /// The generation to pass to [`PageCache::put`]; read it before querying.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A fresh cached page, if any.
    pub fn get(&self, key: &PageKey) -> Option<Bytes> {
        if self.ttl.is_zero() {
            return None;
        }
        let generation = self.generation();
        let pages = self.pages.lock().ok()?;
        let cached = pages.get(key)?;
        let fresh = cached.generation == generation && cached.stored_at.elapsed() < self.ttl;
        fresh.then(|| cached.page.clone())
    }

    /// Stores `page` (an encoded `ListPostsResponse`), read from the
    /// database at `generation`.
    pub fn put(&self, key: PageKey, page: Bytes, generation: u64) {
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
                page,
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

    fn page(token: &'static str) -> Bytes {
        Bytes::from_static(token.as_bytes())
    }

    #[test]
    fn a_stored_page_is_served_until_a_write_invalidates_it() {
        let cache = PageCache::new(Duration::from_secs(60), 100);
        cache.put(key(), page("a"), cache.generation());
        assert_eq!(cache.get(&key()).unwrap(), page("a"));
        cache.invalidate();
        assert!(cache.get(&key()).is_none());
    }

    #[test]
    fn a_page_read_before_a_write_is_not_stored() {
        let cache = PageCache::new(Duration::from_secs(60), 100);
        let generation = cache.generation();
        cache.invalidate();
        cache.put(key(), page("stale"), generation);
        assert!(cache.get(&key()).is_none());
    }

    #[tokio::test]
    async fn a_second_reader_waits_for_the_first_to_fill_a_page() {
        let cache = PageCache::new(Duration::from_secs(60), 100);
        let filling = cache.fill_lock(&key()).await;
        let key = key();
        let waiting = tokio::time::timeout(Duration::from_millis(50), cache.fill_lock(&key));
        assert!(waiting.await.is_err(), "the page is being filled");
        cache.put(key, page("filled"), cache.generation());
        drop(filling);
        let _second = cache.fill_lock(&key).await;
        assert_eq!(cache.get(&key).unwrap(), page("filled"));
        let off = PageCache::new(Duration::ZERO, 100);
        let _one = off.fill_lock(&key).await;
        assert!(off.fill_lock(&key).await.is_none(), "no cache, no waiting");
    }

    #[test]
    fn pages_expire_and_a_zero_ttl_caches_nothing() {
        let cache = PageCache::new(Duration::from_millis(1), 100);
        cache.put(key(), page("a"), cache.generation());
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.get(&key()).is_none());
        let off = PageCache::new(Duration::ZERO, 100);
        off.put(key(), page("a"), off.generation());
        assert!(off.get(&key()).is_none());
    }
}
