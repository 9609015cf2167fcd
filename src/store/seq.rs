//! Frame sequence numbers: strictly increasing per panel, across restarts.
//!
//! Each panel has a reserved high-water mark persisted in `state/seq.json`.
//! Numbers are handed out below it from memory; when a panel reaches its
//! mark, the mark moves up a block and is written durably *before* the
//! number is used. After a crash the server starts every panel at its mark,
//! skipping at most one block, never reusing a number.

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use crate::fsio;

/// How many numbers one durable write reserves per panel.
pub const BLOCK: u32 = 1000;

/// Hands out each panel's frame sequence numbers, persisting a reserved
/// high-water mark per panel in `state/seq.json`.
pub struct SeqAllocator {
    path: PathBuf,
    /// Per panel: (next number to hand out, reserved high-water mark).
    panels: BTreeMap<String, (u32, u32)>,
}

impl SeqAllocator {
    /// Reads the marks at `path` (no file yet = none): each panel listed
    /// resumes at its mark, any other starts at 1. A file that does not parse
    /// is an `InvalidData` error naming line and column.
    pub fn open(path: PathBuf) -> io::Result<SeqAllocator> {
        fsio::remove_stale_temps(&path);
        let marks: BTreeMap<String, u32> = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: line {}, column {}: {e}",
                        path.display(),
                        e.line(),
                        e.column()
                    ),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        let panels = marks.into_iter().map(|(k, m)| (k, (m, m))).collect();
        Ok(SeqAllocator { path, panels })
    }

    /// The next sequence number for `panel`. May write `seq.json` first.
    pub fn next(&mut self, panel: &str) -> io::Result<u32> {
        let (next, mark) = *self.panels.get(panel).unwrap_or(&(1, 0));
        if next >= mark {
            self.reserve(&[panel])?;
        }
        let e = self.panels.get_mut(panel).expect("reserved above");
        let n = e.0.max(1);
        e.0 = n + 1;
        Ok(n)
    }

    /// Moves the mark of every listed panel that is near its mark up a
    /// block, with one write: used before a pass that publishes to many
    /// panels (at start, or when many panels were added). Costs nothing
    /// for panels with headroom left; the file, when written, holds every
    /// panel's mark.
    pub fn reserve(&mut self, panels: &[&str]) -> io::Result<()> {
        let mut raised: BTreeMap<&str, u32> = BTreeMap::new();
        for p in panels {
            let next = self.panels.get(*p).map_or(1, |e| e.0.max(1));
            let mark = self.panels.get(*p).map_or(0, |e| e.1);
            // Enough headroom left in this panel's block: nothing to write.
            if mark.saturating_sub(next) >= BLOCK / 2 {
                continue;
            }
            let new_mark = next.checked_add(BLOCK).ok_or_else(|| {
                io::Error::other(format!("sequence numbers for panel {p} are exhausted"))
            })?;
            raised.insert(p, new_mark);
        }
        if raised.is_empty() {
            return Ok(());
        }
        let mut marks: BTreeMap<&str, u32> =
            self.panels.iter().map(|(k, v)| (k.as_str(), v.1)).collect();
        marks.extend(raised.iter().map(|(k, v)| (*k, *v)));
        fsio::write_atomic(&self.path, &serde_json::to_vec(&marks).expect("serializes"))?;
        for (p, mark) in raised {
            let e = self.panels.entry(p.to_string()).or_insert((1, 0));
            e.0 = e.0.max(1);
            e.1 = mark;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_increasing_across_reopen() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("seq.json");
        let mut a = SeqAllocator::open(path.clone()).unwrap();
        let mut last = 0;
        for _ in 0..(BLOCK + 5) {
            let n = a.next("p1").unwrap();
            assert!(n > last);
            last = n;
        }
        assert_eq!(a.next("p2").unwrap(), 1);
        // Crash: the in-memory state is lost, the file is what survives.
        let mut b = SeqAllocator::open(path).unwrap();
        let n = b.next("p1").unwrap();
        assert!(n > last, "{n} > {last}");
        assert!(b.next("p2").unwrap() > 1);
    }

    #[test]
    fn reserve_covers_many_panels_in_one_write() {
        let d = tempfile::tempdir().unwrap();
        let mut a = SeqAllocator::open(d.path().join("seq.json")).unwrap();
        a.reserve(&["a", "b", "c"]).unwrap();
        assert_eq!(a.next("a").unwrap(), 1);
        assert_eq!(a.next("b").unwrap(), 1);
    }
}
