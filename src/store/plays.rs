//! Proof of play: one row per frame a controller acknowledged as shown,
//! kept in an embedded database (redb: pure Rust, crash-safe, no server)
//! at `state/plays.redb`, with retention; on the PostgreSQL store in its
//! tables `plays` and `online_samples` instead, so that every server
//! reports what every leader recorded, across failovers.
//!
//! Rows arrive in bursts (10,000 panels acknowledging one change), so they
//! are written in batches: one durable transaction per [`Plays::insert`].
//! [`PlayWriter`] does the batching: callers hand it rows one at a time,
//! it gathers what arrives within [`BATCH_WINDOW`] into one transaction on
//! its own thread, and [`PlayWriter::close`] saves what is still pending.

#![warn(missing_docs)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::Serialize;

/// Key: (shown_at in ms since the epoch, panel, seq) — time first, so a
/// report is one range scan. Value: (message, campaign, alert), "" = none.
const PLAYS: TableDefinition<(u64, &str, u32), (&str, &str, &str)> = TableDefinition::new("plays");
/// The keys of [`PLAYS`] rows whose ack named the CRC of the frame sent
/// (verified proof of play). A table of its own, so databases written
/// before acks named a CRC open unchanged: their rows are unverified.
const VERIFIED: TableDefinition<(u64, &str, u32), ()> = TableDefinition::new("plays_verified");

/// One proof-of-play row: a sign confirmed it shows a frame (a controller's
/// MQTT ack, or a vendor card's answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Play {
    /// Id of the panel that showed the frame.
    pub panel: String,
    /// Id of the message shown; `None` for a frame of none (e.g. an alert).
    pub message: Option<String>,
    /// Id of the campaign the message was shown for; `None` outside campaigns.
    pub campaign: Option<String>,
    /// Id of the alert, for alert frames; omitted in JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// The frame's BTF1 seq, as the sign confirmed it.
    pub seq: u32,
    /// When the server learned the sign shows the frame, UTC (stored to the
    /// millisecond).
    pub shown_at: DateTime<Utc>,
    /// The controller's ack named the seq and the CRC of a frame the server
    /// sent to this panel; unverified plays (version-1 acks naming only the
    /// seq, vendor cards) are counted apart.
    pub verified: bool,
}

/// The proof-of-play database failed (open, read, write or commit); the
/// text is redb's or PostgreSQL's.
#[derive(Debug, thiserror::Error)]
#[error("proof-of-play database: {0}")]
pub struct PlaysError(String);

pub(super) fn err(e: impl std::fmt::Display) -> PlaysError {
    PlaysError(e.to_string())
}

/// The proof-of-play database: `state/plays.redb`, or the PostgreSQL
/// store's tables.
pub struct Plays {
    pub(super) backend: Backend,
}

/// Where the rows are.
pub(super) enum Backend {
    /// `state/plays.redb`, this server's own.
    File(Database),
    /// The PostgreSQL store's tables, every server's (a connection of
    /// their own, apart from the store's).
    Postgres(super::pg::Postgres),
}

