//! The data directory: the only module that knows its layout.
//!
//! ```text
//! DIR/content/panels/{id}.json       panels
//! DIR/content/messages/{id}.json     messages (body + workflow fields)
//! DIR/state/versions/{id}/{n}.json   every version of a message (versions.rs)
//! DIR/state/deleted-versions/{id}/{ms}.json  a deleted message's whole history, for admins (versions.rs)
//! DIR/content/groups/{id}.json       groups' display names ("Thành phố Vinh" for tp-vinh)
//! DIR/content/assets/{sha256}.{ext}  uploaded images, named by content hash
//! DIR/content/assets/{sha256}.json   what we know about each image
//! DIR/schedules/{id}.json            campaigns (hand-editable, reloaded live)
//! DIR/state/alerts/{id}.json         emergency alerts
//! DIR/state/audit.jsonl              audit trail, one JSON object a line
//! DIR/state/seq.json                 per-panel frame sequence high-water marks (seq.rs)
//! DIR/state/seq.log                  marks raised since seq.json was written, one line each (seq.rs)
//! DIR/state/plays.redb               proof of play, an embedded database (plays.rs)
//! DIR/cap.json                      CAP feeds, rules, templates, risk levels (cap.rs; hand-edited, reloaded live)
//! DIR/state/cap/warnings/{id}.json   official warnings received and what was done (cap.rs)
//! DIR/state/cap/documents/{sha256}.xml  every CAP document as received, verbatim (cap.rs)
//! DIR/state/import.json              a bulk import's renames, while it commits
//!                                    (completed at the next start after a crash)
//! DIR/secrets/tokens.json            hashed API tokens and roles (tokens.rs; --tokens moves it)
//! DIR/secrets/users.json             staff accounts, passwords as Argon2id hashes (users.rs)
//! .{name}.{random}.tmp               a write that never reached its rename (any
//!                                    directory above): never data, removed on load
//! DIR/secrets/mqtt-credentials.json  embedded-broker passwords, hashed (credentials.rs)
//! DIR/secrets/frame-signing.pem      the frame-signing key, made on first start (signing.rs; .pub beside it)
//! DIR/secrets/alarms.json            alarm settings: thresholds, recipients, webhook, quiet hours (alarms.rs; mode 600)
//! DIR/state/alarms.json              alarm incidents and acknowledgements (alarms.rs)
//! ```
//! JSON, pretty-printed: every operator can read it, git diffs it well, and
//! serde_json reports the line and column of a mistake. The paths are built
//! only here ([`Store::panel_path`] …, [`Store::seq_file`],
//! [`Store::plays_file`], [`tokens_file`]).
//!
//! Readers take an immutable [`Snapshot`] (an `Arc`, cheap). A writer's
//! change is checked against the snapshot ahead of the published one (with
//! every change still waiting for the disk); then the changes queued beside
//! it are written together (group commit, in `commit`): their audit lines
//! appended, their files written to temp copies, all fsynced in one round
//! and only then renamed into place ([`fsio::write_many_logged`]: a file
//! is never changed before its line is on disk); then the new snapshot is published and a change
//! is signalled. So a 2xx after a write means the data and its audit line
//! are on disk; if the audit lines cannot be written nothing is changed,
//! and if the files cannot be written the lines are taken back and nothing
//! changes in memory.
//!
//! `content/panels`, `content/messages`, `content/groups` and `schedules/` may be edited by
//! hand on a running server: [`Store::reload_hand_edits`] applies what
//! changed. A file that cannot be used (on reload or at start) is reported
//! in [`Snapshot::problems`] with its line and column; the last good
//! version stays in use, and no API write replaces the broken file.
//!
//! Every write runs the workflow's rules (`domain::rules`: four eyes, back
//! to draft on edit, what campaigns and alerts must name) inside the write
//! lock, against the snapshot it changes; campaigns are also checked by the
//! schedule compiler on every save and every load of `schedules/`. No
//! caller can skip them.

pub mod alarms;
pub mod cap;
mod commit;
pub mod credentials;
pub mod import;
pub mod migrate;
pub mod online;
pub mod pg;
pub mod plays;
pub mod secret_file;
pub mod seq;
pub mod shared_files;
pub mod signing;
pub mod tokens;
pub mod users;
pub mod versions;

use std::collections::BTreeMap;
use std::io;

pub use imbl::OrdMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::sync::watch;

use crate::domain::{
    Alert, AlertBody, Asset, Campaign, CampaignBody, Group, Id, Invalid, Known, Message,
    MessageBody, Panel, Policy, Refusal,
};
use crate::fsio;
use crate::i18n::{Kind, Reason, Text};
use crate::schedule;

/// Everything the server knows, at one instant.
///
/// The maps are persistent ([`imbl::OrdMap`], a B-tree sharing its nodes
/// between versions): a writer's copy of the snapshot costs O(1) and an
/// insert O(log n) whatever the fleet's size, and a reader can ask which
/// entries differ between two versions without visiting the shared parts
/// ([`imbl::OrdMap::diff`]; the player re-decides only what a change
/// touches). They read like `BTreeMap`s, in key order.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every panel, by id (`content/panels/`).
    pub panels: OrdMap<Id, Panel>,
    /// Every message, by id (`content/messages/`).
    pub messages: OrdMap<Id, Message>,
    /// Every uploaded image, by asset id (`content/assets/`).
    pub assets: OrdMap<String, Asset>,
    /// Every campaign, by id (`schedules/`).
    pub campaigns: OrdMap<Id, Campaign>,
    /// Every alert, cancelled and lapsed ones too, by id (`state/alerts/`).
    pub alerts: OrdMap<Id, Alert>,
    /// Official warnings received (CAP), by [`crate::cap::warning::key`].
    pub cap: OrdMap<Id, crate::cap::Warning>,
    /// Groups' display names. A group panels name without an entry here
    /// is shown by its id.
    pub groups: OrdMap<Id, Group>,
    /// Files that could not be used, by path. The server keeps the last
    /// good version of what such a file held and never overwrites it.
    pub problems: BTreeMap<PathBuf, FileProblem>,
    /// Bumped on every change.
    pub generation: u64,
}

/// A file that could not be read or parsed, with where the mistake is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it (rendered in the reader's language).
    pub message: Text,
    /// Where a JSON mistake is (1-based), when the file did not parse.
    pub line: Option<usize>,
    /// The column of that mistake (1-based).
    pub column: Option<usize>,
}

