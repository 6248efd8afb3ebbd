//! The sender's render caches, bounded: an incident's wording (decoded from
//! its stored report) and its notice prepared once per thread link and
//! kind of member (what was held about them: a few kinds per incident),
//! reused for every member of that kind. Both used to grow with every incident a process ever
//! sent; now each keeps the most recently used few and forgets the rest (a
//! forgotten entry costs one reload or re-render when it is needed again).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use candor_platform::sync::lock;

use super::{HeldData, IncidentContext, PreparedNotice, RenderError, Renderer};

/// Incidents (and prepared notices) kept per process. A process sends the
/// notices of a few incidents at a time; more than this at once only costs
/// re-renders.
pub const NOTICE_CACHE_CAPACITY: usize = 64;

/// A map of at most `capacity` entries that forgets the least recently used
/// one to make room. Eviction scans the entries (capacity is small); a hit
/// only stamps its entry.
#[derive(Debug)]
pub struct LruMap<K, V> {
    entries: HashMap<K, (V, u64)>,
    capacity: usize,
    clock: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> LruMap<K, V> {
    /// An empty map holding at most `capacity` (at least 1) entries.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            entries: HashMap::with_capacity(capacity),
            capacity,
            clock: 0,
        }
    }

    /// The value under `key`, now the most recently used.
    pub fn get<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(value, used)| {
            *used = clock;
            value.clone()
        })
    }

    /// Stores `value` under `key`, forgetting the least recently used entry
    /// when full.
    pub fn insert(&mut self, key: K, value: V) {
        self.clock += 1;
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, (value, self.clock));
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Prepared notices by incident, thread link and what was held about the
/// member.
type PreparedKey = (String, Option<String>, Option<HeldData>);

/// The breach notices a sender has rendered, by incident, thread link and
/// kind of member, and the incidents' wording they were rendered from.
#[derive(Debug)]
pub struct NoticeCache {
    incidents: Mutex<LruMap<String, Arc<IncidentContext>>>,
    prepared: Mutex<LruMap<PreparedKey, Arc<PreparedNotice>>>,
}

impl Default for NoticeCache {
    fn default() -> Self {
        Self::with_capacity(NOTICE_CACHE_CAPACITY)
    }
}

impl NoticeCache {
    /// Caches of at most `capacity` incidents and `capacity` prepared
    /// notices.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            incidents: Mutex::new(LruMap::new(capacity)),
            prepared: Mutex::new(LruMap::new(capacity)),
        }
    }

    /// The incident's notice for `thread_url` and members about whom `held`
    /// was held, rendered by `renderer` on a miss from the incident's
    /// wording (loaded with `load_incident` on a miss of its own).
    pub async fn prepared<Load, Loading>(
        &self,
        renderer: &Renderer,
        incident_id: &str,
        thread_url: Option<&str>,
        held: Option<&HeldData>,
        load_incident: Load,
    ) -> Result<Arc<PreparedNotice>, RenderError>
    where
        Load: FnOnce() -> Loading,
        Loading: Future<Output = Result<IncidentContext, RenderError>>,
    {
        let key = (
            incident_id.to_owned(),
            thread_url.map(str::to_owned),
            held.cloned(),
        );
        if let Some(found) = lock(&self.prepared).get(&key) {
            return Ok(found);
        }
        let incident = self.incident(incident_id, load_incident).await?;
        let prepared = Arc::new(renderer.prepare_breach_notice(&incident, thread_url, held)?);
        lock(&self.prepared).insert(key, prepared.clone());
        Ok(prepared)
    }

    /// The incident's wording, loaded once while it stays cached.
    async fn incident<Load, Loading>(
        &self,
        incident_id: &str,
        load_incident: Load,
    ) -> Result<Arc<IncidentContext>, RenderError>
    where
        Load: FnOnce() -> Loading,
        Loading: Future<Output = Result<IncidentContext, RenderError>>,
    {
        if let Some(found) = lock(&self.incidents).get(incident_id) {
            return Ok(found);
        }
        let context = Arc::new(load_incident().await?);
        lock(&self.incidents).insert(incident_id.to_owned(), context.clone());
        Ok(context)
    }

    /// How many incidents and prepared notices it holds.
    pub fn sizes(&self) -> (usize, usize) {
        (lock(&self.incidents).len(), lock(&self.prepared).len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use candor_proto::events::v1::{BreachReported, DataClass};

    use super::*;
    use crate::notice::EmailIdentity;

    const INCIDENT_JSON: &str =
        include_str!("../../../../crates/candor-proto/tests/data/breach_reported.json");

    #[tokio::test]
    async fn notices_are_prepared_once_while_cached_and_the_caches_stay_bounded() {
        let renderer = Renderer::new(
            &EmailIdentity::new("notices@candor.example", "Candor Books"),
            "https://candor.example/",
        )
        .unwrap();
        let report: BreachReported = candor_proto::decode_json(INCIDENT_JSON.as_bytes()).unwrap();
        let loads = AtomicUsize::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::Relaxed);
            Ok(IncidentContext::new(&report))
        };
        let cache = NoticeCache::with_capacity(2);
        let first = cache
            .prepared(&renderer, "inc-1", None, None, load)
            .await
            .unwrap();
        let again = cache
            .prepared(&renderer, "inc-1", None, None, load)
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let linked = cache
            .prepared(
                &renderer,
                "inc-1",
                Some("https://candor.example/t/1"),
                None,
                load,
            )
            .await
            .unwrap();
        assert!(!Arc::ptr_eq(&first, &linked));
        let email_only = HeldData::from_event(&[DataClass::EmailAddress as i32]);
        let without_password = cache
            .prepared(&renderer, "inc-1", None, email_only.as_ref(), load)
            .await
            .unwrap();
        assert!(!Arc::ptr_eq(&first, &without_password));
        assert_eq!(
            loads.load(Ordering::Relaxed),
            1,
            "the wording is loaded once"
        );
        for incident in ["inc-2", "inc-3", "inc-4"] {
            cache
                .prepared(&renderer, incident, None, None, load)
                .await
                .unwrap();
        }
        assert_eq!(cache.sizes(), (2, 2));
        assert_eq!(loads.load(Ordering::Relaxed), 4);
        cache
            .prepared(&renderer, "inc-1", None, None, load)
            .await
            .unwrap();
        assert_eq!(
            loads.load(Ordering::Relaxed),
            5,
            "a forgotten incident is loaded again"
        );
    }

    #[test]
    fn a_full_map_forgets_the_least_recently_used_entry() {
        let mut map = LruMap::new(2);
        map.insert("a", 1);
        map.insert("b", 2);
        assert_eq!(map.get("a"), Some(1));
        map.insert("c", 3);
        assert_eq!(map.get("b"), None);
        assert_eq!(map.get("a"), Some(1));
        assert_eq!(map.get("c"), Some(3));
        map.insert("c", 4);
        assert_eq!(map.len(), 2);
        assert_eq!(map.get("c"), Some(4));
    }
}
