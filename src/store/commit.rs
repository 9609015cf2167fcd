//! Group commit: writers that arrive while another is on the disk share
//! the next round of fsyncs, so a write costs about one round however many
//! clients write at once.
//!
//! A change is *staged* first: its closure runs on the snapshot ahead of
//! the published one (every staged change applied, in order), so it sees
//! the changes staged before it, and its file operations and audit lines
//! are queued. Then one writer (whoever takes the writer lock first) takes
//! everything queued, writes it durably in one go and publishes the ahead
//! snapshot of that instant; the others find their change already done.
//! If the write fails, every change of the batch fails, and so does every
//! change staged on top of it; the ahead snapshot falls back to the
//! published one. A caller sees its `Ok` only once its files are on disk.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::{AuditEntry, FileOp, Snapshot, StoreError};

/// The queue of staged changes and the lock of the one who writes them.
#[derive(Default)]
pub(super) struct GroupCommit {
    pending: Mutex<Pending>,
    writer: Mutex<()>,
}

#[derive(Default)]
struct Pending {
    /// The published snapshot with every queued change applied; `None`
    /// when no change was staged since the last failure or quiet moment
    /// (then the published one is the base).
    ahead: Option<Snapshot>,
    queued: Vec<Staged>,
}

/// One change waiting for the disk.
pub(super) struct Staged {
    pub ops: Vec<FileOp>,
    pub audit: Vec<AuditEntry>,
    done: Arc<Outcome>,
}

/// Set once, by the writer of the batch the change went out with.
type Outcome = OnceLock<Result<(), Arc<StoreError>>>;

/// A staged change's claim on its outcome.
pub(super) struct Ticket(Arc<Outcome>);

impl GroupCommit {
    /// Runs `f` on the snapshot ahead of `published` and queues what it
    /// writes. An error from `f` changes nothing.
    pub(super) fn stage<T>(
        &self,
        published: impl FnOnce() -> Arc<Snapshot>,
        f: impl FnOnce(&mut Snapshot) -> Result<(T, Vec<FileOp>, Vec<AuditEntry>), StoreError>,
    ) -> Result<(T, Ticket), StoreError> {
        let mut p = self.pending.lock().expect("pending lock");
        let mut next = match &p.ahead {
            Some(s) => s.clone(),
            None => (*published()).clone(),
        };
        let (out, ops, audit) = f(&mut next)?;
        next.generation += 1;
        p.ahead = Some(next);
        let done = Arc::new(OnceLock::new());
        p.queued.push(Staged {
            ops,
            audit,
            done: done.clone(),
        });
        Ok((out, Ticket(done)))
    }

    /// Returns once the ticket's change is on disk and published, or has
    /// failed. If no one has written it yet, writes everything queued with
    /// `write` and hands the matching snapshot to `publish`.
    pub(super) fn finish(
        &self,
        ticket: Ticket,
        write: impl FnOnce(&[Staged]) -> Result<(), StoreError>,
        publish: impl FnOnce(Snapshot),
    ) -> Result<(), StoreError> {
        let _w = self.lock_writer();
        if ticket.0.get().is_none() {
            let (batch, snapshot) = {
                let mut p = self.pending.lock().expect("pending lock");
                let snapshot = p.ahead.clone().expect("a staged change has its snapshot");
                (std::mem::take(&mut p.queued), snapshot)
            };
            match write(&batch) {
                Ok(()) => {
                    publish(snapshot);
                    for s in &batch {
                        let _ = s.done.set(Ok(()));
                    }
                }
                Err(e) => {
                    let e = Arc::new(e);
                    let mut p = self.pending.lock().expect("pending lock");
                    p.ahead = None;
                    // Changes staged since were made on top of this batch.
                    let later: Vec<Staged> = p.queued.drain(..).collect();
                    for s in batch.iter().chain(&later) {
                        let _ = s.done.set(Err(e.clone()));
                    }
                }
            }
        }
        match ticket.0.get().expect("the batch's writer set the outcome") {
            Ok(()) => Ok(()),
            Err(e) => Err(e.again()),
        }
    }