impl FileProblem {
    fn new(path: PathBuf, message: impl Into<Text>) -> FileProblem {
        FileProblem {
            path,
            message: message.into(),
            line: None,
            column: None,
        }
    }
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// Why the store refused or failed a read or a write; a write that fails changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No record of that kind has the id.
    #[error("no {kind} with id {id:?}")]
    NotFound {
        /// What was looked for (`panel`, `message`, …).
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The change does not fit the data as it is (an id taken, a broken file in
    /// the way): the sentence says which.
    #[error("{0}")]
    Conflict(Text),
    /// Refused because other things use it: `users` names them (id, name),
    /// `kind` says what they are ("campaigns", "messages").
    #[error("{message}")]
    InUse {
        /// The sentence a person reads.
        message: Text,
        /// What the users are ("campaigns", "messages").
        kind: &'static str,
        /// Each user's id and name.
        users: Vec<(String, String)>,
    },
    /// A workflow rule or a value check said no.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The disk (or the quota) is full.
    #[error("the disk is full: {path} could not be written; free some space and try again")]
    DiskFull {
        /// The file that could not be written.
        path: PathBuf,
    },
    /// The data directory cannot be written to.
    #[error("the data directory is read-only or not writable ({path}): nothing was changed")]
    ReadOnly {
        /// The file that could not be written.
        path: PathBuf,
    },
    /// Any other I/O failure.
    #[error("writing {path} failed: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The connection to the database was lost while it committed the
    /// change, and whether it went through could not be learnt: it may or
    /// may not have been saved.
    #[error("whether the change was saved is not known: {source}")]
    OutcomeUnknown {
        /// What the driver said.
        source: io::Error,
    },
    /// Files of the data directory that could not be used at start.
    #[error("the data directory has broken files:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Corrupt(Vec<FileProblem>),
}

impl From<Invalid> for StoreError {
    fn from(e: Invalid) -> Self {
        StoreError::Refused(e.into())
    }
}

impl StoreError {
    /// A conflict with the data as it is.
    pub fn conflict(why: impl Into<Text>) -> StoreError {
        StoreError::Conflict(why.into())
    }
    /// The same error once more, for every writer of a failed batch.
    fn again(&self) -> StoreError {
        match self {
            StoreError::NotFound { kind, id } => StoreError::NotFound {
                kind,
                id: id.clone(),
            },
            StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
            StoreError::InUse {
                message,
                kind,
                users,
            } => StoreError::InUse {
                message: message.clone(),
                kind,
                users: users.clone(),
            },
            StoreError::Refused(r) => StoreError::Refused(r.clone()),
            StoreError::DiskFull { path } => StoreError::DiskFull { path: path.clone() },
            StoreError::ReadOnly { path } => StoreError::ReadOnly { path: path.clone() },
            StoreError::Io { path, source } => StoreError::Io {
                path: path.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            StoreError::Corrupt(problems) => StoreError::Corrupt(problems.clone()),
            StoreError::OutcomeUnknown { source } => StoreError::OutcomeUnknown {
                source: io::Error::new(source.kind(), source.to_string()),
            },
        }
    }

    /// The error for an I/O failure on `path`: a full disk and a read-only
    /// directory are told apart from the rest.
    pub fn io(path: &Path, e: io::Error) -> StoreError {
        // ENOSPC = 28, EROFS = 30, EDQUOT = 122 on Linux.
        match (e.raw_os_error(), e.kind()) {
            (Some(28) | Some(122), _) => StoreError::DiskFull { path: path.into() },
            (Some(30), _) | (_, io::ErrorKind::PermissionDenied) => {
                StoreError::ReadOnly { path: path.into() }
            }
            _ => StoreError::Io {
                path: path.into(),
                source: e,
            },
        }
    }
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// When the change was made.
    pub at: DateTime<Utc>,
    /// The principal who made it.
    pub who: String,
    /// What was done (`create`, `update`, `delete`, `approve`, …).
    pub action: String,
    /// What kind of record (`panel`, `message`, …).
    pub kind: String,
    /// The record's id.
    pub id: String,
    /// Before → after, or other facts worth keeping (e.g. the status change).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

/// File operations that make up one change; run in order, each durable.
enum FileOp {
    Write(PathBuf, Vec<u8>),
    Remove(PathBuf),
    /// Many files as one ([`fsio::write_batch`]), committed through `journal`.
    Batch {
        journal: PathBuf,
        files: Vec<(PathBuf, Vec<u8>)>,
    },
}

/// The data directory: the current snapshot in memory, and every change written
/// durably (with its audit line) before it is published.
pub struct Store {
    root: PathBuf,
    /// Where changes are kept: the data directory's files, or PostgreSQL.
    backend: Backend,
    snap: RwLock<Arc<Snapshot>>,
    commit: commit::GroupCommit,
    changes: watch::Sender<u64>,
    /// Size and modification time of each file in the hand-editable
    /// directories as last seen: at the last reload, or as the store
    /// itself last wrote it (so its own writes are not mistaken for hand
    /// edits and do not make the next look re-read every file).
    hand_edits_seen: Mutex<Fingerprint>,
}

/// Where the store keeps its changes.
enum Backend {
    /// The data directory (the layout above).
    Files,
    /// PostgreSQL ([`pg`]): the same files as rows. `version` is the
    /// database version the published snapshot (with every change this
    /// server committed) stands at; `stale` says a commit found another
    /// server's change first; `turn` is held by this server's one writer
    /// ([`Store::writers_turn`]).
    Postgres {
        db: Arc<pg::Postgres>,
        version: std::sync::atomic::AtomicI64,
        stale: std::sync::atomic::AtomicBool,
        turn: Mutex<()>,
    },
}

/// Refuses documents that hold the character U+0000 (in JSON, `\u0000`
/// not itself escaped), on either store: PostgreSQL's jsonb cannot keep
/// it, and a file store that did would not move into PostgreSQL.
fn refuse_nul(ops: &[FileOp]) -> Result<(), StoreError> {
    let has_nul = |bytes: &[u8]| {
        bytes.windows(6).enumerate().any(|(i, w)| {
            w == b"\\u0000" && bytes[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
        })
    };
    let json = |p: &Path| p.extension().is_some_and(|e| e == "json");
    let nul = ops.iter().any(|op| match op {
        FileOp::Write(p, b) => json(p) && has_nul(b),
        FileOp::Remove(_) => false,
        FileOp::Batch { files, .. } => files.iter().any(|(p, b)| json(p) && has_nul(b)),
    });
    if nul {
        return Err(Invalid::new(Reason::NulCharacter).into());
    }
    Ok(())
}

/// This server's turn to write on PostgreSQL ([`Store::writers_turn`]),
/// given back on drop.
struct WritersTurn<'a> {
    /// Where the turn is held (`None`: not had in time, see
    /// [`pg::Postgres::take_writers_turn`]).
    db: Option<&'a pg::Postgres>,
    _here: std::sync::MutexGuard<'a, ()>,
}

impl Drop for WritersTurn<'_> {
    fn drop(&mut self) {
        let Some(db) = self.db else {
            return;
        };
        if let Err(e) = db.end_writers_turn() {
            tracing::warn!(
                "the turn to write was not given back (the connection's end frees it): {e}"
            );
        }
    }
}

/// How often a server on PostgreSQL reads the whole store again, in case
/// a notification of another server's change was lost.
pub const PG_REREAD: std::time::Duration = std::time::Duration::from_secs(30);

/// Hand-editable files by path relative to the data directory: size and
/// modification time.
type Fingerprint = BTreeMap<String, (u64, std::time::SystemTime)>;

/// The directories people may edit by hand on a running server.
const HAND_EDITED: [&str; 4] = [
    "content/panels",
    "content/messages",
    "content/groups",
    "schedules",
];

impl Snapshot {
    /// What people read for group `id`: its display name, else its id read
    /// as words.
    pub fn group_name(&self, id: &str) -> String {
        Id::parse(id)
            .ok()
            .and_then(|i| self.groups.get(&i))
            .map_or_else(|| crate::domain::group_label(id), |g| g.name.clone())
    }

    /// What people read for panel `id`: its name, else its id.
    pub fn panel_name(&self, id: &Id) -> String {
        self.panels
            .get(id)
            .map_or_else(|| id.to_string(), |p| p.name.clone())
    }

    /// Every group: those with a display name and those panels name, by
    /// id, each with its name and how many panels are in it.
    pub fn group_list(&self) -> Vec<(String, String, usize)> {
        let mut count: BTreeMap<String, usize> =
            self.groups.keys().map(|id| (id.to_string(), 0)).collect();
        for p in self.panels.values() {
            for g in &p.groups {
                *count.entry(g.clone()).or_default() += 1;
            }
        }
        count
            .into_iter()
            .map(|(id, n)| (self.group_name(&id), id, n))
            .map(|(name, id, n)| (id, name, n))
            .collect()
    }
}

impl Known for Snapshot {
    fn has_panel(&self, id: &Id) -> bool {
        self.panels.contains_key(id)
    }
    fn has_group(&self, group: &str) -> bool {
        self.panels
            .values()
            .any(|p| p.groups.iter().any(|g| g == group))
    }
    fn has_message(&self, id: &Id) -> bool {
        self.messages.contains_key(id)
    }
    fn has_asset(&self, id: &str) -> bool {
        self.assets.contains_key(id)
    }
}

/// A campaign's values (cron, time zone, dates, ranges), as the schedule
/// compiler judges them: run on every save and on every load of
/// `schedules/`. (References are checked on saves only, by
/// [`Campaign::check_refs`]: a hand-written file may name a panel that an
/// administrator removed, and the rest of it still plays.)
fn check_campaign(c: &Campaign) -> Result<(), Invalid> {
    schedule::compile(c).map(|_| ())
}

/// The checks a panel file passes on every load.
fn check_panel(id: &str, p: &Panel) -> Result<(), Invalid> {
    check_id(id, &p.id)?;
    p.validate()
}

/// The checks a group file passes on every load.
fn check_group(id: &str, g: &Group) -> Result<(), Invalid> {
    check_id(id, &g.id)?;
    g.validate()
}

/// The checks a message file passes on every load.
fn check_message(id: &str, m: &Message) -> Result<(), Invalid> {
    check_id(id, &m.id)?;
    m.body.validate()
}

/// The checks a campaign file passes on every load.
fn check_campaign_file(id: &str, c: &Campaign) -> Result<(), Invalid> {
    check_id(id, &c.id)?;
    check_campaign(c)
}

/// How often a fresh id is drawn before giving up (each draw meets an
/// existing id with odds of about n in 2 billion).
const ID_DRAWS: usize = 16;

/// An id made from `title` that `taken` says is free.
fn fresh_id(title: &str, taken: impl Fn(&Id) -> bool) -> Result<Id, StoreError> {
    std::iter::repeat_with(|| Id::from_title(title, rand::random()))
        .take(ID_DRAWS)
        .find(|id| !taken(id))
        .ok_or_else(|| StoreError::Conflict(Reason::NoFreeId.into()))
}

fn import_journal(root: &Path) -> PathBuf {
    root.join("state/import.json")
}

/// Logs each problem `found` (what befell its file or row: `what`) and
/// keeps it among the snapshot's problems, `into`.
fn keep_problems(
    into: &mut BTreeMap<PathBuf, FileProblem>,
    found: Vec<FileProblem>,
    what: impl std::fmt::Display,
) {
    for p in found {
        tracing::error!(path = %p.path.display(), "{what}: {}", p.message);
        into.insert(p.path.clone(), p);
    }
}

/// The audit trail of the data directory `root`.
fn audit_file(root: &Path) -> PathBuf {
    root.join("state/audit.jsonl")
}

/// The frame sequence marks of the data directory `root`
/// ([`seq::SeqAllocator`]).
fn seq_marks_file(root: &Path) -> PathBuf {
    root.join("state/seq.json")
}

/// The token file of the data directory `data` (unless `--tokens` names
/// another): a free function, because the token file is read before, and
/// apart from, the rest of the store.
pub fn tokens_file(data: &Path) -> PathBuf {
    data.join("secrets/tokens.json")
}

impl Store {
    /// Loads everything under `root`. A file that cannot be used is
    /// reported in [`Snapshot::problems`] (path, line, column) and skipped:
    /// one broken file never keeps the other panels dark. Fails only when
    /// the directories cannot be created.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let mut problems = Vec::new();
        let mut snap = Snapshot::default();
        for d in [
            "content/panels",
            "content/messages",
            "content/groups",
            "content/assets",
            "schedules",
            "state/alerts",
            cap::WARNINGS_DIR,
            cap::DOCUMENTS_DIR,
        ] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).map_err(|e| StoreError::io(&p, e))?;
        }
        // Before temp files are swept: a bulk import that crashed after its
        // commit point is completed from its journal.
        let journal = import_journal(root);
        fsio::finish_batch(&journal).map_err(|e| StoreError::io(&journal, e))?;
        load_all(&Source::Files(root), &mut snap, &mut problems);
        keep_problems(&mut snap.problems, problems, "file skipped");
        Ok(Store::with_snapshot(root, Backend::Files, snap))
    }

    /// Opens the store kept in PostgreSQL at `url` ([`pg`]); `root` is
    /// this server's own data directory (its secrets, proof of play, frame
    /// sequence numbers), whose layout names the rows.
    pub fn open_postgres(url: &str, root: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(root).map_err(|e| StoreError::io(root, e))?;
        let db = Arc::new(pg::Postgres::open(url)?);
        let all = db.read_everything()?;
        let mut snap = Snapshot::default();
        let mut problems = Vec::new();
        load_all(&Source::Rows(root, &all), &mut snap, &mut problems);
        keep_problems(&mut snap.problems, problems, "row skipped");
        let backend = Backend::Postgres {
            db,
            version: all.version.into(),
            stale: false.into(),
            turn: Mutex::new(()),
        };
        Ok(Store::with_snapshot(root, backend, snap))
    }

    /// The database this store is kept in, when it is PostgreSQL.
    pub fn postgres(&self) -> Option<&Arc<pg::Postgres>> {
        match &self.backend {
            Backend::Postgres { db, .. } => Some(db),
            Backend::Files => None,
        }
    }

