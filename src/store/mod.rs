//! The data directory: the only module that knows its layout.
//!
//! ```text
//! DIR/content/panels/{id}.json       panels
//! DIR/content/messages/{id}.json     messages (body + workflow fields)
//! DIR/content/assets/{sha256}.{ext}  uploaded images, named by content hash
//! DIR/content/assets/{sha256}.json   what we know about each image
//! DIR/schedules/{id}.json            campaigns (hand-editable, reloaded live)
//! DIR/state/alerts/{id}.json         emergency alerts
//! DIR/state/audit.jsonl              audit trail, one JSON object a line
//! DIR/state/seq.json                 per-panel frame sequence high-water marks
//! DIR/secrets/tokens.json            API tokens, hashed
//! DIR/secrets/mqtt-credentials.json  embedded-broker passwords, hashed
//! DIR/secrets/frame-signing.pem      the frame-signing key (and .pub beside it)
//! ```
//! JSON, pretty-printed: every operator can read it, git diffs it well, and
//! serde_json reports the line and column of a mistake.
//!
//! Readers take an immutable [`Snapshot`] (an `Arc`, cheap); writers go one
//! at a time: the files are written durably first ([`fsio::write_atomic`]),
//! then the new snapshot is published and a change is signalled. So a 2xx
//! after a write means the data is on disk, and a failed write changes
//! nothing in memory.

pub mod credentials;
pub mod fsio;
pub mod plays;
pub mod secret_file;
pub mod seq;
pub mod signing;
pub mod tokens;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::sync::watch;

use crate::domain::{Alert, Asset, Campaign, Id, Invalid, Message, Panel};

/// Everything the server knows, at one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub panels: BTreeMap<Id, Panel>,
    pub messages: BTreeMap<Id, Message>,
    pub assets: BTreeMap<String, Asset>,
    pub campaigns: BTreeMap<Id, Campaign>,
    pub alerts: BTreeMap<Id, Alert>,
    /// Files that could not be used, by path, with the reason. The server
    /// keeps the last good version of such a campaign and never overwrites
    /// the broken file.
    pub problems: BTreeMap<PathBuf, String>,
    /// Bumped on every change.
    pub generation: u64,
}

/// A file that could not be read or parsed, with where the mistake is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no {kind} with id {id:?}")]
    NotFound { kind: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// Well-formed, but names a panel, group, message or image that does
    /// not exist.
    #[error("{0}")]
    UnknownRef(String),
    #[error("the disk is full: {path} could not be written; free some space and try again")]
    DiskFull { path: PathBuf },
    #[error("the data directory is read-only or not writable ({path}): nothing was changed")]
    ReadOnly { path: PathBuf },
    #[error("writing {path} failed: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("the data directory has broken files:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Corrupt(Vec<FileProblem>),
}

