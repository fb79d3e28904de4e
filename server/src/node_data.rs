//! Each lineage node's `data` as REST answers carry it (the dataset or job as its own endpoint
//! shows it), rendered once and kept in memory, so that a 10,000-node `/api/v1/lineage` answer
//! copies bytes instead of reading and rendering 10,000 rows.
//!
//! The cache is kept in step with the store by whoever changes it: the write path forgets the
//! jobs and datasets each commit names (as it brings them into the graph; replicas do the same
//! for what other servers commit), tagging forgets what it tags, and a whole reload of the graph
//! forgets everything. A reader that misses renders from the store and offers what it rendered
//! back; an offer is refused for a node that was forgotten after the reader started to read, so
//! a slow read can never put back what a commit just replaced.
//!
//! The cache holds at most `capacity` bytes; past that the least recently used entries go, down
//! to three quarters of it.

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::value::RawValue;

use crate::model::graph::NodeKey;

/// Rendered node data by node.
pub struct NodeDataCache {
    inner: Mutex<Inner>,
    capacity: usize,
    /// Whether the data of the whole graph is being rendered (after a start).
    warming: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct Inner {
    entries: foldhash::HashMap<NodeKey, Entry>,
    bytes: usize,
    /// Bumped by every forget.
    generation: u64,
    /// The generation of the last `forget_all`.
    cleared: u64,
    /// While reads are in flight: when each node was last forgotten.
    forgotten: foldhash::HashMap<NodeKey, u64>,
    /// Reads in flight (`Fill`s alive).
    fills: usize,
    /// A use counter for recency.
    clock: u64,
}

struct Entry {
    data: Arc<RawValue>,
    used: u64,
}

/// A read from the store in progress: what it renders may be offered back to the cache.
pub struct Fill<'a> {
    cache: &'a NodeDataCache,
    since: u64,
}

impl NodeDataCache {
    /// An empty cache of at most `capacity` bytes (0 keeps nothing).
    pub fn new(capacity: usize) -> Self {
        NodeDataCache {
            inner: Mutex::new(Inner::default()),
            capacity,
            warming: Default::default(),
        }
    }

    /// Says whether the data of the whole graph is being rendered.
    pub fn set_warming(&self, on: bool) {
        self.warming.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the data of the whole graph is being rendered (after a start).
    pub fn warming(&self) -> bool {
        self.warming.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("node data cache")
    }

    /// The cached data of each key (`None` where it is not cached), in the keys' order.
    pub fn get_many<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k NodeKey>,
    ) -> Vec<Option<Arc<RawValue>>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        keys.into_iter()
            .map(|k| {
                inner.entries.get_mut(k).map(|e| {
                    e.used = now;
                    e.data.clone()
                })
            })
            .collect()
    }

    /// Starts a read from the store; call it before reading.
    pub fn begin_fill(&self) -> Fill<'_> {
        let mut inner = self.lock();
        inner.fills += 1;
        Fill {
            cache: self,
            since: inner.generation,
        }
    }

    /// Forgets these nodes (they changed in the store).
    pub fn forget<'k>(&self, keys: impl IntoIterator<Item = &'k NodeKey>) {
        let mut inner = self.lock();
        inner.generation += 1;
        let generation = inner.generation;
        let Inner {
            entries,
            bytes,
            forgotten,
            fills,
            ..
        } = &mut *inner;
        for k in keys {
            if let Some(e) = entries.remove(k) {
                *bytes -= e.data.get().len();
            }
            if *fills > 0 {
                forgotten.insert(k.clone(), generation);
            }
        }
    }

    /// Forgets every node.
    pub fn forget_all(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.cleared = inner.generation;
        inner.entries.clear();
        inner.bytes = 0;
    }

    /// Whether it holds three quarters of what it may (where eviction would bring it back to).
    pub fn nearly_full(&self) -> bool {
        self.lock().bytes >= self.capacity / 4 * 3
    }

    /// Whether a node's data is held.
    pub fn holds(&self, key: &NodeKey) -> bool {
        self.lock().entries.contains_key(key)
    }

    /// Nodes and bytes held.
    pub fn size(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.bytes)
    }
}