    /// Reads the store in PostgreSQL again when another server changed it
    /// (see [`pg::listen`]); whether the snapshot changed, or `None` while
    /// this server's own changes wait for the database (try again soon).
    /// Nothing to do on the file store.
    pub fn reread(&self) -> Result<Option<bool>, StoreError> {
        let Backend::Postgres { db, version, .. } = &self.backend else {
            return Ok(Some(false));
        };
        // One row first: the whole store is read (under the writer lock)
        // only when another server has moved the version since.
        if db.version()? == version.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(Some(false));
        }
        let outcome = self.commit.when_quiet(
            || self.snapshot(),
            |s| {
                let all = db.read_everything()?;
                if all.version == version.load(std::sync::atomic::Ordering::SeqCst) {
                    return Ok((false, false));
                }
                let mut fresh = Snapshot::default();
                let mut problems = Vec::new();
                load_all(&Source::Rows(&self.root, &all), &mut fresh, &mut problems);
                fresh
                    .problems
                    .extend(problems.into_iter().map(|p| (p.path.clone(), p)));
                let changed = [
                    merge(&mut s.panels, fresh.panels),
                    merge(&mut s.messages, fresh.messages),
                    merge(&mut s.assets, fresh.assets),
                    merge(&mut s.campaigns, fresh.campaigns),
                    merge(&mut s.alerts, fresh.alerts),
                    merge(&mut s.cap, fresh.cap),
                    merge(&mut s.groups, fresh.groups),
                    std::mem::replace(&mut s.problems, fresh.problems) != s.problems,
                ]
                .contains(&true);
                version.store(all.version, std::sync::atomic::Ordering::SeqCst);
                Ok((changed, changed))
            },
            |next| self.publish(next),
        );
        outcome.transpose()
    }

    fn with_snapshot(root: &Path, backend: Backend, snap: Snapshot) -> Store {
        let (changes, _) = watch::channel(0);
        let files = matches!(backend, Backend::Files);
        let store = Store {
            root: root.to_path_buf(),
            backend,
            snap: RwLock::new(Arc::new(snap)),
            commit: commit::GroupCommit::default(),
            changes,
            hand_edits_seen: Mutex::new(Fingerprint::new()),
        };
        if files {
            *store.hand_edits_seen.lock().expect("lock") = store.hand_edits_fingerprint();
            store.remove_version_temps();
        }
        store
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The current snapshot (cheap: an `Arc`); later changes never alter it.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snap.read().expect("snapshot lock").clone()
    }

    /// Fires after every change (the value is the snapshot generation).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Where a panel's file is.
    pub fn panel_path(&self, id: &Id) -> PathBuf {
        self.root.join("content/panels").join(format!("{id}.json"))
    }
    /// Where a group's file is.
    pub fn group_path(&self, id: &Id) -> PathBuf {
        self.root.join("content/groups").join(format!("{id}.json"))
    }
    /// Where a message's file is.
    pub fn message_path(&self, id: &Id) -> PathBuf {
        self.root
            .join("content/messages")
            .join(format!("{id}.json"))
    }
    /// Where a campaign's file is.
    pub fn campaign_path(&self, id: &Id) -> PathBuf {
        self.root.join("schedules").join(format!("{id}.json"))
    }
    /// Where an alert's file is.
    pub fn alert_path(&self, id: &Id) -> PathBuf {
        self.root.join("state/alerts").join(format!("{id}.json"))
    }
    /// Where an image's bytes are (its extension from its content type).
    pub fn asset_path(&self, asset: &Asset) -> PathBuf {
        self.root.join("content/assets").join(format!(
            "{}.{}",
            asset.id,
            ext_for(&asset.content_type)
        ))
    }
    /// What is known about an image (its `Asset` record).
    pub fn asset_meta_path(&self, id: &str) -> PathBuf {
        self.root.join("content/assets").join(format!("{id}.json"))
    }
    /// Per-panel frame sequence high-water marks ([`seq::SeqAllocator`]).
    pub fn seq_file(&self) -> PathBuf {
        seq_marks_file(&self.root)
    }
    /// Proof of play ([`plays::Plays`]).
    pub fn plays_file(&self) -> PathBuf {
        self.root.join("state/plays.redb")
    }
    /// The renames of a bulk import while it commits ([`import`]).
    fn import_journal(&self) -> PathBuf {
        import_journal(&self.root)
    }

    /// Runs one change: `f` edits a copy of the snapshot and says which files
    /// to write; the files are written durably, then the copy becomes the
    /// snapshot. On any error nothing changes in memory.
    fn change<T>(
        &self,
        audit: Option<AuditEntry>,
        f: impl FnOnce(&mut Snapshot) -> Result<(T, Vec<FileOp>), StoreError>,
    ) -> Result<T, StoreError> {
        self.change_audited(|s| {
            let (out, ops) = f(s)?;
            Ok((out, ops, audit.into_iter().collect()))
        })
    }

    /// [`Store::change`] where `f` also writes the audit lines, for
    /// changes whose record depends on what `f` found (an id drawn, a
    /// version before and after). They are appended under the same lock,
    /// so the trail keeps the order of the changes.
    fn change_audited<T>(
        &self,
        f: impl FnOnce(&mut Snapshot) -> Result<(T, Vec<FileOp>, Vec<AuditEntry>), StoreError>,
    ) -> Result<T, StoreError> {
        let _turn = self.writers_turn()?;
        let (out, ticket) = self.commit.stage(
            || self.snapshot(),
            |s| {
                let staged = f(s)?;
                refuse_nul(&staged.1)?;
                Ok(staged)
            },
        )?;
        let done = self.commit.finish(
            ticket,
            |batch| self.write_batch(batch),
            |next| self.publish(next),
        );
        if let Backend::Postgres { stale, .. } = &self.backend {
            // Another server's change came first: read it now, so that the
            // caller's next try is weighed against it.
            if stale.swap(false, std::sync::atomic::Ordering::SeqCst) {
                if let Err(e) = self.reread() {
                    tracing::error!("reading the store again failed: {e}");
                }
            }
        }
        done?;
        Ok(out)
    }

    /// On PostgreSQL: waits for this server's turn to write, across the
    /// servers (one writer at a time: [`pg::Postgres::take_writers_turn`])
    /// and here, and reads what other servers changed first, so that the
    /// change is weighed against the latest store and its commit is not
    /// refused for a change it never touched. (Re-running a refused change
    /// instead would need every change to be re-runnable; its closures
    /// are `FnOnce` down to the API's.) The turn ends when the guard
    /// drops. `None` on the file store.
    fn writers_turn(&self) -> Result<Option<WritersTurn<'_>>, StoreError> {
        let Backend::Postgres {
            db, version, turn, ..
        } = &self.backend
        else {
            return Ok(None);
        };
        let here = turn.lock().unwrap_or_else(|e| e.into_inner());
        let (at, had) = db.take_writers_turn()?;
        let turn = WritersTurn {
            db: had.then_some(&**db),
            _here: here,
        };
        if at != version.load(std::sync::atomic::Ordering::SeqCst) {
            self.reread()?;
        }
        Ok(Some(turn))
    }

    /// Makes `next` the snapshot readers get, and says so.
    fn publish(&self, next: Snapshot) {
        let g = next.generation;
        *self.snap.write().expect("snapshot lock") = Arc::new(next);
        self.changes.send_replace(g);
    }

    /// Writes a batch of staged changes durably: their audit lines and
    /// files fsynced in one round before any rename
    /// ([`fsio::write_many_logged`]); a bulk import's lines first
    /// ([`Store::write_audited`]), then its journal.
    fn write_batch(&self, batch: &[commit::Staged]) -> Result<(), StoreError> {
        let audit: Vec<AuditEntry> = batch.iter().flat_map(|s| s.audit.clone()).collect();
        if let Backend::Postgres {
            db, version, stale, ..
        } = &self.backend
        {
            let ops: Vec<&FileOp> = batch.iter().flat_map(|s| &s.ops).collect();
            let rows = pg::rows(&self.root, &ops)?;
            let expected = version.load(std::sync::atomic::Ordering::SeqCst);
            return match db.commit(expected, &rows, &audit) {
                Ok(v) => {
                    version.store(v, std::sync::atomic::Ordering::SeqCst);
                    Ok(())
                }
                Err(pg::CommitError::Stale) => {
                    stale.store(true, std::sync::atomic::Ordering::SeqCst);
                    Err(StoreError::conflict(Reason::ChangedElsewhere))
                }
                Err(pg::CommitError::Failed(e)) => Err(e),
                Err(pg::CommitError::Unknown(e)) => {
                    // Read the store again before the next write: the
                    // change may be there.
                    stale.store(true, std::sync::atomic::Ordering::SeqCst);
                    Err(e)
                }
            };
        }
        match plain_changes(batch) {
            // The usual batch: its audit lines flushed beside its files.
            Some(files) if !audit.is_empty() => {
                let path = self.audit_path();
                let at = files.first().map_or(path.as_path(), |&(p, _)| p);
                fsio::write_many_logged(&path, &audit_lines(&audit), &files)
                    .map_err(|e| StoreError::io(at, e))?;
            }
            _ => self.write_audited(&audit, || self.write_files(batch))?,
        }
        self.note_own_writes(batch);
        Ok(())
    }

    /// Records what the store just wrote in the hand-edit fingerprint, so
    /// the next look finds only what people changed.
    fn note_own_writes(&self, batch: &[commit::Staged]) {
        let paths = batch.iter().flat_map(|s| &s.ops).flat_map(|op| match op {
            FileOp::Write(p, _) | FileOp::Remove(p) => vec![p],
            FileOp::Batch { files, .. } => files.iter().map(|(p, _)| p).collect(),
        });
        let mut seen = self.hand_edits_seen.lock().expect("lock");
        for path in paths {
            let Some(key) = self.hand_edit_key(path) else {
                continue;
            };
            match std::fs::metadata(path) {
                Ok(md) => {
                    let mtime = md.modified().unwrap_or(std::time::UNIX_EPOCH);
                    seen.insert(key, (md.len(), mtime));
                }
                Err(_) => {
                    seen.remove(&key);
                }
            }
        }
    }

    /// `path`'s fingerprint key when it is a file people may edit by hand.
    fn hand_edit_key(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let dir = rel.parent()?.to_str()?;
        let name = rel.file_name()?.to_str()?;
        (HAND_EDITED.contains(&dir) && name.ends_with(".json") && !fsio::is_temp_name(name))
            .then(|| format!("{dir}/{name}"))
    }

    /// The batch's files, in order: plain writes and removals together in
    /// one round of fsyncs ([`fsio::write_many`]), a bulk import through
    /// its journal ([`fsio::write_batch`]).
    fn write_files(&self, batch: &[commit::Staged]) -> Result<(), StoreError> {
        let flush = |files: &mut Vec<fsio::FileChange>| -> Result<(), StoreError> {
            if let Some(&(first, _)) = files.first() {
                fsio::write_many(files).map_err(|e| StoreError::io(first, e))?;
            }
            files.clear();
            Ok(())
        };
        let mut files: Vec<fsio::FileChange> = Vec::new();
        for op in batch.iter().flat_map(|s| &s.ops) {
            match op {
                FileOp::Write(p, bytes) => files.push((p.as_path(), Some(bytes.as_slice()))),
                FileOp::Remove(p) => files.push((p.as_path(), None)),
                FileOp::Batch {
                    journal,
                    files: all,
                } => {
                    flush(&mut files)?;
                    fsio::write_batch(journal, all).map_err(|e| StoreError::io(journal, e))?
                }
            }
        }
        flush(&mut files)
    }

    /// The audit lines first, durably, then `apply`: a change on disk
    /// always has its line before it. When the lines cannot be written
    /// `apply` does not run; when `apply` fails the lines are taken back.
    /// (Only a crash between the two leaves a line whose change is not
    /// there; never the reverse.) Call with the writer lock held.
    fn write_audited<T>(
        &self,
        audit: &[AuditEntry],
        apply: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if audit.is_empty() {
            return apply();
        }
        if let Backend::Postgres { db, .. } = &self.backend {
            let rows = db.append_audit(audit)?;
            return apply().inspect_err(|_| {
                if let Err(e) = db.remove_audit(&rows) {
                    tracing::error!(
                        "an audit row of a change that failed could not be taken back: {e}"
                    );
                }
            });
        }
        let path = self.audit_path();
        let before =
            fsio::append_lines(&path, &audit_lines(audit)).map_err(|e| StoreError::io(&path, e))?;
        apply().inspect_err(|_| {
            if let Err(e) = fsio::truncate_durable(&path, before) {
                tracing::error!(path = %path.display(), "an audit line of a change that failed could not be taken back: {e}");
            }
        })
    }

    fn audit_path(&self) -> PathBuf {
        audit_file(&self.root)
    }

    /// Runs a change kept outside the store (a token created or revoked)
    /// with its audit line, as every store change: the line first; if it
    /// cannot be written `change` does not run, if `change` fails the line
    /// is taken back.
    pub fn audited<T>(
        &self,
        a: AuditEntry,
        change: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _w = self.commit.lock_writer();
        self.write_audited(&[a], change)
    }

    /// Records what already happened (a refused CAP document).
    fn audit(&self, a: AuditEntry) -> Result<(), StoreError> {
        let _w = self.commit.lock_writer();
        self.write_audited(&[a], || Ok(()))
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_tail(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        if let Backend::Postgres { db, .. } = &self.backend {
            return db.audit_tail(limit);
        }
        let path = self.audit_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        Ok(text
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str(l).ok())
            .take(limit)
            .collect())
    }

    // ---- panels -------------------------------------------------------

    /// Creates (`create`) or replaces a panel, as `who`; refused if the id is
    /// taken (or, replacing, unknown) or its file is a broken hand edit.
    pub fn put_panel(&self, panel: Panel, create: bool, who: &str) -> Result<Panel, StoreError> {
        panel.validate()?;
        let path = self.panel_path(&panel.id);
        let audit = entry(
            who,
            if create { "create" } else { "update" },
            "panel",
            panel.id.as_str(),
        );
        self.change(Some(audit), |s| {
            self.not_broken(s, &path)?;
            let exists = s.panels.contains_key(&panel.id);
            if create && exists {
                return Err(StoreError::conflict(Reason::IdTaken {
                    kind: Kind::Panel,
                    id: panel.id.to_string(),
                }));
            }
            if !create && !exists {
                return Err(not_found("panel", panel.id.as_str()));
            }
            s.panels.insert(panel.id.clone(), panel.clone());
            Ok((panel.clone(), vec![FileOp::Write(path, pretty(&panel))]))
        })
    }

    /// Deletes a panel, as `who`; returns what it was.
    pub fn delete_panel(&self, id: &Id, who: &str) -> Result<Panel, StoreError> {
        let path = self.panel_path(id);
        self.change(Some(entry(who, "delete", "panel", id.as_str())), |s| {
            let p = s
                .panels
                .remove(id)
                .ok_or_else(|| not_found("panel", id.as_str()))?;
            s.problems.remove(&path);
            Ok((p, vec![FileOp::Remove(path)]))
        })
    }

    // ---- messages -----------------------------------------------------

    /// Writes a new draft (`Message::new`) with an id made from its title
    /// that no message uses, drawn under the write lock.
    pub fn create_message(
        &self,
        body: MessageBody,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Message, StoreError> {
        self.insert_message(None, body, who, now)
    }

    /// A new message under `id` (a fresh id from the title when `None`).
    fn insert_message(
        &self,
        id: Option<Id>,
        body: MessageBody,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Message, StoreError> {
        self.change_audited(|s| {
            let id = match id {
                Some(id) if s.messages.contains_key(&id) => {
                    return Err(StoreError::conflict(Reason::IdTaken {
                        kind: Kind::Message,
                        id: id.to_string(),
                    }))
                }
                Some(id) => id,
                None => fresh_id(&body.title, |id| {
                    s.messages.contains_key(id) || s.problems.contains_key(&self.message_path(id))
                })?,
            };
            self.not_broken(s, &self.message_path(&id))?;
            let m = Message::new(id, body, who, now, &*s)?;
            s.messages.insert(m.id.clone(), m.clone());
            let mut audit = entry(who, "create", "message", m.id.as_str());
            audit.detail = serde_json::json!({"version": m.version, "status": m.status});
            let mut ops = vec![FileOp::Write(self.message_path(&m.id), pretty(&m))];
            ops.extend(self.version_ops(&m));
            Ok((m, ops, vec![audit]))
        })
    }

    /// Replaces a message's body (`Message::edit`: a new version, back to
    /// draft).
    pub fn edit_message(
        &self,
        id: &Id,
        body: MessageBody,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Message, StoreError> {
        self.change_message(id, who, "update", |m, known| m.edit(body, who, now, known))
    }

    /// Approves a message (`Message::approve`: four eyes unless `policy`
    /// allows self-approval; `read` is the version the approver reviewed).
    pub fn approve_message(
        &self,
        id: &Id,
        who: &str,
        read: Option<u64>,
        now: DateTime<Utc>,
        policy: Policy,
    ) -> Result<Message, StoreError> {
        self.change_message(id, who, "approve", |m, _| m.approve(who, read, now, policy))
    }

    /// Applies a rule to a copy of the stored message under the writer
    /// lock, so a read-modify-write (edit, approve) cannot race another
    /// writer, and a refusal changes nothing.
    fn change_message(
        &self,
        id: &Id,
        who: &str,
        action: &str,
        rule: impl FnOnce(&mut Message, &Snapshot) -> Result<(), Refusal>,
    ) -> Result<Message, StoreError> {
        self.change_audited(|s| {
            self.not_broken(s, &self.message_path(id))?;
            let mut m = s
                .messages
                .get(id)
                .cloned()
                .ok_or_else(|| not_found("message", id.as_str()))?;
            let before = m.clone();
            rule(&mut m, s)?;
            let audit = versions::message_audit(who, action, &before, &m);
            s.messages.insert(id.clone(), m.clone());
            let mut ops = vec![FileOp::Write(self.message_path(id), pretty(&m))];
            ops.extend(self.version_ops(&m));
            Ok((m, ops, vec![audit]))
        })
    }

    /// Writes `m` as its history would have: created by `m.created_by`
    /// under `m.id`, then approved by `m.approved_by` if it is approved,
    /// each step through the rules. For tests that need messages with
    /// given ids.
    #[cfg(test)]
    pub fn seed_message(&self, m: Message) -> Result<Message, StoreError> {
        let created = self.insert_message(Some(m.id), m.body, &m.created_by, m.created_at)?;
        match m.approved_by {
            Some(by) if m.status == crate::domain::MessageStatus::Approved => self.approve_message(
                &created.id,
                &by,
                None,
                m.approved_at.unwrap_or(m.updated_at),
                Policy::default(),
            ),
            _ => Ok(created),
        }
    }

    /// Deletes a message, as `who`; refused while a campaign lists it (the campaigns are named).
    pub fn delete_message(&self, id: &Id, who: &str) -> Result<Message, StoreError> {
        let path = self.message_path(id);
        let line = entry(who, "delete", "message", id.as_str());
        let at = line.at;
        self.change(Some(line), |s| {
            let users: Vec<(String, String)> = s
                .campaigns
                .values()
                .filter(|c| c.body.messages.iter().any(|m| &m.id == id))
                .map(|c| (c.id.to_string(), c.body.name.clone()))
                .collect();
            if !users.is_empty() {
                let names: Vec<String> = users.iter().map(|(_, name)| name.clone()).collect();
                return Err(StoreError::InUse {
                    message: Reason::MessageInUse {
                        id: id.to_string(),
                        campaigns: names,
                    }
                    .into(),
                    kind: "campaigns",
                    users,
                });
            }
            let m = s
                .messages
                .remove(id)
                .ok_or_else(|| not_found("message", id.as_str()))?;
            s.problems.remove(&path);
            // The history is kept first, the message goes last.
            let mut ops = self.archive_versions(&m, who, at);
            ops.push(FileOp::Remove(path));
            Ok((m, ops))
        })
    }

    // ---- assets -------------------------------------------------------

    /// Stores an image by content hash. Uploading the same bytes twice
    /// returns the existing asset.
    pub fn put_asset(
        &self,
        bytes: &[u8],
        mut asset: Asset,
        who: &str,
    ) -> Result<Asset, StoreError> {
        let file = self.asset_path(&asset);
        let meta = self.asset_meta_path(&asset.id);
        self.change(Some(entry(who, "upload", "asset", &asset.id)), |s| {
            if let Some(existing) = s.assets.get(&asset.id) {
                return Ok((existing.clone(), vec![]));
            }
            asset.bytes = bytes.len() as u64;
            s.assets.insert(asset.id.clone(), asset.clone());
            Ok((
                asset.clone(),
                vec![
                    FileOp::Write(file, bytes.to_vec()),
                    FileOp::Write(meta, pretty(&asset)),
                ],
            ))
        })
    }

    /// Gives an image its display name (already checked by
    /// `domain::asset_name`).
    pub fn rename_asset(&self, id: &str, name: String, who: &str) -> Result<Asset, StoreError> {
        let meta = self.asset_meta_path(id);
        self.change(Some(entry(who, "rename", "asset", id)), |s| {
            let a = s.assets.get_mut(id).ok_or_else(|| not_found("asset", id))?;
            a.name = Some(name);
            let a = a.clone();
            let bytes = pretty(&a);
            Ok((a, vec![FileOp::Write(meta, bytes)]))
        })
    }

    /// Removes an image no message uses; refused (`InUse`, naming the
    /// messages) while one does.
    pub fn delete_asset(&self, id: &str, who: &str) -> Result<Asset, StoreError> {
        let meta = self.asset_meta_path(id);
        self.change(Some(entry(who, "delete", "asset", id)), |s| {
            let users: Vec<(String, String)> = s
                .messages
                .values()
                .filter(|m| m.body.image.as_deref() == Some(id))
                .map(|m| (m.id.to_string(), m.body.title.clone()))
                .collect();
            if !users.is_empty() {
                let titles: Vec<String> = users.iter().map(|(_, t)| t.clone()).collect();
                return Err(StoreError::InUse {
                    message: Reason::ImageInUse { messages: titles }.into(),
                    kind: "messages",
                    users,
                });
            }
            let a = s.assets.remove(id).ok_or_else(|| not_found("asset", id))?;
            let file = self.asset_path(&a);
            Ok((a, vec![FileOp::Remove(meta), FileOp::Remove(file)]))
        })
    }

    /// An image's facts and its bytes, read from disk.
    pub fn read_asset(&self, id: &str) -> Result<(Asset, Vec<u8>), StoreError> {
        let asset = self
            .snapshot()
            .assets
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("asset", id))?;
        let path = self.asset_path(&asset);
        let bytes = match self.row_of(&path)? {
            Some(bytes) => bytes,
            None => std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?,
        };
        Ok((asset, bytes))
    }

    /// The JSON documents in `dir` (a directory of the layout), by name
    /// without `.json`, with their bytes: the files, or the rows.
    pub(super) fn documents_in(&self, dir: &Path) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        if let Backend::Postgres { db, .. } = &self.backend {
            let kind = pg::key(&self.root, &dir.join("-"))
                .map(|(kind, _)| kind)
                .ok_or_else(|| not_found("file", &self.relative(dir)))?;
            return Ok(db
                .documents(&kind)?
                .into_iter()
                .map(|(id, body)| (id, body.into_bytes()))
                .collect());
        }
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(dir, e)),
        };
        Ok(rd
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                if fsio::is_temp_name(&name) {
                    return None;
                }
                let stem = name.strip_suffix(".json")?.to_string();
                Some((stem, std::fs::read(e.path()).ok()?))
            })
            .collect())
    }

    /// The bytes of the file at `path` as a row of the PostgreSQL store
    /// (`None` on the file store): found or `NotFound`.
    fn row_of(&self, path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
        let Backend::Postgres { db, .. } = &self.backend else {
            return Ok(None);
        };
        let (kind, name) =
            pg::key(&self.root, path).ok_or_else(|| not_found("file", &self.relative(path)))?;
        db.blob(&kind, &name)?
            .map(Some)
            .ok_or_else(|| not_found("file", &name))
    }

    // ---- campaigns ----------------------------------------------------

    /// Writes a new campaign with an id made from its name that nothing
    /// uses, drawn under the write lock.
    pub fn create_campaign(
        &self,
        body: CampaignBody,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        self.save_campaign(None, body, who, now)
    }

    /// Replaces the campaign `id`.
    pub fn replace_campaign(
        &self,
        id: Id,
        body: CampaignBody,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        self.save_campaign(Some(id), body, who, now)
    }

    fn save_campaign(
        &self,
        id: Option<Id>,
        body: CampaignBody,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        self.write_campaign(who, |s| {
            let create = id.is_none();
            let id = match id {
                Some(id) => id,
                None => fresh_id(&body.name, |id| {
                    s.campaigns.contains_key(id) || s.problems.contains_key(&self.campaign_path(id))
                })?,
            };
            let c = Campaign {
                id,
                body,
                updated_by: Some(who.to_string()),
                updated_at: Some(now),
            };
            Ok((c, create))
        })
    }

    /// Writes a whole campaign record as given (`create`: it must be new;
    /// otherwise it must exist), with the checks of every campaign save.
    pub fn put_campaign(
        &self,
        c: Campaign,
        create: bool,
        who: &str,
    ) -> Result<Campaign, StoreError> {
        self.write_campaign(who, |_| Ok((c, create)))
    }

    /// The one campaign save: `make` gives the record and whether it is new
    /// (under the write lock, so it may draw an id); then its values (the
    /// schedule compiler) and references (`Campaign::check_refs`) are
    /// checked, and a file broken by hand is never overwritten.
    fn write_campaign(
        &self,
        who: &str,
        make: impl FnOnce(&Snapshot) -> Result<(Campaign, bool), StoreError>,
    ) -> Result<Campaign, StoreError> {
        self.change_audited(|s| {
            let (c, create) = make(s)?;
            check_campaign(&c)?;
            let path = self.campaign_path(&c.id);
            self.not_broken(s, &path)?;
            c.check_refs(&*s)?;
            let exists = s.campaigns.contains_key(&c.id);
            if create && exists {
                return Err(StoreError::conflict(Reason::IdTaken {
                    kind: Kind::Campaign,
                    id: c.id.to_string(),
                }));
            }
            if !create && !exists {
                return Err(not_found("campaign", c.id.as_str()));
            }
            s.campaigns.insert(c.id.clone(), c.clone());
            let action = if create { "create" } else { "update" };
            let audit = entry(who, action, "campaign", c.id.as_str());
            let ops = vec![FileOp::Write(path, pretty(&c))];
            Ok((c, ops, vec![audit]))
        })
    }

    /// Deletes a campaign, as `who`; returns what it was.
    pub fn delete_campaign(&self, id: &Id, who: &str) -> Result<Campaign, StoreError> {
        let path = self.campaign_path(id);
        self.change(Some(entry(who, "delete", "campaign", id.as_str())), |s| {
            let c = s
                .campaigns
                .remove(id)
                .ok_or_else(|| not_found("campaign", id.as_str()))?;
            s.problems.remove(&path);
            Ok((c, vec![FileOp::Remove(path)]))
        })
    }

    /// Refuses to write over `path` while it holds a hand edit that could
    /// not be used: the person who made it would lose it unawares.
    fn not_broken(&self, s: &Snapshot, path: &Path) -> Result<(), StoreError> {
        match s.problems.get(path) {
            None => Ok(()),
            Some(p) => Err(StoreError::conflict(Reason::BrokenFile {
                file: self.relative(path),
                problem: p.message.clone(),
            })),
        }
    }

    /// `path` as seen from the data directory, for sentences.
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Re-reads `content/panels`, `content/messages` and `schedules/` if
    /// any file there changed since the last look. A file that cannot be
    /// used keeps the last good version of what it held and is reported in
    /// [`Snapshot::problems`]. Every change found is audited as a file
    /// edit. Returns whether anything changed.
    pub fn reload_hand_edits(&self) -> bool {
        if !matches!(self.backend, Backend::Files) {
            // The rows have no hand edits; other servers' changes come
            // through [`Store::reread`].
            return false;
        }
        let fp = self.hand_edits_fingerprint();
        if *self.hand_edits_seen.lock().expect("lock") == fp {
            return false;
        }
        let outcome = self.commit.when_quiet(
            || self.snapshot(),
            |s| {
                let problems_before = s.problems.clone();
                let mut edits = Vec::new();
                let dir = self.root.join("content/panels");
                s.panels = self.reload_dir(
                    &dir,
                    &s.panels,
                    &mut s.problems,
                    check_panel,
                    "panel",
                    &mut edits,
                );
                let dir = self.root.join("content/messages");
                s.messages = self.reload_dir(
                    &dir,
                    &s.messages,
                    &mut s.problems,
                    check_message,
                    "message",
                    &mut edits,
                );
                let dir = self.root.join("content/groups");
                s.groups = self.reload_dir(
                    &dir,
                    &s.groups,
                    &mut s.problems,
                    check_group,
                    "group",
                    &mut edits,
                );
                let dir = self.root.join("schedules");
                s.campaigns = self.reload_dir(
                    &dir,
                    &s.campaigns,
                    &mut s.problems,
                    check_campaign_file,
                    "campaign",
                    &mut edits,
                );
                self.audit_hand_edits(&edits);
                let changed = !edits.is_empty() || s.problems != problems_before;
                Ok((!edits.is_empty(), changed))
            },
            |next| self.publish(next),
        );
        match outcome {
            // Changes are on their way to the disk: look again next time.
            None => false,
            Some(Ok(edited)) => {
                *self.hand_edits_seen.lock().expect("lock") = fp;
                edited
            }
            Some(Err(e)) => {
                tracing::error!("reloading hand edits failed: {e}");
                false
            }
        }
    }

    /// The trail of what changed on disk, in one durable append. The file
    /// system is where the change happened; the trail still says what
    /// changed. Call with the writer lock held.
    fn audit_hand_edits(&self, edits: &[(&'static str, &'static str, PathBuf)]) {
        let entries: Vec<AuditEntry> = edits
            .iter()
            .map(|(action, kind, path)| {
                tracing::info!(path = %path.display(), "{kind} file changed on disk: {action}");
                let id = path
                    .file_stem()
                    .map(|s| s.to_string_lossy())
                    .unwrap_or_default();
                let mut e = entry("(file edit)", action, kind, &id);
                e.detail = serde_json::json!({"path": self.relative(path)});
                e
            })
            .collect();
        if let Err(err) = self.write_audited(&entries, || Ok(())) {
            tracing::error!("hand edits not audited: {err}");
        }
    }

    /// What `dir` holds now, with the last good version (from `old`) of
    /// every file that cannot be used; its problems replace the old ones.
    fn reload_dir<T: DeserializeOwned + Clone + PartialEq>(
        &self,
        dir: &Path,
        old: &OrdMap<Id, T>,
        problems: &mut BTreeMap<PathBuf, FileProblem>,
        check: impl Fn(&str, &T) -> Result<(), Invalid>,
        kind: &'static str,
        edits: &mut Vec<(&'static str, &'static str, PathBuf)>,
    ) -> OrdMap<Id, T> {
        let mut found = Vec::new();
        let mut fresh = load_dir(dir, &mut found, check);
        problems.retain(|p, _| !p.starts_with(dir));
        for p in &found {
            let id = p
                .path
                .file_stem()
                .and_then(|n| n.to_str())
                .and_then(|n| Id::parse(n).ok());
            if let Some(good) = id.and_then(|id| old.get(&id).map(|v| (id, v))) {
                fresh.insert(good.0, good.1.clone());
            }
        }
        keep_problems(problems, found, format_args!("{kind} file not applied"));
        // Start from `old` and change only what differs, so the maps keep
        // sharing what did not change (the player's diff skips it).
        let path = |id: &Id| dir.join(format!("{id}.json"));
        let mut out = old.clone();
        for (id, v) in &fresh {
            match old.get(id) {
                None => edits.push(("create", kind, path(id))),
                Some(o) if o != v => edits.push(("update", kind, path(id))),
                Some(_) => continue,
            }
            out.insert(id.clone(), v.clone());
        }
        for id in old.keys().filter(|id| !fresh.contains_key(*id)) {
            edits.push(("delete", kind, path(id)));
            out.remove(id);
        }
        out
    }

    fn hand_edits_fingerprint(&self) -> Fingerprint {
        let mut v = Fingerprint::new();
        for d in HAND_EDITED {
            let Ok(rd) = std::fs::read_dir(self.root.join(d)) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.ends_with(".json") || fsio::is_temp_name(&name) {
                    continue;
                }
                if let Ok(md) = e.metadata() {
                    let mtime = md.modified().unwrap_or(std::time::UNIX_EPOCH);
                    v.insert(format!("{d}/{name}"), (md.len(), mtime));
                }
            }
        }
        v
    }

    // ---- groups -------------------------------------------------------

    /// Gives a group its display name; refused when it has one already
    /// (rename it instead).
    pub fn create_group(&self, g: Group, who: &str) -> Result<Group, StoreError> {
        g.validate()?;
        let g = Group {
            name: crate::domain::validate_group_name(&g.name)?,
            ..g
        };
        let path = self.group_path(&g.id);
        self.change(Some(entry(who, "create", "group", g.id.as_str())), |s| {
            if s.groups.contains_key(&g.id) {
                return Err(StoreError::conflict(Reason::GroupExists {
                    id: g.id.to_string(),
                }));
            }
            self.not_broken(s, &path)?;
            s.groups.insert(g.id.clone(), g.clone());
            Ok((g.clone(), vec![FileOp::Write(path, pretty(&g))]))
        })
    }

    /// Renames a group: panels and targets keep its id.
    pub fn rename_group(&self, id: &Id, name: &str, who: &str) -> Result<Group, StoreError> {
        let name = crate::domain::validate_group_name(name)?;
        let path = self.group_path(id);
        self.change(Some(entry(who, "rename", "group", id.as_str())), |s| {
            self.not_broken(s, &path)?;
            let g = s
                .groups
                .get_mut(id)
                .ok_or_else(|| not_found("group", id.as_str()))?;
            g.name = name;
            let g = g.clone();
            Ok((g.clone(), vec![FileOp::Write(path, pretty(&g))]))
        })
    }

    // ---- alerts -------------------------------------------------------

    /// Sends a new alert (`Alert::new`), with an id from the second and
    /// 32 random bits, drawn again under the write lock should two alerts
    /// meet: an emergency must never fail on that.
    pub fn create_alert(
        &self,
        body: AlertBody,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Alert, StoreError> {
        self.write_alert(who, |s| {
            let id = std::iter::repeat_with(|| Id::for_alert(now, rand::random()))
                .take(ID_DRAWS)
                .find(|id| !s.alerts.contains_key(id))
                .ok_or_else(|| StoreError::conflict(Reason::NoFreeAlertId))?;
            Ok(Alert::new(id, body, who, now, s)?)
        })
    }

    /// Writes a whole alert record as given, with the checks of every alert.
    pub fn put_alert(&self, a: Alert, who: &str) -> Result<Alert, StoreError> {
        self.write_alert(who, |s| {
            a.body.check(s)?;
            Ok(a)
        })
    }

    fn write_alert(
        &self,
        who: &str,
        make: impl FnOnce(&Snapshot) -> Result<Alert, StoreError>,
    ) -> Result<Alert, StoreError> {
        self.change_audited(|s| {
            let a = make(s)?;
            if s.alerts.contains_key(&a.id) {
                return Err(StoreError::conflict(Reason::IdTaken {
                    kind: Kind::Alert,
                    id: a.id.to_string(),
                }));
            }
            s.alerts.insert(a.id.clone(), a.clone());
            let mut audit = entry(who, "create", "alert", a.id.as_str());
            audit.detail = serde_json::json!({"text": a.body.text, "targets": a.body.targets, "ends_at": a.ends_at});
            let ops = vec![FileOp::Write(self.alert_path(&a.id), pretty(&a))];
            Ok((a, ops, vec![audit]))
        })
    }

    /// Cancels an alert (kept on disk for the record, marked cancelled).
    pub fn cancel_alert(
        &self,
        id: &Id,
        now: DateTime<Utc>,
        who: &str,
    ) -> Result<Alert, StoreError> {
        let path = self.alert_path(id);
        self.change(Some(entry(who, "cancel", "alert", id.as_str())), |s| {
            let a = s
                .alerts
                .get_mut(id)
                .ok_or_else(|| not_found("alert", id.as_str()))?;
            a.cancel(now);
            let a = a.clone();
            Ok((a.clone(), vec![FileOp::Write(path, pretty(&a))]))
        })
    }
}

