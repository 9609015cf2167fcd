//! Official warnings (CAP) in the data directory:
//!
//! ```text
//! DIR/cap.json                          feeds, rules, templates, risk levels (hand-edited, reloaded live)
//! DIR/state/cap/documents/{sha256}.xml  every document received, verbatim, before it is read
//! DIR/state/cap/warnings/{id}.json      each warning and what was done with it
//! ```
//!
//! A document goes: archived as received ([`Store::archive_cap`]) →
//! screened and parsed (`cap::parse`) → decided (`cap::decide`) under the
//! write lock against the panels and the earlier warnings → its record
//! written, the earlier warnings it ends marked and their alerts
//! cancelled, and, when it is deployed, one ordinary alert per wording
//! phase ([`Store::receive_cap`]). So pre-emption, delivery counts and
//! reports treat it as any alert. Every step is in the audit trail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use super::{entry, not_found, pretty, FileOp, Snapshot, Store, StoreError, ID_DRAWS};
use crate::cap::{self, CapConfig, CapError, Decision, Intake, State, Warning};
use crate::domain::{Alert, AlertBody, Id, Invalid, Target};
use crate::i18n::Text;

/// Warning records, under the data directory.
pub const WARNINGS_DIR: &str = "state/cap/warnings";
/// Documents as received, under the data directory.
pub const DOCUMENTS_DIR: &str = "state/cap/documents";
/// The configuration, under the data directory.
pub(crate) const CONFIG_FILE: &str = "cap.json";

/// `DIR/cap.json`, read again whenever it changes on disk. A missing file
/// means the defaults (hold everything); a broken one keeps the last good
/// configuration and is reported ([`ConfigFile::problem`]).
pub struct ConfigFile {
    path: PathBuf,
    state: Mutex<ConfigState>,
}

struct ConfigState {
    seen: Option<(u64, std::time::SystemTime)>,
    config: Arc<CapConfig>,
    problem: Option<Text>,
}

impl ConfigFile {
    /// The file under the data directory `data`, read now (missing: the defaults).
    pub fn open(data: &Path) -> ConfigFile {
        let f = ConfigFile {
            path: data.join(CONFIG_FILE),
            state: Mutex::new(ConfigState {
                seen: None,
                config: Arc::new(CapConfig::default()),
                problem: None,
            }),
        };
        f.current();
        f
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration in force (re-read if the file changed).
    pub fn current(&self) -> Arc<CapConfig> {
        let mut st = self.state.lock().expect("cap config lock");
        let seen = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.len(), m.modified().unwrap_or(std::time::UNIX_EPOCH)));
        if seen != st.seen {
            st.seen = seen;
            match self.load() {
                Ok(c) => {
                    st.config = Arc::new(c);
                    st.problem = None;
                }
                Err(e) => {
                    tracing::error!(path = %self.path.display(), "CAP configuration not applied: {e}");
                    st.problem = Some(e);
                }
            }
        }
        st.config.clone()
    }

    /// Why the file on disk is not in force, if it is not.
    pub fn problem(&self) -> Option<Text> {
        self.current();
        self.state.lock().expect("cap config lock").problem.clone()
    }

    fn load(&self) -> Result<CapConfig, Text> {
        if !self.path.exists() {
            return Ok(CapConfig::default());
        }
        let c: CapConfig = super::read_json(&self.path).map_err(|p| p.message)?;
        c.validate().map_err(|e| e.0)?;
        Ok(c)
    }
}

/// Where a document came from, and how it is judged.
#[derive(Debug, Clone)]
pub struct Source {
    /// A feed's name or `post:TOKEN-NAME`: recorded with the warning.
    pub name: String,
    /// Accepted senders; empty accepts any.
    pub senders: Vec<String>,
    /// The rule set.
    pub rules: String,
    /// The groups a scoped feed token holds for: its warnings match the
    /// panels inside them only, and end (as updates or cancels) only
    /// warnings whose panels all lie inside them. `None`: the whole
    /// province.
    pub scope: Option<Vec<Id>>,
}

impl Source {
    /// Documents posted with a `feed` token named `who`.
    pub fn post(config: &CapConfig, who: &str) -> Source {
        Source {
            name: format!("post:{who}"),
            senders: config.post.senders.clone(),
            rules: config.post.rules.clone(),
            scope: None,
        }
    }
}

/// Why a document changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum CapFailure {
    /// The document or the operator's click was refused (the reason says why).
    #[error(transparent)]
    Refused(#[from] CapError),
    /// The store could not record it.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a received document did.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The warning as recorded.
    pub warning: Warning,
    /// The identifier was received before: nothing changed.
    pub duplicate: bool,
    /// Earlier warnings it ended.
    pub ended: Vec<Id>,
}

