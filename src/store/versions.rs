//! Every version of a message, kept with who wrote it and when, and what
//! an approver said of it:
//!
//! ```text
//! DIR/state/versions/{message id}/{version}.json
//! ```
//!
//! Each file is the message as it stood at that version
//! ([`Message::as_version`]), written in the same batch as the message file
//! on every create, edit, approval and rejection (so it is exactly as
//! durable: on disk before the 2xx). A file is made from the message in
//! hand, never read back first, so changes queued together cannot lose one
//! another's versions.
//!
//! Every version is kept, for as long as the message: versions are small
//! text, stay on disk, and are read only when someone asks for a
//! message's history (never held in memory). A deleted message's history
//! is kept too, for administrators, in one file per deletion:
//!
//! ```text
//! DIR/state/deleted-versions/{message id}/{deleted at, ms}.json
//! ```
//!
//! ([`DeletedHistory`]; a new message may take the id again and starts
//! its own history at version 1). The message file stays the authority
//! for the current version: a crash between the two files, or a data
//! directory from before versions were kept, shows the current version
//! from the message itself.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{entry, not_found, pretty, FileOp, Store, StoreError};
use crate::domain::{Id, Message, MessageVersion};
use crate::fsio;

/// The whole history of a message that was deleted, kept for
/// administrators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletedHistory {
    /// The message's id (a later message may have taken it again).
    pub id: Id,
    /// Who deleted it.
    pub deleted_by: String,
    /// When.
    pub deleted_at: DateTime<Utc>,
    /// Every version it had, newest first (the first is the message as it
    /// stood when it was deleted).
    pub versions: Vec<MessageVersion>,
}

impl Store {
    /// Where version `n` of message `id` is kept.
    pub fn version_path(&self, id: &Id, n: u64) -> PathBuf {
        self.versions_dir(id).join(format!("{n}.json"))
    }

    fn versions_dir(&self, id: &Id) -> PathBuf {
        self.root.join("state/versions").join(id.as_str())
    }

    fn deleted_dir(&self, id: &Id) -> PathBuf {
        self.root.join("state/deleted-versions").join(id.as_str())
    }

    /// Deletes what a crash left of version writes that never reached
    /// their rename (nobody lists these directories at start).
    pub(super) fn remove_version_temps(&self) {
        let messages = ["state/versions", "state/deleted-versions"]
            .into_iter()
            .filter_map(|d| std::fs::read_dir(self.root.join(d)).ok())
            .flatten();
        for dir in messages.flatten() {
            let Ok(files) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for f in files.flatten() {
                if fsio::is_temp_name(&f.file_name().to_string_lossy()) {
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
    }

    /// The file operation that records `m`'s current version.
    pub(super) fn version_ops(&self, m: &Message) -> Vec<FileOp> {
        vec![FileOp::Write(
            self.version_path(&m.id, m.version),
            pretty(&m.as_version()),
        )]
    }

    /// Message `m` is deleted by `who` at `at`: its whole history goes
    /// into one [`DeletedHistory`] file, and its version files go.
    pub(super) fn archive_versions(
        &self,
        m: &Message,
        who: &str,
        at: DateTime<Utc>,
    ) -> Vec<FileOp> {
        let dir = self.versions_dir(&m.id);
        let docs = match self.documents_in(&dir) {
            Ok(docs) => docs,
            Err(e) => {
                tracing::error!("the versions of {} are left behind: {e}", m.id);
                return Vec::new();
            }
        };
        let mut ops: Vec<FileOp> = docs
            .iter()
            .map(|(n, _)| FileOp::Remove(dir.join(format!("{n}.json"))))
            .collect();
        let history = DeletedHistory {
            id: m.id.clone(),
            deleted_by: who.to_string(),
            deleted_at: at,
            versions: with_current(m, docs),
        };
        let file = self
            .deleted_dir(&m.id)
            .join(format!("{}.json", at.timestamp_millis()));
        ops.insert(0, FileOp::Write(file, pretty(&history)));
        ops
    }

    /// Every version of message `id`, newest first, read from disk for
    /// this request; the first is always the message as it stands.
    pub fn message_versions(&self, id: &Id) -> Result<Vec<MessageVersion>, StoreError> {
        let m = self
            .snapshot()
            .messages
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("message", id.as_str()))?;
        Ok(with_current(&m, self.documents_in(&self.versions_dir(id))?))
    }

    /// Version `n` of message `id`, if it has one.
    pub fn message_version(&self, id: &Id, n: u64) -> Result<Option<MessageVersion>, StoreError> {
        Ok(self
            .message_versions(id)?
            .into_iter()
            .find(|v| v.version == n))
    }

    /// The histories of the deleted messages that had id `id`, the latest
    /// deletion first (empty when none was deleted).
    pub fn deleted_versions(&self, id: &Id) -> Result<Vec<DeletedHistory>, StoreError> {
        let mut out: Vec<DeletedHistory> = self
            .documents_in(&self.deleted_dir(id))?
            .into_iter()
            .filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok())
            .collect();
        out.sort_by_key(|h| std::cmp::Reverse(h.deleted_at));
        Ok(out)
    }

    /// Sends a message back to its author with a comment
    /// (`Message::reject`; `read` is the version the approver reviewed).
    pub fn reject_message(
        &self,
        id: &Id,
        who: &str,
        read: Option<u64>,
        comment: &str,
        now: DateTime<Utc>,
    ) -> Result<Message, StoreError> {
        self.change_message(id, who, "reject", |m, _| m.reject(who, read, comment, now))
    }
}

/// The versions on disk (`docs`, as [`Store::documents_in`] reads them)
/// before `m`'s own, and `m`'s current version, newest first.
fn with_current(m: &Message, docs: Vec<(String, Vec<u8>)>) -> Vec<MessageVersion> {
    let mut out: Vec<MessageVersion> = docs
        .into_iter()
        .filter_map(|(name, bytes)| {
            let n: u64 = name.parse().ok()?;
            let v: MessageVersion = serde_json::from_slice(&bytes).ok()?;
            (v.version == n && n < m.version).then_some(v)
        })
        .collect();
    out.push(m.as_version());
    out.sort_by_key(|v| std::cmp::Reverse(v.version));
    out
}

/// The audit entry of a message change, with its version and status
/// before and after.
pub(super) fn message_audit(
    who: &str,
    action: &str,
    before: &Message,
    after: &Message,
) -> super::AuditEntry {
    let mut audit = entry(who, action, "message", after.id.as_str());
    audit.detail = serde_json::json!({
        "before": {"version": before.version, "status": before.status},
        "after": {"version": after.version, "status": after.status},
    });
    if let Some(r) = after.rejection.as_ref().filter(|_| action == "reject") {
        audit.detail["comment"] = serde_json::Value::String(r.comment.clone());
    }
    audit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MessageBody, Policy};