fn entry(who: &str, action: &str, kind: &str, id: &str) -> AuditEntry {
    AuditEntry {
        at: Utc::now(),
        who: who.to_string(),
        action: action.to_string(),
        kind: kind.to_string(),
        id: id.to_string(),
        detail: serde_json::Value::Null,
    }
}

fn not_found(kind: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

fn pretty<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).expect("domain types serialize");
    out.push(b'\n');
    out
}

fn check_id(file_id: &str, inner: &Id) -> Result<(), Invalid> {
    if inner.as_str() == file_id {
        Ok(())
    } else {
        Err(Invalid::new(Reason::FileIdMismatch {
            file: file_id.to_string(),
            inner: inner.to_string(),
        }))
    }
}

/// File extension for a stored image.
pub fn ext_for(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => "bin",
    }
}

/// Where a snapshot is read from: the data directory's files, or the rows
/// of the PostgreSQL store (named as the files they stand for, under the
/// server's data directory).
enum Source<'a> {
    Files(&'a Path),
    Rows(&'a Path, &'a pg::Everything),
}

/// Reads every kind of document from `source` into `snap`.
fn load_all(source: &Source, snap: &mut Snapshot, problems: &mut Vec<FileProblem>) {
    snap.panels = load_kind(source, "content/panels", problems, check_panel);
    snap.messages = load_kind(source, "content/messages", problems, check_message);
    snap.groups = load_kind(source, "content/groups", problems, check_group);
    snap.assets = match source {
        Source::Files(root) => load_assets(&root.join("content/assets"), problems),
        Source::Rows(root, all) => {
            let dir = root.join("content/assets");
            let blobs: std::collections::BTreeSet<&str> = all
                .blobs
                .iter()
                .filter(|(k, _)| k == "content/assets")
                .map(|(_, n)| n.as_str())
                .collect();
            let metas = rows_of(root, all, "content/assets");
            load_asset_records(&dir, metas, problems, |name| blobs.contains(name))
        }
    };
    snap.alerts = load_kind(source, "state/alerts", problems, |id, a: &Alert| {
        check_id(id, &a.id)
    });
    snap.cap = load_kind(
        source,
        cap::WARNINGS_DIR,
        problems,
        |id, w: &crate::cap::Warning| check_id(id, &w.id),
    );
    snap.campaigns = load_kind(source, "schedules", problems, check_campaign_file);
}