impl Plays {
    /// Opens (creating it and its directory if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Plays, PlaysError> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(err)?;
        }
        let db = Database::create(path).map_err(err)?;
        let tx = db.begin_write().map_err(err)?;
        tx.open_table(PLAYS).map_err(err)?;
        tx.open_table(VERIFIED).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Plays {
            backend: Backend::File(db),
        })
    }

    /// Proof of play in the PostgreSQL store at `url` (its schema brought
    /// up to date).
    pub fn on_postgres(url: &str) -> Result<Plays, PlaysError> {
        Ok(Plays {
            backend: Backend::Postgres(super::pg::Postgres::open(url).map_err(err)?),
        })
    }

    /// Writes rows in one durable transaction.
    pub fn insert(&self, rows: &[Play]) -> Result<(), PlaysError> {
        if rows.is_empty() {
            return Ok(());
        }
        match &self.backend {
            Backend::File(db) => insert_file(db, rows),
            Backend::Postgres(pg) => pg.insert_plays(rows).map_err(err),
        }
    }

    /// Rows with `from <= shown_at < to`, oldest first, optionally for one
    /// panel; at most `limit`.
    pub fn query(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        panel: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Play>, PlaysError> {
        let (lo, hi) = (ms(from), ms(to));
        if hi <= lo {
            return Ok(Vec::new());
        }
        match &self.backend {
            Backend::File(db) => query_file(db, (lo, hi), panel, limit),
            Backend::Postgres(pg) => pg.plays_between((lo, hi), panel, limit).map_err(err),
        }
    }

    /// The rows of frames of `alerts` with `from <= shown_at < to`,
    /// oldest first; at most `limit` (on PostgreSQL only those rows leave
    /// the database).
    pub fn of_alerts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        alerts: &[String],
        limit: usize,
    ) -> Result<Vec<Play>, PlaysError> {
        let (lo, hi) = (ms(from), ms(to));
        if hi <= lo || alerts.is_empty() {
            return Ok(Vec::new());
        }
        match &self.backend {
            Backend::File(db) => {
                let mut rows = query_file(db, (lo, hi), None, usize::MAX)?;
                rows.retain(|p| p.alert.as_ref().is_some_and(|a| alerts.contains(a)));
                rows.truncate(limit);
                Ok(rows)
            }
            Backend::Postgres(pg) => pg.alert_plays_between((lo, hi), alerts, limit).map_err(err),
        }
    }

    /// Hands every row to `f`, oldest first, `n` at a time (moving a
    /// store: a year of a province's plays does not fit in memory at
    /// once); returns how many there were.
    pub fn each_chunk(
        &self,
        n: usize,
        mut f: impl FnMut(&[Play]) -> Result<(), PlaysError>,
    ) -> Result<usize, PlaysError> {
        let mut seen = 0;
        match &self.backend {
            Backend::File(db) => {
                let tx = db.begin_read().map_err(err)?;
                let t = tx.open_table(PLAYS).map_err(err)?;
                let v = tx.open_table(VERIFIED).map_err(err)?;
                let mut chunk = Vec::with_capacity(n);
                for row in t.iter().map_err(err)? {
                    let (k, value) = row.map_err(err)?;
                    let verified = v.get(k.value()).map_err(err)?.is_some();
                    chunk.push(play_of(k.value(), value.value(), verified));
                    if chunk.len() == n {
                        f(&chunk)?;
                        seen += chunk.len();
                        chunk.clear();
                    }
                }
                seen += chunk.len();
                if !chunk.is_empty() {
                    f(&chunk)?;
                }
            }
            Backend::Postgres(pg) => {
                let mut after = None;
                loop {
                    let chunk = pg.plays_after(after.as_ref(), n).map_err(err)?;
                    let Some(last) = chunk.last() else { break };
                    after = Some((ms(last.shown_at), last.panel.clone(), last.seq));
                    f(&chunk)?;
                    seen += chunk.len();
                }
            }
        }
        Ok(seen)
    }

    /// Deletes rows shown before `cutoff`; returns how many.
    pub fn prune_before(&self, cutoff: DateTime<Utc>) -> Result<u64, PlaysError> {
        match &self.backend {
            Backend::File(db) => prune_file(db, ms(cutoff)),
            Backend::Postgres(pg) => pg.prune_plays_before(ms(cutoff)).map_err(err),
        }
    }
}

/// Milliseconds since the epoch, as the rows keep time (none before it).
pub(super) fn ms(t: DateTime<Utc>) -> u64 {
    t.timestamp_millis().max(0) as u64
}

/// The instant `ms` milliseconds after the epoch.
pub(super) fn at_ms(ms: u64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms as i64)
        .single()
        .unwrap_or_default()
}

fn insert_file(db: &Database, rows: &[Play]) -> Result<(), PlaysError> {
    let tx = db.begin_write().map_err(err)?;
    {
        let mut t = tx.open_table(PLAYS).map_err(err)?;
        let mut v = tx.open_table(VERIFIED).map_err(err)?;
        for r in rows {
            let key = (ms(r.shown_at), r.panel.as_str(), r.seq);
            // A verified ack after an unverified one comes as the same
            // row: it only adds the mark, never a second play.
            if r.verified {
                v.insert(key, ()).map_err(err)?;
            }
            t.insert(
                key,
                (
                    r.message.as_deref().unwrap_or(""),
                    r.campaign.as_deref().unwrap_or(""),
                    r.alert.as_deref().unwrap_or(""),
                ),
            )
            .map_err(err)?;
        }
    }
    tx.commit().map_err(err)
}