impl StoreError {
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
    pub at: DateTime<Utc>,
    pub who: String,
    pub action: String,
    pub kind: String,
    pub id: String,
    /// Before → after, or other facts worth keeping (e.g. the status change).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

/// File operations that make up one change; run in order, each durable.
enum FileOp {
    Write(PathBuf, Vec<u8>),
    Remove(PathBuf),
}

pub struct Store {
    root: PathBuf,
    snap: RwLock<Arc<Snapshot>>,
    writer: Mutex<()>,
    changes: watch::Sender<u64>,
    /// Fingerprint of `schedules/` at the last reload.
    schedules_seen: Mutex<Vec<(String, u64, std::time::SystemTime)>>,
}

/// Campaign checks the store cannot do itself (cron, time zones): the
/// caller passes the schedule compiler in, so the store stays independent
/// of the scheduling core.
pub type CampaignCheck = fn(&Campaign) -> Result<(), Invalid>;

impl Store {
    /// Loads everything under `root`. Broken files in `content/` or `state/`
    /// stop the start with a list of every problem (path, line, column);
    /// a broken campaign in `schedules/` is reported and skipped.
    pub fn open(root: &Path, check: CampaignCheck) -> Result<Store, StoreError> {
        let mut problems = Vec::new();
        let mut snap = Snapshot::default();
        for d in [
            "content/panels",
            "content/messages",
            "content/assets",
            "schedules",
            "state/alerts",
        ] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).map_err(|e| StoreError::io(&p, e))?;
        }
        snap.panels = load_dir(
            &root.join("content/panels"),
            &mut problems,
            |id, p: &Panel| {
                check_id(id, &p.id)?;
                p.validate()
            },
        );
        snap.messages = load_dir(
            &root.join("content/messages"),
            &mut problems,
            |id, m: &Message| {
                check_id(id, &m.id)?;
                m.body.validate()
            },
        );
        snap.assets = load_assets(&root.join("content/assets"), &mut problems);
        snap.alerts = load_dir(
            &root.join("state/alerts"),
            &mut problems,
            |id, a: &Alert| check_id(id, &a.id),
        );
        if !problems.is_empty() {
            return Err(StoreError::Corrupt(problems));
        }
        let mut sched_problems = Vec::new();
        snap.campaigns = load_dir(
            &root.join("schedules"),
            &mut sched_problems,
            |id, c: &Campaign| {
                check_id(id, &c.id)?;
                check(c)
            },
        );
        for p in sched_problems {
            tracing::error!(path = %p.path.display(), "campaign file skipped: {}", p.message);
            snap.problems.insert(p.path, p.message);
        }
        let (changes, _) = watch::channel(0);
        let store = Store {
            root: root.to_path_buf(),
            snap: RwLock::new(Arc::new(snap)),
            writer: Mutex::new(()),
            changes,
            schedules_seen: Mutex::new(Vec::new()),
        };
        *store.schedules_seen.lock().expect("lock") = store.schedules_fingerprint();
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snap.read().expect("snapshot lock").clone()
    }

    /// Fires after every change (the value is the snapshot generation).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub fn panel_path(&self, id: &Id) -> PathBuf {
        self.root.join("content/panels").join(format!("{id}.json"))
    }
    pub fn message_path(&self, id: &Id) -> PathBuf {
        self.root
            .join("content/messages")
            .join(format!("{id}.json"))
    }
    pub fn campaign_path(&self, id: &Id) -> PathBuf {
        self.root.join("schedules").join(format!("{id}.json"))
    }
    pub fn alert_path(&self, id: &Id) -> PathBuf {
        self.root.join("state/alerts").join(format!("{id}.json"))
    }
    pub fn asset_path(&self, asset: &Asset) -> PathBuf {
        self.root.join("content/assets").join(format!(
            "{}.{}",
            asset.id,
            ext_for(&asset.content_type)
        ))
    }
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    /// Runs one change: `f` edits a copy of the snapshot and says which files
    /// to write; the files are written durably, then the copy becomes the
    /// snapshot. On any error nothing changes in memory.
    fn change<T>(
        &self,
        audit: Option<AuditEntry>,
        f: impl FnOnce(&mut Snapshot) -> Result<(T, Vec<FileOp>), StoreError>,
    ) -> Result<T, StoreError> {
        let _w = self.writer.lock().expect("writer lock");
        let mut next = (*self.snapshot()).clone();
        let (out, ops) = f(&mut next)?;
        for op in ops {
            match op {
                FileOp::Write(p, bytes) => {
                    fsio::write_atomic(&p, &bytes).map_err(|e| StoreError::io(&p, e))?
                }
                FileOp::Remove(p) => fsio::remove_durable(&p).map_err(|e| StoreError::io(&p, e))?,
            }
        }
        if let Some(a) = audit {
            self.append_audit(&a);
        }
        next.generation += 1;
        let g = next.generation;
        *self.snap.write().expect("snapshot lock") = Arc::new(next);
        self.changes.send_replace(g);
        Ok(out)
    }

    fn append_audit(&self, a: &AuditEntry) {
        let path = self.root.join("state/audit.jsonl");
        let line = serde_json::to_string(a).expect("audit entry serializes");
        if let Err(e) = fsio::append_line(&path, &line) {
            tracing::error!(path = %path.display(), "audit trail append failed: {e}");
        }
    }

    /// Records an event that changes no stored file (e.g. a token revoked).
    pub fn audit(&self, a: AuditEntry) {
        let _w = self.writer.lock().expect("writer lock");
        self.append_audit(&a);
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_tail(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let path = self.root.join("state/audit.jsonl");
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
            let exists = s.panels.contains_key(&panel.id);
            if create && exists {
                return Err(StoreError::Conflict(format!(
                    "a panel with id {:?} already exists: choose another id or PUT /api/v1/panels/{} to change it",
                    panel.id.as_str(),
                    panel.id
                )));
            }
            if !create && !exists {
                return Err(not_found("panel", panel.id.as_str()));
            }
            s.panels.insert(panel.id.clone(), panel.clone());
            Ok((panel.clone(), vec![FileOp::Write(path, pretty(&panel))]))
        })
    }

    pub fn delete_panel(&self, id: &Id, who: &str) -> Result<Panel, StoreError> {
        let path = self.panel_path(id);
        self.change(Some(entry(who, "delete", "panel", id.as_str())), |s| {
            let p = s
                .panels
                .remove(id)
                .ok_or_else(|| not_found("panel", id.as_str()))?;
            Ok((p, vec![FileOp::Remove(path)]))
        })
    }

    // ---- messages -----------------------------------------------------

    pub fn put_message(
        &self,
        msg: Message,
        create: bool,
        who: &str,
    ) -> Result<Message, StoreError> {
        msg.body.validate()?;
        let path = self.message_path(&msg.id);
        let mut audit = entry(
            who,
            if create { "create" } else { "update" },
            "message",
            msg.id.as_str(),
        );
        audit.detail = serde_json::json!({"version": msg.version, "status": msg.status});
        self.change(Some(audit), |s| {
            check_image(&s.assets, &msg.body.image)?;
            let exists = s.messages.contains_key(&msg.id);
            if create && exists {
                return Err(StoreError::Conflict(format!(
                    "a message with id {:?} already exists",
                    msg.id.as_str()
                )));
            }
            if !create && !exists {
                return Err(not_found("message", msg.id.as_str()));
            }
            s.messages.insert(msg.id.clone(), msg.clone());
            Ok((msg.clone(), vec![FileOp::Write(path, pretty(&msg))]))
        })
    }

    /// Applies `edit` to the stored message under the writer lock, so a
    /// read-modify-write (edit, approve) cannot race another writer.
    pub fn update_message(
        &self,
        id: &Id,
        who: &str,
        action: &str,
        edit: impl FnOnce(&mut Message) -> Result<(), StoreError>,
    ) -> Result<Message, StoreError> {
        let path = self.message_path(id);
        let mut audit = entry(who, action, "message", id.as_str());
        let out = self.change(None, |s| {
            let m = s
                .messages
                .get_mut(id)
                .ok_or_else(|| not_found("message", id.as_str()))?;
            let before = (m.version, m.status);
            edit(m)?;
            m.body.validate()?;
            check_image(&s.assets, &m.body.image)?;
            let m = s.messages[id].clone();
            audit.detail = serde_json::json!({
                "before": {"version": before.0, "status": before.1},
                "after": {"version": m.version, "status": m.status},
            });
            Ok((m.clone(), vec![FileOp::Write(path, pretty(&m))]))
        })?;
        self.audit(audit);
        Ok(out)
    }

    pub fn delete_message(&self, id: &Id, who: &str) -> Result<Message, StoreError> {
        let path = self.message_path(id);
        self.change(Some(entry(who, "delete", "message", id.as_str())), |s| {
            if let Some(c) = s
                .campaigns
                .values()
                .find(|c| c.body.messages.iter().any(|m| &m.id == id))
            {
                return Err(StoreError::Conflict(format!(
                    "message {id} is used by campaign {:?} ({}): remove it from the campaign first",
                    c.id.as_str(),
                    c.body.name
                )));
            }
            let m = s
                .messages
                .remove(id)
                .ok_or_else(|| not_found("message", id.as_str()))?;
            Ok((m, vec![FileOp::Remove(path)]))
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
        let meta = self
            .root
            .join("content/assets")
            .join(format!("{}.json", asset.id));
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

    pub fn read_asset(&self, id: &str) -> Result<(Asset, Vec<u8>), StoreError> {
        let asset = self
            .snapshot()
            .assets
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("asset", id))?;
        let path = self.asset_path(&asset);
        let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        Ok((asset, bytes))
    }

    // ---- campaigns ----------------------------------------------------

    pub fn put_campaign(
        &self,
        c: Campaign,
        create: bool,
        who: &str,
    ) -> Result<Campaign, StoreError> {
        let path = self.campaign_path(&c.id);
        self.change(Some(entry(who, if create { "create" } else { "update" }, "campaign", c.id.as_str())), |s| {
            if let Some(problem) = s.problems.get(&path) {
                return Err(StoreError::Conflict(format!(
                    "{} is broken on disk ({problem}); fix or delete the file by hand first, so no hand edit is overwritten",
                    path.display()
                )));
            }
            check_refs(s, &c)?;
            let exists = s.campaigns.contains_key(&c.id);
            if create && exists {
                return Err(StoreError::Conflict(format!("a campaign with id {:?} already exists", c.id.as_str())));
            }
            if !create && !exists {
                return Err(not_found("campaign", c.id.as_str()));
            }
            s.campaigns.insert(c.id.clone(), c.clone());
            Ok((c.clone(), vec![FileOp::Write(path.clone(), pretty(&c))]))
        })
    }

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

    /// Re-reads `schedules/` if any file changed since the last look. A
    /// broken file keeps the last good version of its campaign and is
    /// reported in [`Snapshot::problems`]. Returns whether anything changed.
    pub fn reload_schedules(&self, check: CampaignCheck) -> bool {
        let fp = self.schedules_fingerprint();
        {
            let mut seen = self.schedules_seen.lock().expect("lock");
            if *seen == fp {
                return false;
            }
            *seen = fp;
        }
        let dir = self.root.join("schedules");
        let result = self.change(None, |s| {
            let mut problems = Vec::new();
            let fresh: BTreeMap<Id, Campaign> = load_dir(&dir, &mut problems, |id, c: &Campaign| {
                check_id(id, &c.id)?;
                check(c)
            });
            let mut campaigns = fresh;
            s.problems.retain(|p, _| !p.starts_with(&dir));
            for p in problems {
                // Keep the last good version of a campaign whose file broke.
                if let Some(id) = p.path.file_stem().and_then(|n| n.to_str()).and_then(|n| Id::parse(n).ok()) {
                    if let Some(old) = s.campaigns.get(&id) {
                        campaigns.insert(id, old.clone());
                    }
                }
                tracing::error!(path = %p.path.display(), "campaign file not applied: {}", p.message);
                s.problems.insert(p.path, p.message);
            }
            let mut edits: Vec<(&'static str, Id)> = Vec::new();
            for (id, c) in &campaigns {
                match s.campaigns.get(id) {
                    None => edits.push(("create", id.clone())),
                    Some(old) if old != c => edits.push(("update", id.clone())),
                    Some(_) => {}
                }
            }
            for id in s.campaigns.keys() {
                if !campaigns.contains_key(id) {
                    edits.push(("delete", id.clone()));
                }
            }
            s.campaigns = campaigns;
            Ok((edits, vec![]))
        });
        match result {
            Ok(edits) => {
                if !edits.is_empty() {
                    tracing::info!("schedules/ changed on disk: campaigns reloaded");
                }
                // Hand edits are changes too: they go into the audit trail.
                for (action, id) in &edits {
                    let mut e = entry("(file edit)", action, "campaign", id.as_str());
                    e.detail =
                        serde_json::json!({"path": self.campaign_path(id).display().to_string()});
                    self.audit(e);
                }
                !edits.is_empty()
            }
            Err(e) => {
                tracing::error!("reloading schedules failed: {e}");
                false
            }
        }
    }

    fn schedules_fingerprint(&self) -> Vec<(String, u64, std::time::SystemTime)> {
        let mut v = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.root.join("schedules")) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.ends_with(".json") || fsio::is_temp_name(&name) {
                    continue;
                }
                if let Ok(md) = e.metadata() {
                    v.push((
                        name,
                        md.len(),
                        md.modified().unwrap_or(std::time::UNIX_EPOCH),
                    ));
                }
            }
        }
        v.sort();
        v
    }

    // ---- alerts -------------------------------------------------------

    pub fn put_alert(&self, a: Alert, who: &str) -> Result<Alert, StoreError> {
        let path = self.alert_path(&a.id);
        let mut audit = entry(who, "create", "alert", a.id.as_str());
        audit.detail = serde_json::json!({"text": a.body.text, "targets": a.body.targets, "ends_at": a.ends_at});
        self.change(Some(audit), |s| {
            if s.alerts.contains_key(&a.id) {
                return Err(StoreError::Conflict(format!(
                    "an alert with id {:?} already exists",
                    a.id.as_str()
                )));
            }
            s.alerts.insert(a.id.clone(), a.clone());
            Ok((a.clone(), vec![FileOp::Write(path, pretty(&a))]))
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
            if a.cancelled_at.is_none() {
                a.cancelled_at = Some(now);
            }
            let a = a.clone();
            Ok((a.clone(), vec![FileOp::Write(path, pretty(&a))]))
        })
    }
}