/// The documents of `kind` from `source`.
fn load_kind<T: DeserializeOwned + Clone>(
    source: &Source,
    kind: &str,
    problems: &mut Vec<FileProblem>,
    check: impl Fn(&str, &T) -> Result<(), Invalid>,
) -> OrdMap<Id, T> {
    match source {
        Source::Files(root) => load_dir(&root.join(kind), problems, check),
        Source::Rows(root, all) => load_json(rows_of(root, all, kind), problems, check),
    }
}

/// A document read from somewhere: its path (for problems), its id (the
/// file name without `.json`) and its bytes.
type Doc = (PathBuf, String, Result<Vec<u8>, FileProblem>);

/// The rows of `kind`, as the files they stand for.
fn rows_of<'a>(
    root: &'a Path,
    all: &'a pg::Everything,
    kind: &'a str,
) -> impl Iterator<Item = Doc> + 'a {
    all.documents
        .iter()
        .filter(move |(k, _, _)| k == kind)
        .map(move |(_, id, body)| {
            let path = root.join(kind).join(format!("{id}.json"));
            (path, id.clone(), Ok(body.clone().into_bytes()))
        })
}

/// `old` made equal to `fresh`, changing only what differs (the maps keep
/// sharing the rest, which the player's diff skips); whether it changed.
fn merge<K: Ord + Clone, V: Clone + PartialEq>(
    old: &mut OrdMap<K, V>,
    fresh: OrdMap<K, V>,
) -> bool {
    let mut changed = false;
    for (k, v) in &fresh {
        if old.get(k) != Some(v) {
            old.insert(k.clone(), v.clone());
            changed = true;
        }
    }
    let gone: Vec<K> = old
        .keys()
        .filter(|k| !fresh.contains_key(*k))
        .cloned()
        .collect();
    for k in gone {
        old.remove(&k);
        changed = true;
    }
    changed
}