fn query_file(
    db: &Database,
    (lo, hi): (u64, u64),
    panel: Option<&str>,
    limit: usize,
) -> Result<Vec<Play>, PlaysError> {
    let tx = db.begin_read().map_err(err)?;
    let t = tx.open_table(PLAYS).map_err(err)?;
    let v = tx.open_table(VERIFIED).map_err(err)?;
    let mut out = Vec::new();
    for row in t.range((lo, "", 0)..(hi, "", 0)).map_err(err)? {
        let (k, row_value) = row.map_err(err)?;
        let (ms, p, seq) = k.value();
        if panel.is_some_and(|want| want != p) {
            continue;
        }
        let verified = v.get((ms, p, seq)).map_err(err)?.is_some();
        out.push(play_of((ms, p, seq), row_value.value(), verified));
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// A row of the file's tables.
fn play_of(
    (ms, panel, seq): (u64, &str, u32),
    (m, c, a): (&str, &str, &str),
    verified: bool,
) -> Play {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Play {
        panel: panel.to_string(),
        message: opt(m),
        campaign: opt(c),
        alert: opt(a),
        seq,
        shown_at: at_ms(ms),
        verified,
    }
}

fn prune_file(db: &Database, hi: u64) -> Result<u64, PlaysError> {
    let tx = db.begin_write().map_err(err)?;
    let n;
    {
        let mut t = tx.open_table(PLAYS).map_err(err)?;
        let before = t.len().map_err(err)?;
        t.retain_in((0u64, "", 0u32)..(hi, "", 0u32), |_, _| false)
            .map_err(err)?;
        n = before - t.len().map_err(err)?;
        let mut v = tx.open_table(VERIFIED).map_err(err)?;
        v.retain_in((0u64, "", 0u32)..(hi, "", 0u32), |_, _| false)
            .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok(n)
}

/// How long the writer gathers rows after the first of a batch arrives.
pub const BATCH_WINDOW: Duration = Duration::from_millis(100);

/// Writes proof-of-play rows in batches on its own thread. Cheap to feed
/// from async code: [`PlayRecorder::record`] never blocks.
pub struct PlayWriter {
    rows: PlayRecorder,
    thread: std::thread::JoinHandle<()>,
    batches: Arc<AtomicU64>,
    /// Set by [`PlayWriter::close`]: a failing database is tried once.
    closing: Arc<AtomicBool>,
}

impl PlayWriter {
    /// Starts the writer thread; rows arriving within `window` of the first
    /// row of a batch go into the same transaction.
    pub fn start(plays: Arc<Plays>, window: Duration) -> PlayWriter {
        let (rows, inbox) = mpsc::channel::<Play>();
        let batches = Arc::new(AtomicU64::new(0));
        let counter = batches.clone();
        let closing = Arc::new(AtomicBool::new(false));
        let closing_seen = closing.clone();
        let thread = std::thread::Builder::new()
            .name("plays".into())
            .spawn(move || {
                while let Ok(first) = inbox.recv() {
                    let batch = gather(&inbox, first, window);
                    if save(&plays, &batch, &closing_seen) {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .expect("spawn the proof-of-play writer");
        PlayWriter {
            rows: PlayRecorder(rows),
            thread,
            batches,
            closing,
        }
    }

    /// A handle that queues rows into this writer (for other tasks).
    pub fn recorder(&self) -> PlayRecorder {
        self.rows.clone()
    }

    /// Transactions committed so far.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Stops taking rows and saves the pending ones at once (without waiting
    /// out the batch window); blocks until they are on disk. Rows queued
    /// through a [`PlayRecorder`] still alive are saved too, as soon as that
    /// recorder is dropped.
    pub fn close(self) {
        self.closing.store(true, Ordering::Relaxed);
        drop(self.rows);
        if self.thread.join().is_err() {
            tracing::error!("proof-of-play writer panicked");
        }
    }
}

/// Queues rows into a [`PlayWriter`]; clone it freely.
#[derive(Clone)]
pub struct PlayRecorder(mpsc::Sender<Play>);

impl PlayRecorder {
    /// Queues one row, never blocking; it is durable within about one
    /// batch window.
    pub fn record(&self, play: Play) {
        if self.0.send(play).is_err() {
            tracing::error!("proof-of-play writer has stopped; row dropped");
        }
    }
}

/// How often a batch is tried before its rows are given up, and the
/// first wait between tries (doubling: about a minute in all), for a
/// database that is away for a while (PostgreSQL restarting or failing
/// over). Rows arriving meanwhile wait in the queue.
const SAVE_TRIES: u32 = 8;
const SAVE_RETRY_FIRST: Duration = Duration::from_millis(500);

/// Writes `batch`, trying again while the database fails; false when its
/// rows were given up (logged).
/// While `closing` (shutdown), one try only.
fn save(plays: &Plays, batch: &[Play], closing: &AtomicBool) -> bool {
    let mut wait = SAVE_RETRY_FIRST;
    for tried in 1..=SAVE_TRIES {
        match plays.insert(batch) {
            Ok(()) => return true,
            Err(e) if tried < SAVE_TRIES && !closing.load(Ordering::Relaxed) => {
                tracing::warn!(
                    rows = batch.len(),
                    "proof of play not saved yet, trying again in {wait:?}: {e}"
                );
                // Cut short by shutdown.
                let until = Instant::now() + wait;
                while Instant::now() < until && !closing.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                wait *= 2;
            }
            Err(e) => {
                tracing::error!(rows = batch.len(), "proof of play not saved: {e}");
                return false;
            }
        }
    }
    false
}

/// `first` and whatever arrives within `window` of it; returns early when
/// every sender is gone (shutdown: save now, do not wait).
fn gather(inbox: &mpsc::Receiver<Play>, first: Play, window: Duration) -> Vec<Play> {
    let deadline = Instant::now() + window;
    let mut batch = vec![first];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match inbox.recv_timeout(left) {
            Ok(p) => batch.push(p),
            Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {
                return batch
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(panel: &str, seq: u32, at: i64) -> Play {
        Play {
            panel: panel.into(),
            message: Some("m1".into()),
            campaign: Some("c1".into()),
            alert: None,
            seq,
            shown_at: Utc.timestamp_opt(at, 0).unwrap(),
            verified: false,
        }
    }

    #[test]
    fn verified_marks_persist_and_upgrade_the_same_row() {
        let d = tempfile::tempdir().unwrap();
        let p = Plays::open(&d.path().join("plays.redb")).unwrap();
        let t = |s| Utc.timestamp_opt(s, 0).unwrap();
        p.insert(&[play("a", 1, 100), play("a", 2, 200)]).unwrap();
        let mut proof = play("a", 1, 100);
        proof.verified = true;
        p.insert(&[proof.clone()]).unwrap();
        let rows = p.query(t(0), t(1000), None, 100).unwrap();
        assert_eq!(rows.len(), 2, "the upgrade is the same row");
        assert_eq!(rows[0], proof);
        assert!(!rows[1].verified);
        assert_eq!(p.prune_before(t(150)).unwrap(), 1);
        p.insert(&[play("a", 1, 100)]).unwrap();
        assert!(
            !p.query(t(0), t(150), None, 10).unwrap()[0].verified,
            "pruning removed the mark with its row"
        );
    }

    #[test]
    fn rows_persist_and_query_by_time_and_panel() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("plays.redb");
        {
            let p = Plays::open(&path).unwrap();
            p.insert(&[play("a", 1, 100), play("b", 1, 200), play("a", 2, 300)])
                .unwrap();
        }
        let p = Plays::open(&path).unwrap();
        let t = |s| Utc.timestamp_opt(s, 0).unwrap();
        assert_eq!(p.query(t(0), t(1000), None, 100).unwrap().len(), 3);
        assert_eq!(
            p.query(t(150), t(300), None, 100).unwrap(),
            vec![play("b", 1, 200)]
        );
        assert_eq!(p.query(t(0), t(1000), Some("a"), 100).unwrap().len(), 2);
        assert_eq!(p.prune_before(t(250)).unwrap(), 2);
        assert_eq!(
            p.query(t(0), t(1000), None, 100).unwrap(),
            vec![play("a", 2, 300)]
        );
    }

    #[test]
    fn the_writer_batches_a_burst_and_saves_the_rest_on_close() {
        let d = tempfile::tempdir().unwrap();
        let plays = Arc::new(Plays::open(&d.path().join("plays.redb")).unwrap());
        let writer = PlayWriter::start(plays.clone(), Duration::from_millis(200));
        let recorder = writer.recorder();
        for seq in 0..100 {
            recorder.record(play("a", seq, 100));
        }
        let t = |s| Utc.timestamp_opt(s, 0).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while plays.query(t(0), t(1000), None, 1000).unwrap().len() < 100 {
            assert!(Instant::now() < deadline, "burst not saved within 5 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(writer.batches(), 1, "a burst is one transaction");
        // A long window: only closing the writer can save this row quickly.
        let slow = PlayWriter::start(plays.clone(), Duration::from_secs(3600));
        let late = slow.recorder();
        late.record(play("b", 1, 200));
        drop(late);
        let started = Instant::now();
        slow.close();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(plays.query(t(0), t(1000), Some("b"), 10).unwrap().len(), 1);
        drop(recorder);
        writer.close();
    }
}