    /// Runs `f` on the published snapshot while no change waits for the
    /// disk (none being written, none queued), holding both locks, and
    /// publishes its snapshot when it says something changed. `None` when
    /// changes are waiting: try again later. For a change found on disk
    /// (hand edits), which must not be weighed against changes that have
    /// not reached the disk yet.
    pub(super) fn when_quiet<T>(
        &self,
        published: impl FnOnce() -> Arc<Snapshot>,
        f: impl FnOnce(&mut Snapshot) -> Result<(T, bool), StoreError>,
        publish: impl FnOnce(Snapshot),
    ) -> Option<Result<T, StoreError>> {
        let _w = self.lock_writer();
        let mut p = self.pending.lock().expect("pending lock");
        if !p.queued.is_empty() {
            return None;
        }
        p.ahead = None;
        let mut next = (*published()).clone();
        Some(f(&mut next).map(|(out, changed)| {
            if changed {
                next.generation += 1;
                publish(next);
            }
            out
        }))
    }

    /// The lock every disk write of the store holds: batches, and what is
    /// written outside them (a lone audit line).
    pub(super) fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().expect("writer lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(g: &GroupCommit, base: &Arc<Snapshot>, n: u64) -> Ticket {
        g.stage(
            || base.clone(),
            |s| {
                assert_eq!(s.generation, n, "sees the changes staged before it");
                Ok(((), vec![], vec![]))
            },
        )
        .unwrap()
        .1
    }

    #[test]
    fn one_writer_writes_every_change_queued_before_it() {
        let g = GroupCommit::default();
        let base = Arc::new(Snapshot::default());
        let tickets: Vec<Ticket> = (0..3).map(|n| staged(&g, &base, n)).collect();
        let mut writes = Vec::new();
        let mut published = Vec::new();
        for t in tickets {
            g.finish(
                t,
                |batch| {
                    writes.push(batch.len());
                    Ok(())
                },
                |s| published.push(s.generation),
            )
            .unwrap();
        }
        assert_eq!(writes, vec![3], "one write for the three");
        assert_eq!(published, vec![3]);
    }

    #[test]
    fn a_failed_batch_fails_what_was_staged_on_top_of_it() {
        let g = GroupCommit::default();
        let base = Arc::new(Snapshot::default());
        let first = staged(&g, &base, 0);
        // The writer takes [first]; meanwhile `second` is staged on top.
        let mut second = None;
        let r = g.finish(
            first,
            |batch| {
                assert_eq!(batch.len(), 1);
                second = Some(staged(&g, &base, 1));
                Err(StoreError::conflict("disk said no"))
            },
            |_| panic!("nothing is published"),
        );
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
        let r = g.finish(second.unwrap(), |_| panic!("not written"), |_| panic!());
        assert!(r.is_err(), "made on top of a failed change");
        // The next change starts again from the published snapshot.
        let third = staged(&g, &base, 0);
        g.finish(third, |_| Ok(()), |s| assert_eq!(s.generation, 1))
            .unwrap();
    }

    /// A change found on disk is applied only while nothing waits for the
    /// disk: against a queued change it would undo it.
    #[test]
    fn changes_found_on_disk_wait_for_a_quiet_moment() {
        let g = GroupCommit::default();
        let base = Arc::new(Snapshot::default());
        let queued = staged(&g, &base, 0);
        let r = g.when_quiet(|| base.clone(), |_| Ok(((), true)), |_| panic!());
        assert!(r.is_none(), "a change is queued");
        g.finish(queued, |_| Ok(()), |_| {}).unwrap();
        let mut published = None;
        let r = g.when_quiet(
            || base.clone(),
            |s| Ok((s.generation, true)),
            |s| published = Some(s.generation),
        );
        assert_eq!(
            r.unwrap().unwrap(),
            0,
            "weighed against the published snapshot"
        );
        assert_eq!(published, Some(1));
    }
}