/// Reads every `*.json` in `dir` as a `T`; problems (with line and column)
/// go to `problems` and the file is left untouched.
fn load_dir<T: DeserializeOwned + Clone>(
    dir: &Path,
    problems: &mut Vec<FileProblem>,
    check: impl Fn(&str, &T) -> Result<(), Invalid>,
) -> OrdMap<Id, T> {
    load_json(json_files(dir), problems, check)
}

/// The `*.json` files of `dir`, by name, read; what a crash left of a
/// write (a temp file) is removed.
fn json_files(dir: &Path) -> impl Iterator<Item = Doc> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().collect())
        .unwrap_or_default();
    entries.sort_by_key(|e| e.file_name());
    entries.into_iter().filter_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if fsio::is_temp_name(&name) {
            // A write that never reached its rename: not data, and ours.
            let _ = std::fs::remove_file(&path);
            return None;
        }
        let stem = name.strip_suffix(".json")?.to_string();
        let bytes = std::fs::read(&path)
            .map_err(|e| FileProblem::new(path.clone(), format!("cannot read: {e}")));
        Some((path, stem, bytes))
    })
}

/// Parses each document as a `T`; problems (with line and column) go to
/// `problems` and the document is left out.
fn load_json<T: DeserializeOwned + Clone>(
    docs: impl Iterator<Item = Doc>,
    problems: &mut Vec<FileProblem>,
    check: impl Fn(&str, &T) -> Result<(), Invalid>,
) -> OrdMap<Id, T> {
    let mut out = OrdMap::new();
    for (path, stem, bytes) in docs {
        let id = match Id::parse(&stem) {
            Ok(id) => id,
            Err(_) => {
                problems.push(FileProblem::new(
                    path,
                    Reason::FileNameNotId {
                        name: stem.to_string(),
                    },
                ));
                continue;
            }
        };
        match bytes.and_then(|b| parse_json::<T>(&path, &b)) {
            Ok(v) => match check(&stem, &v) {
                Ok(()) => {
                    out.insert(id, v);
                }
                Err(e) => problems.push(FileProblem::new(path, e.0)),
            },
            Err(p) => problems.push(p),
        }
    }
    out
}