impl Fill<'_> {
    /// Offers what the read rendered; kept unless the node was forgotten since the read began
    /// (or it does not fit).
    pub fn offer(&self, rendered: impl IntoIterator<Item = (NodeKey, Arc<RawValue>)>) {
        let cache = self.cache;
        let mut inner = cache.lock();
        if inner.cleared > self.since {
            return;
        }
        inner.clock += 1;
        let now = inner.clock;
        for (key, data) in rendered {
            if inner.forgotten.get(&key).is_some_and(|g| *g > self.since) {
                continue;
            }
            let len = data.get().len();
            if len > cache.capacity / 4 {
                continue;
            }
            if let Some(old) = inner.entries.insert(key, Entry { data, used: now }) {
                inner.bytes -= old.data.get().len();
            }
            inner.bytes += len;
        }
        if inner.bytes > cache.capacity {
            evict(&mut inner, cache.capacity / 4 * 3);
        }
    }
}

impl Drop for Fill<'_> {
    fn drop(&mut self) {
        let mut inner = self.cache.lock();
        inner.fills -= 1;
        if inner.fills == 0 {
            inner.forgotten.clear();
        }
    }
}

/// Drops the least recently used entries until at most `target` bytes remain.
fn evict(inner: &mut Inner, target: usize) {
    let mut by_use: Vec<(u64, NodeKey)> = inner
        .entries
        .iter()
        .map(|(k, e)| (e.used, k.clone()))
        .collect();
    by_use.sort_unstable_by_key(|(used, _)| *used);
    for (_, key) in by_use {
        if inner.bytes <= target {
            break;
        }
        if let Some(e) = inner.entries.remove(&key) {
            inner.bytes -= e.data.get().len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Arc<RawValue> {
        Arc::from(RawValue::from_string(s.to_string()).unwrap())
    }

    fn key(name: &str) -> NodeKey {
        NodeKey::dataset("ns", name)
    }

    #[test]
    fn keeps_what_is_offered_and_forgets_what_changed() {
        let cache = NodeDataCache::new(1 << 20);
        let fill = cache.begin_fill();
        fill.offer([(key("a"), raw("1")), (key("b"), raw("22"))]);
        drop(fill);
        let got = cache.get_many(&[key("a"), key("b"), key("c")]);
        assert_eq!(got[0].as_ref().map(|r| r.get()), Some("1"));
        assert_eq!(got[1].as_ref().map(|r| r.get()), Some("22"));
        assert!(got[2].is_none());
        assert_eq!(cache.size(), (2, 3));
        cache.forget(&[key("a")]);
        assert!(cache.get_many(&[key("a")])[0].is_none());
        assert_eq!(cache.size(), (1, 2));
        cache.forget_all();
        assert_eq!(cache.size(), (0, 0));
    }

    #[test]
    fn a_read_that_began_before_a_change_cannot_put_back_the_old_data() {
        let cache = NodeDataCache::new(1 << 20);
        let slow = cache.begin_fill();
        // A commit changes `a` while the slow read is under way.
        cache.forget(&[key("a")]);
        let fresh = cache.begin_fill();
        slow.offer([(key("a"), raw("\"old\"")), (key("b"), raw("\"b\""))]);
        assert!(cache.get_many(&[key("a")])[0].is_none());
        assert!(cache.get_many(&[key("b")])[0].is_some());
        // A read that began after the change may keep what it read.
        fresh.offer([(key("a"), raw("\"new\""))]);
        assert_eq!(
            cache.get_many(&[key("a")])[0].as_ref().unwrap().get(),
            "\"new\""
        );
        drop((slow, fresh));
        // With no read in flight nothing is remembered about forgotten nodes.
        assert!(cache.lock().forgotten.is_empty());
    }

    #[test]
    fn a_read_that_began_before_a_reload_keeps_nothing() {
        let cache = NodeDataCache::new(1 << 20);
        let slow = cache.begin_fill();
        cache.forget_all();
        slow.offer([(key("a"), raw("1"))]);
        assert_eq!(cache.size(), (0, 0));
    }

    #[test]
    fn past_its_capacity_the_least_recently_used_go() {
        let cache = NodeDataCache::new(100);
        let fill = cache.begin_fill();
        let ten = || raw("\"12345678\"");
        for name in ["a", "b", "c", "d", "e"] {
            fill.offer([(key(name), ten())]);
        }
        // `a` is used again: `b` to `e` are now the least recently used.
        cache.get_many(&[key("a")]);
        fill.offer(["f", "g", "h", "i", "j", "k"].map(|n| (key(n), ten())));
        let (_, bytes) = cache.size();
        assert!(bytes <= 75, "{bytes} bytes kept");
        let got = cache.get_many(&[key("a"), key("b"), key("e"), key("k")]);
        assert!(got[0].is_some(), "the recently used entry stays");
        assert!(
            got[1].is_none() && got[2].is_none(),
            "the least recently used go"
        );
        assert!(got[3].is_some(), "the newest stays");
    }
}
