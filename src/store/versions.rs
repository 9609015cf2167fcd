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
//! At most [`KEEP_VERSIONS`] versions of a message are kept, and the last
//! approved one beside them: an edit removes the version that falls out of
//! the window, unless it is the last approved (the approval desk diffs
//! against it). The message file stays the authority for the current
//! version: a crash between the two files, or a data directory from before
//! versions were kept, shows the current version from the message itself.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::{entry, not_found, pretty, FileOp, Store, StoreError};
use crate::domain::{Id, Message, MessageVersion};
use crate::fsio;

/// How many versions of a message are kept (besides the last approved).
pub const KEEP_VERSIONS: u64 = 50;

impl Store {
    /// Where version `n` of message `id` is kept.
    pub fn version_path(&self, id: &Id, n: u64) -> PathBuf {
        self.versions_dir(id).join(format!("{n}.json"))
    }

    fn versions_dir(&self, id: &Id) -> PathBuf {
        self.root.join("state/versions").join(id.as_str())
    }

    /// Deletes what a crash left of version writes that never reached
    /// their rename (nobody lists these directories at start).
    pub(super) fn remove_version_temps(&self) {
        let Ok(messages) = std::fs::read_dir(self.root.join("state/versions")) else {
            return;
        };
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

    /// The file operations that record `m`'s current version, and drop
    /// what falls out of the kept window. `last_approved_before` is the
    /// message's last approved version before this change.
    pub(super) fn version_ops(
        &self,
        m: &Message,
        last_approved_before: Option<u64>,
    ) -> Vec<FileOp> {
        let mut ops = vec![FileOp::Write(
            self.version_path(&m.id, m.version),
            pretty(&m.as_version()),
        )];
        let oldest_kept = m.version.saturating_sub(KEEP_VERSIONS - 1).max(1);
        let dropped = [
            // Out of the window with this version …
            m.version.checked_sub(KEEP_VERSIONS),
            // … or no longer the last approved, and out of it already.
            last_approved_before.filter(|a| Some(*a) != m.last_approved),
        ];
        for v in dropped.into_iter().flatten() {
            if v >= 1 && v < oldest_kept && Some(v) != m.last_approved {
                ops.push(FileOp::Remove(self.version_path(&m.id, v)));
            }
        }
        ops
    }

    /// The removal of every kept version of message `id` (it is deleted).
    pub(super) fn forget_versions(&self, id: &Id) -> Vec<FileOp> {
        let dir = self.versions_dir(id);
        match self.documents_in(&dir) {
            Ok(docs) => docs
                .into_iter()
                .map(|(n, _)| FileOp::Remove(dir.join(format!("{n}.json"))))
                .collect(),
            Err(e) => {
                tracing::error!("the versions of {id} are left behind: {e}");
                Vec::new()
            }
        }
    }

    /// The kept versions of message `id`, newest first: at most
    /// [`KEEP_VERSIONS`] and the last approved one. The current version
    /// is always the message as it stands.
    pub fn message_versions(&self, id: &Id) -> Result<Vec<MessageVersion>, StoreError> {
        let m = self
            .snapshot()
            .messages
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("message", id.as_str()))?;
        let mut out: Vec<MessageVersion> = self
            .documents_in(&self.versions_dir(id))?
            .into_iter()
            .filter_map(|(name, bytes)| {
                let n: u64 = name.parse().ok()?;
                let v: MessageVersion = serde_json::from_slice(&bytes).ok()?;
                (v.version == n && n < m.version).then_some(v)
            })
            .collect();
        out.push(m.as_version());
        out.sort_by_key(|v| std::cmp::Reverse(v.version));
        let oldest_kept = m.version.saturating_sub(KEEP_VERSIONS - 1);
        out.retain(|v| v.version >= oldest_kept || Some(v.version) == m.last_approved);
        Ok(out)
    }

    /// One kept version of message `id`, if it is kept.
    pub fn message_version(&self, id: &Id, n: u64) -> Result<Option<MessageVersion>, StoreError> {
        Ok(self
            .message_versions(id)?
            .into_iter()
            .find(|v| v.version == n))
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
    fn versions_and_rejections_survive_a_reopen_and_stay_bounded() {
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
        // Many edits later: the last KEEP_VERSIONS and the last approved.
        for i in 3..=60 {
            s.edit_message(&m.id, body(&format!("bản {i}")), "lan", t(i))
                .unwrap();
        }
        let kept: Vec<u64> = s
            .message_versions(&m.id)
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect();
        let mut want: Vec<u64> = (11..=60).rev().collect();
        want.push(2);
        assert_eq!(kept, want);
        let mut on_disk = vec![2];
        on_disk.extend(11..=60);
        assert_eq!(kept_on_disk(&s, &m.id), on_disk);
        // A new approval lets the old approved version go.
        s.approve_message(&m.id, "hung", None, t(61), Policy::default())
            .unwrap();
        assert_eq!(kept_on_disk(&s, &m.id), (11..=60).collect::<Vec<_>>());
        assert_eq!(
            s.message_version(&m.id, 60)
                .unwrap()
                .unwrap()
                .approved_by
                .as_deref(),
            Some("hung")
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
