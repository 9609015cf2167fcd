//! Frame sequence numbers: strictly increasing per panel, across restarts.
//!
//! Each panel has a reserved high-water mark. Numbers are handed out below
//! it from memory; when a panel reaches its mark, the mark moves up a block
//! and is written durably *before* the number is used. After a crash the
//! server starts every panel at its mark, skipping at most one block,
//! never reusing a number.
//!
//! Marks live in two files: `state/seq.json`, every panel's mark, and
//! `state/seq.log` beside it, marks raised since, one JSON line each
//! (`{"p":"panel","m":2001}`), appended and fsynced. A new panel costs one
//! short line, not a rewrite of every panel's mark (with 10,000 panels the
//! file is a few hundred KB). When the log grows past twice the panels
//! (at least [`COMPACT_MIN`] lines), `seq.json` is rewritten whole and the
//! log emptied. Reading applies the log over `seq.json`, keeping the
//! highest mark, so a crash between the two steps loses nothing; a torn
//! last line (a crash mid-append) was never acknowledged and is skipped.
//!
//! On the PostgreSQL store the marks are rows instead
//! ([`SeqAllocator::open_postgres`]), raised in one statement before a
//! number above them is used: the server that takes over as leader opens
//! them then, and starts every panel above anything the leader before it
//! could have handed out, so a controller never sees a lower number after
//! a failover. A leader reserves only under its own epoch
//! ([`super::pg::Postgres::raise_seq_marks`]): one deposed without knowing
//! it cannot reserve numbers the next leader uses, so the seq orders the
//! leaders' frames (epoch by epoch) for every controller, version 1 ones
//! included. A follower reserves nothing (its frames are never sent, not
//! even one numbered just before it took the lead: the player's frames go
//! out only once it has read the marks again, [`SeqAllocator::took_lead`]).

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsio;

/// How many numbers one durable write reserves per panel.
pub const BLOCK: u32 = 1000;

/// The log is folded into `seq.json` once it has this many lines (or twice
/// as many as there are panels, whichever is more).
pub const COMPACT_MIN: usize = 1024;

/// The epoch the marks were "read in" after [`SeqAllocator::took_lead`]
/// until they are read again (no epoch is negative).
const TOOK_LEAD: i64 = -1;

/// Frame sequence numbers for every panel (see the module documentation).
pub struct SeqAllocator {
    /// Where the marks are kept instead of the files, on PostgreSQL.
    db: Option<std::sync::Arc<super::pg::Postgres>>,
    /// On PostgreSQL: the lead, and the epoch the marks were read in.
    /// After a takeover the marks are read again before the next number,
    /// so the new leader starts above the old one's numbers.
    lead: Option<(std::sync::Arc<super::pg::Leadership>, i64)>,
    path: PathBuf,
    log: PathBuf,
    /// Lines in the log now.
    log_lines: usize,
    /// Per panel: (next number to hand out, reserved high-water mark).
    panels: BTreeMap<String, (u32, u32)>,
}

/// One line of the log: a panel's new mark.
#[derive(Serialize, Deserialize)]
struct Raised<'a> {
    p: &'a str,
    m: u32,
}