impl Store {
    fn document_path(&self, sha: &str) -> PathBuf {
        self.root.join(DOCUMENTS_DIR).join(format!("{sha}.xml"))
    }

    fn warning_path(&self, id: &Id) -> PathBuf {
        self.root.join(WARNINGS_DIR).join(format!("{id}.json"))
    }

    /// Keeps a document as received; returns its SHA-256 (hex), its name.
    pub fn archive_cap(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let sha = hex::encode(Sha256::digest(bytes));
        let path = self.document_path(&sha);
        if let Some((db, (kind, name))) = self.postgres().zip(super::pg::key(&self.root, &path)) {
            db.put_blob(&kind, &name, bytes)?;
            return Ok(sha);
        }
        if !path.exists() {
            crate::fsio::write_atomic(&path, bytes).map_err(|e| StoreError::io(&path, e))?;
        }
        Ok(sha)
    }

    /// An archived document's bytes.
    pub fn cap_document(&self, sha: &str) -> Result<Vec<u8>, StoreError> {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found("document", sha));
        }
        let path = self.document_path(sha);
        if let Some(bytes) = self.row_of(&path).map_err(|_| not_found("document", sha))? {
            return Ok(bytes);
        }
        std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => not_found("document", sha),
            _ => StoreError::io(&path, e),
        })
    }

    /// Receives a CAP document: archives it, reads it, decides and applies
    /// what it does. A refused document is archived and audited and
    /// changes nothing else.
    pub fn receive_cap(
        &self,
        bytes: &[u8],
        source: &Source,
        config: &CapConfig,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<Receipt, CapFailure> {
        let sha = self.archive_cap(bytes)?;
        let refused = |e: CapError| {
            let mut a = entry(&source.name, "refuse", "cap", &sha);
            a.detail = serde_json::json!({"reason": e.to_string(), "bytes": bytes.len()});
            if let Err(err) = self.audit(a) {
                tracing::error!(
                    "the refusal of a CAP document ({sha}) could not be audited: {err}"
                );
            }
            CapFailure::Refused(e)
        };
        let doc = cap::parse(bytes).map_err(&refused)?;
        if !source.senders.is_empty() && !source.senders.contains(&doc.sender) {
            return Err(refused(CapError::Sender(doc.sender.clone())));
        }
        let intake = Intake {
            config,
            rules: &source.rules,
            senders: &source.senders,
            source: &source.name,
            tz,
            now,
        };
        let own = cap::warning::key(&doc.sender, &doc.identifier);
        let r = self.change_audited(|s| {
            // A scoped token: its scope's panels only, and it ends (by
            // reference) only warnings whose panels all lie inside it.
            let inside = |p: &Id| {
                (source.scope.as_deref()).is_none_or(|sc| {
                    s.panels
                        .get(p)
                        .is_some_and(|p| crate::auth::scope::panel_inside(sc, p))
                })
            };
            let panels = s.panels.values().filter(|p| inside(&p.id));
            let known = |id: &Id| {
                let w = s.cap.get(id);
                w.filter(|w| id == &own || w.panels.iter().all(inside))
                    .cloned()
            };
            let decision = cap::decide(&doc, &sha, &intake, panels, &known)
                .map_err(|e| StoreError::from(Invalid::new(e.to_string())))?;
            match decision {
                Decision::Duplicate(id) => {
                    let w = s.cap.get(&id).cloned().expect("a duplicate is known");
                    let mut a = entry(&source.name, "duplicate", "cap", id.as_str());
                    a.detail = serde_json::json!({"identifier": doc.identifier, "document": sha});
                    Ok((
                        Receipt {
                            warning: w,
                            duplicate: true,
                            ended: vec![],
                        },
                        vec![],
                        vec![a],
                    ))
                }
                Decision::Record { warning, end } => {
                    self.record_warning(s, *warning, end, &sha, &source.name, now)
                }
            }
        })?;
        Ok(r)
    }

    /// Applies a new warning: ends the earlier ones it names, deploys it
    /// if its rule says so, and writes it, audited.
    fn record_warning(
        &self,
        s: &mut Snapshot,
        mut warning: Warning,
        end: Vec<(Id, State)>,
        sha: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<(Receipt, Vec<FileOp>, Vec<super::AuditEntry>), StoreError> {
        let mut ops = Vec::new();
        let mut audit = Vec::new();
        let mut ended = Vec::new();
        for (old, state) in end {
            if self.end_warning(
                s,
                &old,
                state,
                Some(&warning.id),
                now,
                source,
                &mut ops,
                &mut audit,
            ) {
                ended.push(old);
            }
        }
        if warning.state == State::Deployed {
            let by = format!("cap:{source}");
            self.deploy_phases(s, &mut warning, &by, &mut ops, &mut audit)?;
        }
        let mut a = entry(source, "receive", "cap", warning.id.as_str());
        a.detail = serde_json::json!({
            "identifier": warning.identifier, "sender": warning.sender,
            "msg_type": warning.msg_type, "document": sha, "rule": warning.rule,
            "action": warning.action, "state": warning.state,
            "panels": warning.panels.len(), "alerts": warning.alerts,
            "ended": ended, "notes": warning.notes,
        });
        audit.insert(0, a);
        s.cap.insert(warning.id.clone(), warning.clone());
        ops.push(FileOp::Write(
            self.warning_path(&warning.id),
            pretty(&warning),
        ));
        Ok((
            Receipt {
                warning,
                duplicate: false,
                ended,
            },
            ops,
            audit,
        ))
    }

    /// An operator deploys a held warning (with their own text, if given).
    /// The earlier warnings it updates end now.
    pub fn deploy_cap(
        &self,
        id: &Id,
        who: &str,
        text: Option<String>,
        config: &CapConfig,
        now: DateTime<Utc>,
    ) -> Result<Warning, StoreError> {
        self.change_audited(|s| {
            let mut w = s.cap.get(id).cloned().ok_or_else(|| not_found("warning", id.as_str()))?;
            w.check_held(now).map_err(|r| StoreError::conflict(r.to_string()))?;
            w.deploy(who, text, now, config.default_duration_s)?;
            let mut ops = Vec::new();
            let mut audit = Vec::new();
            if w.msg_type == cap::MsgType::Update {
                for old in w.references.clone() {
                    self.end_warning(s, &old, State::Replaced, Some(&w.id), now, who, &mut ops, &mut audit);
                }
            }
            self.deploy_phases(s, &mut w, who, &mut ops, &mut audit)?;
            let mut a = entry(who, "deploy", "cap", id.as_str());
            a.detail = serde_json::json!({"alerts": w.alerts, "panels": w.panels.len(), "text_source": w.text_source});
            audit.insert(0, a);
            s.cap.insert(w.id.clone(), w.clone());
            ops.push(FileOp::Write(self.warning_path(&w.id), pretty(&w)));
            Ok((w, ops, audit))
        })
    }

    /// An operator dismisses a held warning.
    pub fn dismiss_cap(
        &self,
        id: &Id,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Warning, StoreError> {
        self.change_audited(|s| {
            let mut w = s
                .cap
                .get(id)
                .cloned()
                .ok_or_else(|| not_found("warning", id.as_str()))?;
            w.dismiss(who, now)
                .map_err(|r| StoreError::conflict(r.to_string()))?;
            s.cap.insert(w.id.clone(), w.clone());
            let ops = vec![FileOp::Write(self.warning_path(&w.id), pretty(&w))];
            Ok((w, ops, vec![entry(who, "dismiss", "cap", id.as_str())]))
        })
    }

    /// Marks an earlier warning ended and cancels its alerts. Returns
    /// whether it was still live or held (an ended one stays as it was).
    #[allow(clippy::too_many_arguments)]
    fn end_warning(
        &self,
        s: &mut Snapshot,
        id: &Id,
        state: State,
        by_warning: Option<&Id>,
        now: DateTime<Utc>,
        who: &str,
        ops: &mut Vec<FileOp>,
        audit: &mut Vec<super::AuditEntry>,
    ) -> bool {
        let Some(mut old) = s.cap.get(id).cloned() else {
            return false;
        };
        if !matches!(old.state, State::Deployed | State::Held) {
            return false;
        }
        for aid in &old.alerts {
            if let Some(a) = s.alerts.get_mut(aid) {
                if a.cancelled_at.is_none() && a.ends_at > now {
                    a.cancel(now);
                    ops.push(FileOp::Write(self.alert_path(aid), pretty(&*a)));
                    audit.push(entry(who, "cancel", "alert", aid.as_str()));
                }
            }
        }
        old.state = state;
        old.replaced_by = by_warning.cloned();
        old.decided_at = Some(now);
        let mut a = entry(who, cap::warning::state_name(state), "cap", id.as_str());
        a.detail = serde_json::json!({"by": by_warning});
        audit.push(a);
        ops.push(FileOp::Write(self.warning_path(id), pretty(&old)));
        s.cap.insert(id.clone(), old);
        true
    }

    /// One alert per phase of a warning being deployed, aimed at its panels.
    fn deploy_phases(
        &self,
        s: &mut Snapshot,
        w: &mut Warning,
        who: &str,
        ops: &mut Vec<FileOp>,
        audit: &mut Vec<super::AuditEntry>,
    ) -> Result<(), StoreError> {
        let matched: BTreeSet<&Id> = w.panels.iter().collect();
        let targets = cover(&matched, s);
        for p in &w.phases {
            let id = std::iter::repeat_with(|| Id::for_alert(p.from, rand::random()))
                .take(ID_DRAWS)
                .find(|id| !s.alerts.contains_key(id))
                .ok_or_else(|| StoreError::conflict(crate::i18n::Reason::NoFreeAlertId))?;
            let body = AlertBody {
                text: p.text.clone(),
                targets: targets.clone(),
                duration_s: (p.until - p.from).num_seconds().max(1) as u32,
            };
            let a = Alert::for_warning(id, body, who, p.from, &*s)?;
            let mut e = entry(who, "create", "alert", a.id.as_str());
            e.detail = serde_json::json!({"text": a.body.text, "targets": a.body.targets, "from": a.created_at, "ends_at": a.ends_at, "warning": w.id});
            audit.push(e);
            ops.push(FileOp::Write(self.alert_path(&a.id), pretty(&a)));
            w.alerts.push(a.id.clone());
            s.alerts.insert(a.id.clone(), a);
        }
        Ok(())
    }
}

/// The fewest targets that name exactly the matched panels: `all` when
/// every panel matched, whole groups whose every panel matched, and the
/// remaining panels by id. (A warning for a province of 10,000 signs is
/// a few targets, not 10,000.)
pub fn cover(matched: &BTreeSet<&Id>, s: &Snapshot) -> Vec<Target> {
    if matched.len() == s.panels.len() {
        return vec![Target::All];
    }
    let mut groups: BTreeMap<&str, (usize, bool)> = BTreeMap::new();
    for p in s.panels.values() {
        let inside = matched.contains(&p.id);
        for g in &p.groups {
            let e = groups.entry(g.as_str()).or_insert((0, true));
            e.0 += 1;
            e.1 &= inside;
        }
    }
    let mut whole: Vec<(&str, usize)> = groups
        .into_iter()
        .filter(|(_, (_, all_in))| *all_in)
        .map(|(g, (n, _))| (g, n))
        .collect();
    whole.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut covered: BTreeSet<&Id> = BTreeSet::new();
    let mut out = Vec::new();
    for (g, _) in whole {
        let members: Vec<&Id> = s
            .panels
            .values()
            .filter(|p| p.groups.iter().any(|pg| pg == g))
            .map(|p| &p.id)
            .collect();
        if members.iter().any(|m| !covered.contains(m)) {
            covered.extend(members);
            out.push(Target::Group(g.to_string()));
        }
    }
    out.extend(
        matched
            .iter()
            .filter(|id| !covered.contains(*id))
            .map(|id| Target::Panel((*id).clone())),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_cap_json_keeps_the_last_good_one_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let f = ConfigFile::open(dir.path());
        assert_eq!(*f.current(), CapConfig::default(), "no file: the defaults");
        assert_eq!(f.problem(), None);
        let good = r#"{"rule_sets": {"default": [{"action": "auto"}]}}"#;
        std::fs::write(f.path(), good).unwrap();
        assert_eq!(
            f.current().rule_set("default").unwrap()[0].action,
            cap::config::Action::Auto
        );
        // A mistake of syntax, then of meaning: the good one stays in force.
        std::fs::write(
            f.path(),
            r#"{"rule_sets": {"default": [{"action": "auto"}]"#,
        )
        .unwrap();
        assert_eq!(
            f.current().rule_set("default").unwrap()[0].action,
            cap::config::Action::Auto
        );
        assert!(
            f.problem().unwrap().to_string().contains("line 1"),
            "{:?}",
            f.problem()
        );
        std::fs::write(
            f.path(),
            r#"{"post": {"rules": "missing-set"}, "feeds": []}"#,
        )
        .unwrap();
        assert_eq!(
            f.current().rule_set("default").unwrap()[0].action,
            cap::config::Action::Auto
        );
        assert!(
            f.problem().unwrap().to_string().contains("\"missing-set\""),
            "{:?}",
            f.problem()
        );
        std::fs::write(f.path(), good.replace("auto", "log")).unwrap();
        assert_eq!(
            f.current().rule_set("default").unwrap()[0].action,
            cap::config::Action::Log
        );
        assert_eq!(f.problem(), None);
    }
}
