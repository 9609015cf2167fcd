//! The server's memory budget (`--memory-budget`, default 512 MiB): how
//! that one figure is shared out, and a cache bounded by bytes.
//!
//! Shares of the budget:
//! - 1/2 for decoding and rendering in flight (the API's gate weighs each
//!   request by an estimate made before any pixel is allocated);
//! - 1/8 for prepared pictures (`player::Renditions`, per asset);
//! - 1/16 for rendered messages (`player::Renditions`, per message
//!   version × profile);
//! - the rest, about 5/16, for the process itself: code, fonts, the
//!   runtime, connections, the allocator's slack.
//!
//! Nothing here knows HTTP, MQTT or the disk.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::Arc;

/// The default budget: 512 MiB.
pub(crate) const DEFAULT_BUDGET: u64 = 512 << 20;
/// Below this the process itself does not fit.
pub(crate) const MIN_BUDGET: u64 = 128 << 20;

/// The memory budget and its shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    total: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            total: DEFAULT_BUDGET,
        }
    }
}

impl Budget {
    pub fn new(total: u64) -> Budget {
        Budget { total }
    }
    pub fn total(&self) -> u64 {
        self.total
    }
    /// Decoding and rendering in flight, all requests together.
    pub fn work(&self) -> u64 {
        self.total / 2
    }
    /// Prepared pictures kept for the next render.
    pub fn pictures(&self) -> usize {
        (self.total / 8) as usize
    }
    /// Rendered messages kept for the next frame.
    pub fn renders(&self) -> usize {
        (self.total / 16) as usize
    }
}

/// Parses a size as people write it: `512` (MiB), `512M`, `512MB`,
/// `1G`, `1GiB`.
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let digits = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &t[digits.len()..];
    let n: u64 = digits.trim().parse().ok()?;
    let mul: u64 = match unit {
        "" | "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// Something that knows about how many bytes it holds.
pub(crate) trait Weigh {
    fn weight(&self) -> usize;
}

impl<T: Weigh> Weigh for Arc<T> {
    fn weight(&self) -> usize {
        (**self).weight()
    }
}

/// A map that drops its least recently used entries once their weights
/// add up to more than its budget. The entry inserted last is always
/// kept, even alone over the budget (it is in use); it goes first at the
/// next insertion.
pub(crate) struct ByteLru<K, V> {
    map: HashMap<K, (V, u64, usize)>,
    /// Use tick → key, oldest first.
    order: BTreeMap<u64, K>,
    tick: u64,
    bytes: usize,
    budget: usize,
}

impl<K: Clone + Eq + Hash, V: Weigh> ByteLru<K, V> {
    pub(crate) fn new(budget: usize) -> Self {
        ByteLru {
            map: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            bytes: 0,
            budget,
        }
    }

    /// The entry for `k`, now the most recently used.
    pub(crate) fn get(&mut self, k: &K) -> Option<&V> {
        self.tick += 1;
        let tick = self.tick;
        let (v, used, _) = self.map.get_mut(k)?;
        let old = std::mem::replace(used, tick);
        let key = self
            .order
            .remove(&old)
            .expect("every entry is in the order");
        self.order.insert(tick, key);
        Some(v)
    }

    pub(crate) fn insert(&mut self, k: K, v: V) {
        self.tick += 1;
        let w = v.weight();
        if let Some((_, used, old_w)) = self.map.insert(k.clone(), (v, self.tick, w)) {
            self.order.remove(&used);
            self.bytes -= old_w;
        }
        self.order.insert(self.tick, k);
        self.bytes += w;
        while self.bytes > self.budget && self.map.len() > 1 {
            let (_, oldest) = self.order.pop_first().expect("not empty");
            if let Some((_, _, w)) = self.map.remove(&oldest) {
                self.bytes -= w;
            }
        }
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        let order = &mut self.order;
        let bytes = &mut self.bytes;
        self.map.retain(|k, (v, used, w)| {
            let kept = keep(k, v);
            if !kept {
                order.remove(used);
                *bytes -= *w;
            }
            kept
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The sum of the entries' weights.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct W(usize);
    impl Weigh for W {
        fn weight(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn keeps_the_recently_used_within_its_budget() {
        let mut c = ByteLru::new(30);
        c.insert("a", W(10));
        c.insert("b", W(10));
        c.insert("c", W(10));
        assert!(c.get(&"a").is_some(), "a used again: b is now the oldest");
        c.insert("d", W(10));
        assert!(c.get(&"b").is_none(), "least recently used dropped");
        assert!(c.get(&"a").is_some() && c.get(&"c").is_some() && c.get(&"d").is_some());
        assert_eq!((c.len(), c.bytes()), (3, 30));
        // Replacing an entry counts its new weight only.
        c.insert("a", W(5));
        assert_eq!((c.len(), c.bytes()), (3, 25));
        // One entry over the budget alone is kept (it is in use) …
        c.insert("big", W(100));
        assert_eq!((c.len(), c.bytes()), (1, 100));
        // … and is the first to go.
        c.insert("e", W(1));
        assert_eq!((c.len(), c.bytes()), (1, 1));
        c.retain(|k, _| *k != "e");
        assert_eq!(c.len(), 0);
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn never_holds_more_than_its_budget_whatever_the_keys() {
        let mut c = ByteLru::new(1000);
        for i in 0..10_000u32 {
            c.insert(i, W(7 + (i as usize % 13)));
            assert!(c.bytes() <= 1000, "{} bytes after {i}", c.bytes());
        }
        assert!(c.len() < 150);
    }

    #[test]
    fn sizes_parse_as_people_write_them() {
        assert_eq!(parse_size("512"), Some(512 << 20));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("768 MiB"), Some(768 << 20));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("1GB"), Some(1 << 30));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("5T"), None);
        assert_eq!(parse_size(""), None);
        let b = Budget::default();
        assert_eq!(b.total(), 512 << 20);
        assert_eq!(b.work(), 256 << 20);
        assert!(b.work() + (b.pictures() + b.renders()) as u64 <= b.total() * 3 / 4);
    }
}