impl SeqAllocator {
    /// Reads the marks in `path` (`seq.json`; no file yet = none) and the
    /// log beside it: each panel listed resumes at its mark, any other
    /// starts at 1. A file that does not parse is an `InvalidData` error
    /// naming the line.
    pub fn open(path: PathBuf) -> io::Result<SeqAllocator> {
        fsio::remove_stale_temps(&path);
        let mut marks: BTreeMap<String, u32> = match std::fs::read(&path) {
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
        let log = path.with_extension("log");
        let log_lines = replay(&log, &mut marks)?;
        let panels = marks.into_iter().map(|(k, m)| (k, (m, m))).collect();
        Ok(SeqAllocator {
            db: None,
            lead: None,
            path,
            log,
            log_lines,
            panels,
        })
    }

    /// Reads the marks kept in PostgreSQL: each panel resumes at its mark.
    pub fn open_postgres(db: std::sync::Arc<super::pg::Postgres>) -> io::Result<SeqAllocator> {
        let panels = resume_at_marks(&db)?;
        Ok(SeqAllocator {
            db: Some(db),
            lead: None,
            path: PathBuf::new(),
            log: PathBuf::new(),
            log_lines: 0,
            panels,
        })
    }

    /// Follows `lead`: after each takeover the marks are read again.
    pub fn following(mut self, lead: std::sync::Arc<super::pg::Leadership>) -> SeqAllocator {
        let epoch = lead.epoch();
        self.lead = Some((lead, epoch));
        self
    }

    /// Reads the marks again when this server took the lead since they
    /// were read: every panel resumes at its mark. The first read after
    /// [`SeqAllocator::took_lead`] tells the lead its frames may go out.
    fn catch_up(&mut self) -> io::Result<()> {
        let (Some(db), Some((lead, read_in))) = (&self.db, &mut self.lead) else {
            return Ok(());
        };
        let now = lead.epoch();
        if now == *read_in {
            return Ok(());
        }
        self.panels = resume_at_marks(db)?;
        // Ready only if the lead is still the one read before the marks
        // (a lead lost meanwhile must not leave a stale ready behind).
        if *read_in == TOOK_LEAD && lead.leading() && lead.epoch() == now {
            lead.ready(now);
        }
        *read_in = now;
        Ok(())
    }

    /// The player took the lead (on PostgreSQL): reads every panel's mark
    /// again, even in an epoch it already caught up with (as a follower
    /// it handed out numbers it never reserved), then tells the lead its
    /// frames may go out ([`super::pg::Leadership::sends`]). The numbers
    /// handed out before were not reserved under this lead: their frames
    /// are not sent.
    pub fn took_lead(&mut self) -> io::Result<()> {
        if let Some((_, read_in)) = &mut self.lead {
            *read_in = TOOK_LEAD;
        }
        // Should the marks not be read now, every number waits for them
        // (the next one tries again).
        self.catch_up()
    }

    /// Every panel's reserved mark, by panel.
    pub fn marks(&self) -> Vec<(String, u32)> {
        self.panels.iter().map(|(p, e)| (p.clone(), e.1)).collect()
    }

    /// The next sequence number for `panel`. May write its new mark first.
    pub fn next(&mut self, panel: &str) -> io::Result<u32> {
        self.catch_up()?;
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
    /// block, with one durable write: used before a pass that publishes to
    /// many panels (at start, or when many panels were added). Costs
    /// nothing for panels with headroom left.
    pub fn reserve(&mut self, panels: &[&str]) -> io::Result<()> {
        self.catch_up()?;
        let mut raised: BTreeMap<&str, u32> = BTreeMap::new();
        for p in panels {
            let (next, mark) = self.panels.get(*p).map_or((1, 0), |e| (e.0.max(1), e.1));
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
        if let Some(db) = &self.db {
            let marks: Vec<(&str, u32)> = raised.iter().map(|(p, m)| (*p, *m)).collect();
            match &self.lead {
                // A follower's frames are never sent: its numbers need no
                // reservation, and it reads the marks again when it leads.
                Some((lead, _)) if !lead.leading() => {}
                Some((_, epoch)) => {
                    if !db
                        .raise_seq_marks(&marks, Some(*epoch))
                        .map_err(io::Error::other)?
                    {
                        return Err(io::Error::other(format!(
                            "no longer the leader (epoch {epoch} is over): no sequence numbers reserved"
                        )));
                    }
                }
                None => {
                    db.raise_seq_marks(&marks, None).map_err(io::Error::other)?;
                }
            }
        } else {
            self.write_marks(&raised)?;
        }
        for (p, mark) in raised {
            let e = self.panels.entry(p.to_string()).or_insert((1, 0));
            e.0 = e.0.max(1);
            e.1 = mark;
        }
        Ok(())
    }

    /// Writes raised marks to the log, or folds the log into `seq.json`
    /// when it is long.
    fn write_marks(&mut self, raised: &BTreeMap<&str, u32>) -> io::Result<()> {
        let limit = COMPACT_MIN.max(2 * self.panels.len());
        if self.log_lines + raised.len() > limit {
            self.compact(raised)?;
        } else {
            let lines: Vec<String> = raised
                .iter()
                .map(|(p, m)| serde_json::to_string(&Raised { p, m: *m }).expect("serializes"))
                .collect();
            fsio::append_lines(&self.log, &lines)?;
            self.log_lines += lines.len();
        }
        Ok(())
    }

    /// Writes every mark (with `raised` applied) to `seq.json`, then
    /// empties the log.
    fn compact(&mut self, raised: &BTreeMap<&str, u32>) -> io::Result<()> {
        let mut marks: BTreeMap<&str, u32> =
            self.panels.iter().map(|(k, v)| (k.as_str(), v.1)).collect();
        marks.extend(raised.iter().map(|(k, v)| (*k, *v)));
        fsio::write_atomic(&self.path, &serde_json::to_vec(&marks).expect("serializes"))?;
        if self.log_lines > 0 {
            fsio::truncate_durable(&self.log, 0)?;
        }
        self.log_lines = 0;
        Ok(())
    }
}

/// The marks kept in PostgreSQL, each panel resuming at its mark.
fn resume_at_marks(db: &super::pg::Postgres) -> io::Result<BTreeMap<String, (u32, u32)>> {
    Ok(db
        .seq_marks()
        .map_err(io::Error::other)?
        .into_iter()
        .map(|(p, m)| (p, (m, m)))
        .collect())
}

/// Applies the log at `log` over `marks` (the highest mark wins); returns
/// its line count. Only the last line may be unreadable (torn by a crash
/// mid-append, so never acknowledged): it is skipped.
fn replay(log: &Path, marks: &mut BTreeMap<String, u32>) -> io::Result<usize> {
    let text = match std::fs::read(log) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_slice::<Raised>(line) {
            Ok(r) => {
                let m = marks.entry(r.p.to_string()).or_insert(0);
                *m = (*m).max(r.m);
            }
            Err(_) if i + 1 == lines.len() && !text.ends_with(b"\n") => {}
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: line {}: {e}", log.display(), i + 1),
                ))
            }
        }
    }
    Ok(lines.len())
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

    /// A new panel costs one appended line, not a rewrite of every
    /// panel's mark; reopening applies the log; a torn last line is
    /// skipped; past the limit the log is folded into `seq.json`.
    #[test]
    fn new_panels_append_to_the_log_and_it_is_folded_in() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("seq.json");
        let log = d.path().join("seq.log");
        let mut a = SeqAllocator::open(path.clone()).unwrap();
        a.reserve(&["a", "b"]).unwrap();
        let whole = std::fs::read(&path).ok();
        for i in 0..100 {
            assert_eq!(a.next(&format!("p{i}")).unwrap(), 1);
        }
        assert_eq!(
            std::fs::read(&path).ok(),
            whole,
            "seq.json rewritten per panel"
        );
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text.lines().count(), 102);
        assert_eq!(text.lines().nth(2).unwrap(), r#"{"p":"p0","m":1001}"#);
        // A crash mid-append leaves a torn line: it was never acknowledged.
        std::fs::write(&log, format!("{text}{{\"p\":\"p5\",\"m\":99")).unwrap();
        let mut b = SeqAllocator::open(path.clone()).unwrap();
        assert!(b.next("p7").unwrap() > 1, "the log's mark applies");
        assert!(b.next("a").unwrap() > 1);
        // A bad line before the end is not a crash's doing: refuse it.
        std::fs::write(&log, format!("garbage\n{text}")).unwrap();
        assert!(SeqAllocator::open(path.clone()).is_err());
        std::fs::write(&log, &text).unwrap();
        // Panels that keep using numbers raise their marks again and again:
        // past the limit the log is folded into seq.json and emptied.
        let mut c = SeqAllocator::open(path.clone()).unwrap();
        let names: Vec<String> = (0..100).map(|i| format!("p{i}")).collect();
        let mut last = vec![0; names.len()];
        let rounds = (COMPACT_MIN / names.len() + 2) * BLOCK as usize / 2;
        for _ in 0..rounds {
            for (i, name) in names.iter().enumerate() {
                let n = c.next(name).unwrap();
                assert!(n > last[i]);
                last[i] = n;
            }
        }
        let lines = std::fs::read_to_string(&log).unwrap().lines().count();
        assert!(lines < COMPACT_MIN, "{lines} lines: never folded in");
        let mut again = SeqAllocator::open(path).unwrap();
        for (i, name) in names.iter().enumerate() {
            assert!(again.next(name).unwrap() > last[i], "{name}");
        }
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