fn load_assets(dir: &Path, problems: &mut Vec<FileProblem>) -> OrdMap<String, Asset> {
    load_asset_records(dir, json_files(dir), problems, |name| {
        dir.join(name).exists()
    })
}

/// The images whose record (`{sha256}.json`) reads and whose file
/// (`exists`, by file name) is there.
fn load_asset_records(
    dir: &Path,
    records: impl Iterator<Item = Doc>,
    problems: &mut Vec<FileProblem>,
    exists: impl Fn(&str) -> bool,
) -> OrdMap<String, Asset> {
    let mut out = OrdMap::new();
    for (path, stem, bytes) in records {
        match bytes.and_then(|b| parse_json::<Asset>(&path, &b)) {
            Ok(a) if a.id == stem => {
                let name = format!("{}.{}", a.id, ext_for(&a.content_type));
                if exists(&name) {
                    out.insert(a.id.clone(), a);
                } else {
                    problems.push(FileProblem::new(
                        path,
                        Reason::ImageFileMissing {
                            file: dir.join(name).display().to_string(),
                        },
                    ));
                }
            }
            Ok(_) => problems.push(FileProblem::new(path, Reason::AssetIdMismatch)),
            Err(p) => problems.push(p),
        }
    }
    out
}

/// Reads and parses a JSON file; a parse error says its line and column.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, FileProblem> {
    let bytes = std::fs::read(path).map_err(|e| {
        FileProblem::new(
            path.into(),
            Reason::FileUnreadable {
                detail: e.to_string(),
            },
        )
    })?;
    parse_json(path, &bytes)
}

/// `bytes` (the file at `path`) as a `T`, or where the mistake is.
fn parse_json<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, FileProblem> {
    serde_json::from_slice(bytes).map_err(|e| FileProblem {
        path: path.into(),
        message: Reason::FileJson {
            line: e.line(),
            column: e.column(),
            detail: e.to_string(),
        }
        .into(),
        line: Some(e.line()),
        column: Some(e.column()),
    })
}

/// The audit trail's lines for `audit`, one JSON object each.
fn audit_lines(audit: &[AuditEntry]) -> Vec<String> {
    audit
        .iter()
        .map(|a| serde_json::to_string(a).expect("audit entry serializes"))
        .collect()
}