/// A message's image must be an uploaded asset.
fn check_image(assets: &BTreeMap<String, Asset>, image: &Option<String>) -> Result<(), StoreError> {
    match image {
        Some(a) if !assets.contains_key(a) => Err(StoreError::UnknownRef(format!(
            "image {a:?} is not an uploaded asset: upload it with POST /api/v1/assets first"
        ))),
        _ => Ok(()),
    }
}

/// Targets and playlist entries of a campaign must name things that exist.
fn check_refs(s: &Snapshot, c: &Campaign) -> Result<(), StoreError> {
    for m in &c.body.messages {
        if !s.messages.contains_key(&m.id) {
            return Err(StoreError::UnknownRef(format!(
                "campaign lists message {:?}, which does not exist: create it first or remove it from the list",
                m.id.as_str()
            )));
        }
    }
    check_targets(s, &c.body.targets)
}

/// Every target must match something that exists now.
pub fn check_targets(s: &Snapshot, targets: &[crate::domain::Target]) -> Result<(), StoreError> {
    use crate::domain::Target;
    if targets.is_empty() {
        return Err(StoreError::Invalid(Invalid::new(
            "targets is empty: name at least one panel id, \"group:NAME\" or \"all\"",
        )));
    }
    for t in targets {
        let ok = match t {
            Target::All => true,
            Target::Panel(id) => s.panels.contains_key(id),
            Target::Group(g) => s.panels.values().any(|p| p.groups.iter().any(|pg| pg == g)),
        };
        if !ok {
            return Err(StoreError::UnknownRef(format!(
                "target {t:?} matches no panel: check the panel id or group name (GET /api/v1/panels lists them)",
                t = t.to_string()
            )));
        }
    }
    Ok(())
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
        Err(Invalid::new(format!(
            "the file is named {file_id:?} but its \"id\" is {:?}: make them the same",
            inner.as_str()
        )))
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

/// Reads every `*.json` in `dir` as a `T`; problems (with line and column)
/// go to `problems` and the file is left untouched.
fn load_dir<T: DeserializeOwned>(
    dir: &Path,
    problems: &mut Vec<FileProblem>,
    check: impl Fn(&str, &T) -> Result<(), Invalid>,
) -> BTreeMap<Id, T> {
    let mut out = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if fsio::is_temp_name(&name) {
            // A write that never reached its rename: not data, and ours.
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let id = match Id::parse(stem) {
            Ok(id) => id,
            Err(e) => {
                problems.push(FileProblem {
                    path,
                    message: format!("the file name is not a valid id: {e}"),
                });
                continue;
            }
        };
        match read_json::<T>(&path) {
            Ok(v) => match check(stem, &v) {
                Ok(()) => {
                    out.insert(id, v);
                }
                Err(e) => problems.push(FileProblem { path, message: e.0 }),
            },
            Err(p) => problems.push(p),
        }
    }
    out
}

fn load_assets(dir: &Path, problems: &mut Vec<FileProblem>) -> BTreeMap<String, Asset> {
    let mut out = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if fsio::is_temp_name(&name) {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        match read_json::<Asset>(&path) {
            Ok(a) if a.id == stem => {
                let file = dir.join(format!("{}.{}", a.id, ext_for(&a.content_type)));
                if file.exists() {
                    out.insert(a.id.clone(), a);
                } else {
                    problems.push(FileProblem {
                        path,
                        message: format!("the image file {} is missing", file.display()),
                    });
                }
            }
            Ok(_) => problems.push(FileProblem {
                path,
                message: "the file name does not match the asset id inside".into(),
            }),
            Err(p) => problems.push(p),
        }
    }
    out
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, FileProblem> {
    let bytes = std::fs::read(path).map_err(|e| FileProblem {
        path: path.into(),
        message: format!("cannot read: {e}"),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| FileProblem {
        path: path.into(),
        message: format!("line {}, column {}: {}", e.line(), e.column(), e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PixelFormat;

    fn ok_check(_: &Campaign) -> Result<(), Invalid> {
        Ok(())
    }

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
        }
    }

    #[test]
    fn writes_survive_reopen() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path(), ok_check).unwrap();
        s.put_panel(panel("p1"), true, "admin").unwrap();
        assert!(matches!(
            s.put_panel(panel("p1"), true, "admin"),
            Err(StoreError::Conflict(_))
        ));
        let s2 = Store::open(d.path(), ok_check).unwrap();
        assert_eq!(s2.snapshot().panels.len(), 1);
        assert_eq!(s2.audit_tail(10).unwrap().len(), 1);
    }

    #[test]
    fn broken_content_stops_the_start_with_path_and_line() {
        let d = tempfile::tempdir().unwrap();
        Store::open(d.path(), ok_check).unwrap();
        let p = d.path().join("content/panels/p1.json");
        std::fs::write(&p, "{\n  \"id\": \"p1\",\n  oops\n}").unwrap();
        let e = Store::open(d.path(), ok_check).err().unwrap();
        let text = e.to_string();
        assert!(text.contains("p1.json"), "{text}");
        assert!(text.contains("line 3"), "{text}");
        // Never overwritten.
        assert!(std::fs::read_to_string(&p).unwrap().contains("oops"));
    }

    #[test]
    fn broken_schedule_keeps_last_good_version() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path(), ok_check).unwrap();
        s.put_panel(panel("p1"), true, "a").unwrap();
        let c: Campaign = serde_json::from_value(serde_json::json!({
            "id": "c1", "name": "x", "messages": [], "targets": ["p1"], "priority": 1
        }))
        .unwrap();
        s.put_campaign(c.clone(), true, "a").unwrap();
        let path = s.campaign_path(&c.id);
        std::fs::write(&path, "{ broken").unwrap();
        s.reload_schedules(ok_check);
        let snap = s.snapshot();
        assert_eq!(snap.campaigns.get(&c.id), Some(&c));
        assert!(snap.problems.contains_key(&path));
        // An API write must not overwrite the hand-broken file.
        assert!(matches!(
            s.put_campaign(c.clone(), false, "a"),
            Err(StoreError::Conflict(_))
        ));
        std::fs::write(&path, serde_json::to_vec(&c).unwrap()).unwrap();
        s.reload_schedules(ok_check);
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
        let s = Store::open(d.path(), ok_check).unwrap();
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
        let s = Store::open(d.path(), ok_check).unwrap();
        s.put_panel(panel("p1"), true, "a").unwrap();
        let c: Campaign = serde_json::from_value(serde_json::json!({
            "id": "c1", "name": "x", "messages": [], "targets": ["group:nowhere"], "priority": 1
        }))
        .unwrap();
        assert!(matches!(
            s.put_campaign(c, true, "a"),
            Err(StoreError::UnknownRef(_))
        ));
    }
}