    fn body(text: &str) -> MessageBody {
        serde_json::from_value(serde_json::json!({"title": "Đề án 06", "text": text})).unwrap()
    }

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + s, 0).unwrap()
    }

    fn kept_on_disk(s: &Store, id: &Id) -> Vec<u64> {
        let mut v: Vec<u64> = std::fs::read_dir(s.versions_dir(id))
            .unwrap()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_string_lossy()
                    .strip_suffix(".json")?
                    .parse()
                    .ok()
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn every_version_and_rejection_survives_a_reopen_and_a_deletion() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let m = s.create_message(body("bản 1"), "lan", t(0)).unwrap();
        s.reject_message(&m.id, "hung", Some(1), "Sửa giờ", t(1))
            .unwrap();
        s.edit_message(&m.id, body("bản 2"), "lan", t(2)).unwrap();
        s.approve_message(&m.id, "hung", Some(2), t(3), Policy::default())
            .unwrap();
        drop(s);
        let s = Store::open(d.path()).unwrap();
        let v = s.message_versions(&m.id).unwrap();
        assert_eq!(v.iter().map(|v| v.version).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(v[0].approved_by.as_deref(), Some("hung"));
        assert_eq!(v[1].rejection.as_ref().unwrap().comment, "Sửa giờ");
        assert_eq!((v[1].by.as_str(), v[1].at), ("lan", t(0)));
        // Many edits and a new approval later: every version, with who and when.
        for i in 3..=80 {
            s.edit_message(&m.id, body(&format!("bản {i}")), "lan", t(i))
                .unwrap();
        }
        s.approve_message(&m.id, "hung", None, t(81), Policy::default())
            .unwrap();
        let kept = s.message_versions(&m.id).unwrap();
        assert_eq!(
            kept.iter().map(|v| v.version).collect::<Vec<_>>(),
            (1..=80).rev().collect::<Vec<_>>()
        );
        assert_eq!((kept[77].by.as_str(), kept[77].at), ("lan", t(3)));
        assert_eq!(kept_on_disk(&s, &m.id), (1..=80).collect::<Vec<_>>());
        assert_eq!(
            s.message_version(&m.id, 2).unwrap().unwrap().approved_by,
            Some("hung".into())
        );
        // Deleted: the whole history moves to one file for administrators,
        // and a new message under the same id starts its own.
        assert!(s.deleted_versions(&m.id).unwrap().is_empty());
        s.delete_message(&m.id, "admin").unwrap();
        assert!(s.message_versions(&m.id).is_err());
        let again = s
            .insert_message(Some(m.id.clone()), body("tin mới"), "mai", t(90))
            .unwrap();
        assert_eq!(s.message_versions(&again.id).unwrap().len(), 1);
        drop(s);
        let s = Store::open(d.path()).unwrap();
        let gone = s.deleted_versions(&m.id).unwrap();
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].deleted_by, "admin");
        assert_eq!(
            gone[0]
                .versions
                .iter()
                .map(|v| v.version)
                .collect::<Vec<_>>(),
            (1..=80).rev().collect::<Vec<_>>()
        );
        assert_eq!(gone[0].versions[0].approved_by.as_deref(), Some("hung"));
        assert_eq!(
            gone[0].versions[79].rejection.as_ref().unwrap().comment,
            "Sửa giờ"
        );
    }

    /// A version write cut short by a crash leaves a temp file: the next
    /// start deletes it, and keeps the versions.
    #[test]
    fn a_crashed_version_write_leaves_no_temp_after_a_restart() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state/versions/tin-1");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("1.json"), b"{}").unwrap();
        std::fs::write(dir.join(".2.json.123.tmp"), b"{").unwrap();
        let _s = Store::open(d.path()).unwrap();
        assert!(!dir.join(".2.json.123.tmp").exists());
        assert!(dir.join("1.json").exists());
    }
}