/// The batch's file changes in order, or `None` when it holds a bulk
/// import (which goes through its own journal).
fn plain_changes(batch: &[commit::Staged]) -> Option<Vec<fsio::FileChange<'_>>> {
    batch
        .iter()
        .flat_map(|s| &s.ops)
        .map(|op| match op {
            FileOp::Write(p, bytes) => Some((p.as_path(), Some(bytes.as_slice()))),
            FileOp::Remove(p) => Some((p.as_path(), None)),
            FileOp::Batch { .. } => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PixelFormat;

    fn panel(id: &str) -> Panel {
        Panel {
            id: Id::parse(id).unwrap(),
            name: "Cổng UBND".into(),
            width: 128,
            height: 32,
            format: PixelFormat::Mono1,
            groups: vec!["hai-chau".into()],
            color: None,
            brightness: None,
            transport: Default::default(),
            location: None,
            units: Vec::new(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap()
    }

    fn body(text: &str) -> MessageBody {
        serde_json::from_value(serde_json::json!({"title": "Tiêm chủng", "text": text})).unwrap()
    }

    /// Campaign `id` playing message `m` on p1 all day, with `extra`
    /// fields on top.
    fn campaign(id: &str, m: &Id, extra: serde_json::Value) -> Campaign {
        let mut v = serde_json::json!({
            "id": id, "name": "x", "messages": [{"id": m, "dwell_s": 8}], "targets": ["p1"], "priority": 1
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    /// The message as stored on disk.
    fn on_disk(s: &Store, id: &Id) -> Message {
        read_json(&s.message_path(id)).unwrap()
    }

    const FOUR_EYES: Policy = Policy {
        allow_self_approval: false,
    };

    #[test]
    fn writes_survive_reopen() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.put_panel(panel("p1"), true, "admin").unwrap();
        assert!(matches!(
            s.put_panel(panel("p1"), true, "admin"),
            Err(StoreError::Conflict(_))
        ));
        let s2 = Store::open(d.path()).unwrap();
        assert_eq!(s2.snapshot().panels.len(), 1);
        assert_eq!(s2.audit_tail(10).unwrap().len(), 1);
    }

    /// Writers at once share fsync rounds (group commit), and each still
    /// gets its answer only for its own change: every create lands, on
    /// disk and in the audit trail; a duplicate among them is refused.
    #[test]
    fn concurrent_writers_all_land() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        std::thread::scope(|scope| {
            for t in 0..8 {
                let s = &s;
                scope.spawn(move || {
                    for i in 0..25 {
                        let id = format!("p{t}-{i}");
                        s.put_panel(panel(&id), true, "admin").unwrap();
                        let dup = s.put_panel(panel(&id), true, "admin");
                        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
                    }
                });
            }
        });
        assert_eq!(s.snapshot().panels.len(), 200);
        let again = Store::open(d.path()).unwrap();
        assert_eq!(again.snapshot().panels.len(), 200);
        assert_eq!(again.audit_tail(1000).unwrap().len(), 200);
    }

    /// A broken panel file used to stop the start, so every sign went dark
    /// at its frames' expiry. It is reported and skipped instead; the other
    /// panels are served.
    #[test]
    fn broken_content_is_reported_with_line_and_column_and_the_rest_served() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.put_panel(panel("p2"), true, "a").unwrap();
        let p = d.path().join("content/panels/p1.json");
        std::fs::write(&p, "{\n  \"id\": \"p1\",\n  oops\n}").unwrap();
        let m = d.path().join("content/messages/m1.json");
        std::fs::write(&m, "[").unwrap();
        let s = Store::open(d.path()).expect("starts despite broken files");
        let snap = s.snapshot();
        assert_eq!(
            snap.panels.keys().map(Id::as_str).collect::<Vec<_>>(),
            ["p2"]
        );
        let problem = &snap.problems[&p];
        assert_eq!((problem.line, problem.column), (Some(3), Some(3)));
        assert!(
            problem.message.to_string().contains("line 3"),
            "{}",
            problem.message
        );
        assert!(snap.problems.contains_key(&m));
        // Never overwritten, not even by a write through the API.
        let refused = s.put_panel(panel("p1"), true, "a");
        match refused {
            Err(StoreError::Conflict(text)) => {
                assert!(
                    text.to_string().contains("content/panels/p1.json"),
                    "{text}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(std::fs::read_to_string(&p).unwrap().contains("oops"));
    }

    /// Hand edits of content/ apply live like schedules/; a broken one
    /// keeps the last good version, is reported, and is not overwritten by
    /// an API write; fixing it clears the report.
    #[test]
    fn hand_edits_of_content_apply_live_and_broken_ones_keep_the_last_good() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let good = s.put_panel(panel("p1"), true, "a").unwrap();
        let m = s.create_message(body("Xin chào"), "lan", now()).unwrap();
        let path = s.panel_path(&good.id);
        let mut edited = good.clone();
        edited.name = "Chợ Hàn".into();
        std::fs::write(&path, pretty(&edited)).unwrap();
        assert!(s.reload_hand_edits());
        assert_eq!(s.snapshot().panels[&good.id].name, "Chợ Hàn");
        let audit = s.audit_tail(1).unwrap();
        assert_eq!(
            (audit[0].who.as_str(), audit[0].action.as_str()),
            ("(file edit)", "update")
        );
        // Broken: the last good version stays, the problem is reported.
        std::fs::write(&path, "{ \"id\": \"p1\", ").unwrap();
        s.reload_hand_edits();
        let snap = s.snapshot();
        assert_eq!(snap.panels[&good.id].name, "Chợ Hàn");
        assert!(snap.problems[&path].line.is_some());
        assert!(matches!(
            s.put_panel(good.clone(), false, "a"),
            Err(StoreError::Conflict(_))
        ));
        let mpath = s.message_path(&m.id);
        std::fs::write(&mpath, "{}").unwrap();
        s.reload_hand_edits();
        assert_eq!(s.snapshot().messages[&m.id], m, "the last good message");
        assert!(matches!(
            s.edit_message(&m.id, body("Thứ hai"), "lan", now()),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.approve_message(&m.id, "hung", None, now(), FOUR_EYES),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(std::fs::read_to_string(&mpath).unwrap(), "{}");
        // Fixed by hand: applied, and the report goes.
        std::fs::write(&path, pretty(&good)).unwrap();
        std::fs::write(&mpath, pretty(&m)).unwrap();
        s.reload_hand_edits();
        let snap = s.snapshot();
        assert!(snap.problems.is_empty(), "{:?}", snap.problems);
        assert_eq!(snap.panels[&good.id], good);
        s.put_panel(good, false, "a").unwrap();
    }

    /// The store's own writes are not hand edits: after them the next look
    /// finds nothing to re-read (with 10,000 panels, re-reading every file
    /// after each API write is seconds of work), and a hand edit made after
    /// them is still found.
    #[test]
    fn own_writes_are_not_taken_for_hand_edits() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let p = s.put_panel(panel("p1"), true, "a").unwrap();
        let m = s.create_message(body("Xin chào"), "lan", now()).unwrap();
        s.put_panel(panel("p2"), true, "a").unwrap();
        s.delete_panel(&Id::parse("p2").unwrap(), "a").unwrap();
        let unchanged = || *s.hand_edits_seen.lock().unwrap() == s.hand_edits_fingerprint();
        assert!(unchanged(), "own writes look like hand edits");
        let mut edited = p.clone();
        edited.name = "Chợ Vinh".into();
        std::fs::write(s.panel_path(&p.id), pretty(&edited)).unwrap();
        assert!(!unchanged());
        assert!(s.reload_hand_edits());
        assert_eq!(s.snapshot().panels[&p.id].name, "Chợ Vinh");
        assert_eq!(s.snapshot().messages[&m.id], m);
        assert!(unchanged());
    }

    /// A change is not acknowledged without its audit line: when the line
    /// cannot be written nothing is changed (in memory or on disk); when
    /// the change's files cannot be written the line is taken back.
    #[test]
    fn no_change_without_its_audit_line() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.put_panel(panel("p1"), true, "a").unwrap();
        let trail = d.path().join("state/audit.jsonl");
        let before = std::fs::read(&trail).unwrap();
        // The trail cannot be appended to (a directory in its place).
        let aside = d.path().join("state/audit.aside");
        std::fs::rename(&trail, &aside).unwrap();
        std::fs::create_dir(&trail).unwrap();
        let refused = s.create_message(body("Xin chào"), "lan", now());
        assert!(refused.is_err(), "{refused:?}");
        assert!(s.snapshot().messages.is_empty());
        assert_eq!(
            walk_json(&d.path().join("content/messages")),
            0,
            "no file written"
        );
        assert!(s.put_panel(panel("p2"), true, "a").is_err());
        assert!(!s.panel_path(&Id::parse("p2").unwrap()).exists());
        let tokens = s.audited(entry("a", "revoke", "token", "lan"), || Ok(()));
        assert!(tokens.is_err(), "a token change is refused too");
        std::fs::remove_dir(&trail).unwrap();
        std::fs::rename(&aside, &trail).unwrap();
        // The files cannot be written: the line is taken back.
        std::fs::create_dir_all(s.panel_path(&Id::parse("p3").unwrap()).join("x")).unwrap();
        assert!(s.put_panel(panel("p3"), true, "a").is_err());
        assert_eq!(
            std::fs::read(&trail).unwrap(),
            before,
            "no line for a change that failed"
        );
        // And with a trail that works, each change has its line.
        s.create_message(body("Xin chào"), "lan", now()).unwrap();
        assert_eq!(s.audit_tail(10).unwrap().len(), 2);
    }

    fn walk_json(dir: &Path) -> usize {
        std::fs::read_dir(dir).map(|rd| rd.count()).unwrap_or(0)
    }

    #[test]
    fn broken_schedule_keeps_last_good_version() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.put_panel(panel("p1"), true, "a").unwrap();
        let m = s.create_message(body("Xin chào"), "lan", now()).unwrap();
        let c = campaign("c1", &m.id, serde_json::json!({}));
        s.put_campaign(c.clone(), true, "a").unwrap();
        let path = s.campaign_path(&c.id);
        std::fs::write(&path, "{ broken").unwrap();
        s.reload_hand_edits();
        let snap = s.snapshot();
        assert_eq!(snap.campaigns.get(&c.id), Some(&c));
        assert!(snap.problems.contains_key(&path));
        // An API write must not overwrite the hand-broken file.
        assert!(matches!(
            s.put_campaign(c.clone(), false, "a"),
            Err(StoreError::Conflict(_))
        ));
        std::fs::write(&path, serde_json::to_vec(&c).unwrap()).unwrap();
        s.reload_hand_edits();
        assert!(s.snapshot().problems.is_empty());
    }

    #[test]
    fn io_errors_map_to_disk_full_and_read_only() {
        let p = Path::new("/data/content/panels/p1.json");
        let e = |code| StoreError::io(p, io::Error::from_raw_os_error(code));
        assert!(matches!(e(28), StoreError::DiskFull { .. }), "ENOSPC");
        assert!(matches!(e(122), StoreError::DiskFull { .. }), "EDQUOT");
        assert!(matches!(e(30), StoreError::ReadOnly { .. }), "EROFS");
        assert!(matches!(e(13), StoreError::ReadOnly { .. }), "EACCES");
        assert!(matches!(e(5), StoreError::Io { .. }), "EIO");
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        // A directory where the file should go: the rename fails.
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        std::fs::create_dir_all(s.panel_path(&Id::parse("p1").unwrap()).join("x")).unwrap();
        assert!(s.put_panel(panel("p1"), true, "a").is_err());
        assert!(s.snapshot().panels.is_empty());
        assert!(
            s.audit_tail(10).unwrap().is_empty(),
            "no audit line for a failed write"
        );
        let leftovers: Vec<_> = std::fs::read_dir(d.path().join("content/panels"))
            .unwrap()
            .flatten()
            .filter(|e| fsio::is_temp_name(&e.file_name().to_string_lossy()))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn unknown_targets_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.put_panel(panel("p1"), true, "a").unwrap();
        let m = s.create_message(body("Xin chào"), "lan", now()).unwrap();
        let c = campaign(
            "c1",
            &m.id,
            serde_json::json!({"targets": ["group:nowhere"]}),
        );
        assert!(matches!(
            s.put_campaign(c, true, "a"),
            Err(StoreError::Refused(Refusal::UnknownRef(_)))
        ));
    }

    #[test]
    fn messages_are_written_through_the_rules() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        // Created: a draft at version 1, nothing playable.
        let m = s.create_message(body("Thứ hai"), "lan", now()).unwrap();
        assert_eq!(on_disk(&s, &m.id), m);
        assert!(!m.playable());
        // The last editor may not approve; nothing changes, in memory or on disk.
        let refused = s.approve_message(&m.id, "lan", None, now(), FOUR_EYES);
        assert!(
            matches!(refused, Err(StoreError::Refused(Refusal::FourEyes { .. }))),
            "{refused:?}"
        );
        assert_eq!(s.snapshot().messages[&m.id], m);
        assert_eq!(on_disk(&s, &m.id), m);
        let approved = s
            .approve_message(&m.id, "hung", Some(1), now(), FOUR_EYES)
            .unwrap();
        assert!(approved.playable());
        assert_eq!(on_disk(&s, &m.id), approved);
        // An edit is a new version and back to draft, on disk too.
        let edited = s.edit_message(&m.id, body("Thứ ba"), "mai", now()).unwrap();
        assert!(!edited.playable());
        assert_eq!((edited.version, edited.approved_by.as_ref()), (2, None));
        assert_eq!(on_disk(&s, &m.id), edited);
        // An approval of the version before is refused and changes nothing.
        assert!(matches!(
            s.approve_message(&m.id, "hung", Some(1), now(), FOUR_EYES),
            Err(StoreError::Refused(Refusal::StaleVersion {
                read: 1,
                current: 2
            }))
        ));
        assert_eq!(on_disk(&s, &m.id), edited);
        // An edit naming an image that was never uploaded is refused.
        let mut b = body("Thứ tư");
        b.image = Some("ab".repeat(32));
        assert!(matches!(
            s.edit_message(&m.id, b.clone(), "mai", now()),
            Err(StoreError::Refused(Refusal::UnknownRef(_)))
        ));
        assert!(matches!(
            s.create_message(b, "mai", now()),
            Err(StoreError::Refused(Refusal::UnknownRef(_)))
        ));
        assert_eq!(s.snapshot().messages.len(), 1);
        // The audit trail says who did what to which version.
        let audit = s.audit_tail(10).unwrap();
        let actions: Vec<_> = audit
            .iter()
            .map(|a| (a.action.as_str(), a.who.as_str()))
            .collect();
        assert_eq!(
            actions,
            [("update", "mai"), ("approve", "hung"), ("create", "lan")]
        );
        assert_eq!(audit[0].detail["after"]["status"], "draft");
    }

    #[test]
    fn campaigns_are_checked_on_every_save_and_load() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.put_panel(panel("p1"), true, "a").unwrap();
        let m = s.create_message(body("Xin chào"), "lan", now()).unwrap();
        // Values: the schedule compiler, on every write path.
        let bad = campaign(
            "c1",
            &m.id,
            serde_json::json!({"cron": "61 7 * * *", "duration_s": 60}),
        );
        assert!(matches!(
            s.put_campaign(bad.clone(), true, "a"),
            Err(StoreError::Refused(Refusal::Invalid(_)))
        ));
        assert!(matches!(
            s.create_campaign(bad.body.clone(), "a", now()),
            Err(StoreError::Refused(Refusal::Invalid(_)))
        ));
        // References.
        let nowhere = campaign("c1", &Id::parse("nope").unwrap(), serde_json::json!({}));
        assert!(matches!(
            s.create_campaign(nowhere.body, "a", now()),
            Err(StoreError::Refused(Refusal::UnknownRef(_)))
        ));
        assert!(s.snapshot().campaigns.is_empty());
        let c = s
            .create_campaign(
                campaign("x", &m.id, serde_json::json!({})).body,
                "minh",
                now(),
            )
            .unwrap();
        assert!(c.id.as_str().starts_with("x-"), "{}", c.id);
        assert_eq!(c.updated_by.as_deref(), Some("minh"));
        // A hand-written file with a bad cron is refused on reload and on open.
        std::fs::write(
            s.campaign_path(&Id::parse("hand").unwrap()),
            serde_json::to_vec(&campaign(
                "hand",
                &m.id,
                serde_json::json!({"cron": "61 7 * * *", "duration_s": 60}),
            ))
            .unwrap(),
        )
        .unwrap();
        s.reload_hand_edits();
        let snap = s.snapshot();
        assert_eq!(snap.campaigns.len(), 1);
        assert!(
            snap.problems.keys().any(|p| p.ends_with("hand.json")),
            "{:?}",
            snap.problems
        );
        let reopened = Store::open(d.path()).unwrap();
        assert_eq!(reopened.snapshot().campaigns.len(), 1);
        assert_eq!(reopened.snapshot().problems.len(), 1);
    }

    #[test]
    fn alerts_are_checked_on_every_write_path() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.put_panel(panel("p1"), true, "a").unwrap();
        let b = |text: &str, target: &str| AlertBody {
            text: text.into(),
            targets: vec![crate::domain::Target::parse(target).unwrap()],
            duration_s: 60,
        };
        assert!(matches!(
            s.create_alert(b("x", "group:nowhere"), "op", now()),
            Err(StoreError::Refused(Refusal::UnknownRef(_)))
        ));
        assert!(matches!(
            s.create_alert(b(&"x".repeat(501), "all"), "op", now()),
            Err(StoreError::Refused(Refusal::Invalid(_)))
        ));
        let a = s
            .create_alert(b("BÃO", "group:hai-chau"), "op", now())
            .unwrap();
        assert!(
            a.id.as_str().starts_with("alert-20260921-141320-"),
            "{}",
            a.id
        );
        let mut forged = a.clone();
        forged.id = Id::parse("a2").unwrap();
        forged.body.targets = vec![crate::domain::Target::parse("p9").unwrap()];
        assert!(matches!(
            s.put_alert(forged, "op"),
            Err(StoreError::Refused(Refusal::UnknownRef(_)))
        ));
        assert_eq!(s.snapshot().alerts.len(), 1);
        let cancelled = s.cancel_alert(&a.id, now(), "op").unwrap();
        assert_eq!(cancelled.cancelled_at, Some(now()));
    }
}
