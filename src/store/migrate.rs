//! `bangtin store migrate`: a file-store data directory into PostgreSQL
//! ([`into_postgres`]) and back out ([`out_of_postgres`]); the files stay
//! the git-able export of a store kept in PostgreSQL. The way out is all
//! or nothing: written beside the target directory, then renamed to it.
//!
//! What moves: every document of the layout (content, schedules, alerts,
//! message versions, CAP warnings) as a row, images and CAP documents as
//! blobs, the audit trail, the frame sequence marks, the shared files
//! ([`super::shared_files`]) and tokens' last uses (in the token file on
//! the file store, in the table `token_uses` on PostgreSQL; the newer
//! wins when both have one), and proof of play with the fleet's online
//! samples (`state/plays.redb` on the file store, the tables `plays` and
//! `online_samples` on PostgreSQL). What stays with a server: alarm
//! incidents, a bulk import's journal.
//!
//! The way back writes each document as the store writes it (its own type,
//! pretty-printed): a file the store wrote comes back byte for byte; a
//! file edited by hand comes back with the same content in the store's
//! layout and key order (PostgreSQL's jsonb keeps values, not spacing or
//! key order). `seq.json` comes back with its log folded in.

use std::path::{Path, PathBuf};

use serde::{de::DeserializeOwned, Serialize};

use chrono::{DateTime, Utc};

use super::pg::{Postgres, Row};
use super::plays::{Plays, PlaysError};
use super::seq::SeqAllocator;
use super::{pretty, AuditEntry, StoreError};
use crate::fsio;

/// The directories whose files are documents and blobs.
const MOVED: [&str; 5] = [
    "content",
    "schedules",
    "state/alerts",
    "state/versions",
    "state/cap",
];

/// What a migration moved.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Moved {
    /// JSON documents (panels, messages, campaigns, alerts, versions, …).
    pub documents: usize,
    /// Binary files (images, CAP documents).
    pub blobs: usize,
    /// Audit lines.
    pub audit: usize,
    /// Panels' frame-seq high-water marks.
    pub seq_marks: usize,
    /// Files both servers share (tokens, accounts, keys, settings).
    pub shared: usize,
    /// Proof-of-play rows.
    pub plays: usize,
    /// Samples of the fleet's online count.
    pub online: usize,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::io(path, e)
}

/// Every regular file under `dir`, temp files left out.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), StoreError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if !fsio::is_temp_name(&e.file_name().to_string_lossy()) {
            out.push(path);
        }
    }
    Ok(())
}

/// Moves the data directory `root` into the empty store at `url`.
pub fn into_postgres(root: &Path, url: &str) -> Result<Moved, StoreError> {
    let db = std::sync::Arc::new(Postgres::open(url)?);
    let all = db.read_everything()?;
    if !all.documents.is_empty() || !all.blobs.is_empty() {
        return Err(StoreError::conflict(crate::i18n::Reason::StoreNotEmpty));
    }
    let mut files = Vec::new();
    for d in MOVED {
        walk(&root.join(d), &mut files)?;
    }
    let ops: Vec<super::FileOp> = files
        .iter()
        .map(|p| {
            Ok(super::FileOp::Write(
                p.clone(),
                std::fs::read(p).map_err(io(p))?,
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    let refs: Vec<&super::FileOp> = ops.iter().collect();
    let rows = super::pg::rows(root, &refs)?;
    let audit_path = super::audit_file(root);
    let audit: Vec<AuditEntry> = match std::fs::read_to_string(&audit_path) {
        Ok(text) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                super::parse_json(&audit_path, l.as_bytes())
                    .map_err(|p| StoreError::Corrupt(vec![p]))
            })
            .collect::<Result<_, _>>()?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(StoreError::io(&audit_path, e)),
    };
    // Proof of play before the documents: a migration refused halfway
    // (a server still holding the file) can be run again, which it cannot
    // once the documents are in (and a row moved twice is the same row).
    let (plays, online) = carry_plays(
        (root.join("state/plays.redb").exists())
            .then(|| Plays::open(&root.join("state/plays.redb")))
            .transpose(),
        || Plays::on_postgres(url),
    )?;
    db.commit(all.version, &rows, &audit).map_err(|e| match e {
        super::pg::CommitError::Stale => StoreError::conflict(crate::i18n::Reason::StoreNotEmpty),
        super::pg::CommitError::Failed(e) | super::pg::CommitError::Unknown(e) => e,
    })?;
    let seq_path = super::seq_marks_file(root);
    let marks = SeqAllocator::open(seq_path.clone())
        .map_err(io(&seq_path))?
        .marks();
    let refs: Vec<(&str, u32)> = marks.iter().map(|(p, m)| (p.as_str(), *m)).collect();
    db.raise_seq_marks(&refs, None)?;
    let shared = super::shared_files::SharedFiles::new(
        db.clone(),
        super::shared_files::default_files(root, &super::tokens_file(root)),
    );
    let offered = shared.offer_all()?;
    carry_token_uses_in(root, &db)?;
    Ok(Moved {
        documents: rows
            .iter()
            .filter(|r| matches!(r, Row::Document { .. }))
            .count(),
        blobs: rows
            .iter()
            .filter(|r| matches!(r, Row::Blob { .. }))
            .count(),
        audit: audit.len(),
        seq_marks: marks.len(),
        shared: offered,
        plays,
        online,
    })
}

/// A document as the store writes it: through its own type where the
/// directory names one, else as it is.
fn as_the_store_writes(kind: &str, body: &str) -> Result<Vec<u8>, serde_json::Error> {
    fn typed<T: DeserializeOwned + Serialize>(body: &str) -> Result<Vec<u8>, serde_json::Error> {
        Ok(pretty(&serde_json::from_str::<T>(body)?))
    }
    use crate::domain::{Alert, Asset, Campaign, Group, Message, MessageVersion, Panel};
    match kind {
        "content/panels" => typed::<Panel>(body),
        "content/messages" => typed::<Message>(body),
        "content/groups" => typed::<Group>(body),
        "content/assets" => typed::<Asset>(body),
        "schedules" => typed::<Campaign>(body),
        "state/alerts" => typed::<Alert>(body),
        super::cap::WARNINGS_DIR => typed::<crate::cap::Warning>(body),
        k if k.starts_with("state/versions/") => typed::<MessageVersion>(body),
        _ => typed::<serde_json::Value>(body),
    }
}

/// Writes the store at `url` out as the data directory `root`, which must
/// be empty or not exist yet: all of it or nothing. The files are written
/// into a sibling directory, which is renamed to `root` once complete (a
/// failure halfway removes it and leaves `root` as it was).
pub fn out_of_postgres(url: &str, root: &Path) -> Result<Moved, StoreError> {
    if std::fs::read_dir(root).is_ok_and(|mut rd| rd.next().is_some()) {
        return Err(StoreError::conflict(crate::i18n::Reason::ExportNotEmpty {
            dir: root.display().to_string(),
        }));
    }
    let name = root
        .file_name()
        .map_or("export".into(), |n| n.to_string_lossy());
    let parent = root.parent().filter(|p| !p.as_os_str().is_empty());
    let parent = parent.unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let partial = parent.join(format!(".{name}.partial-{}", std::process::id()));
    // A run killed halfway (in a container the next may have the same
    // pid) left files that must not join this export.
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    let written = write_export(url, &partial);
    let moved = written.and_then(|moved| {
        std::fs::rename(&partial, root).map_err(io(root))?;
        Ok(moved)
    });
    if moved.is_err() {
        let _ = std::fs::remove_dir_all(&partial);
        return moved;
    }
    // Renamed: the export is whole. A failed flush of the parent is worth
    // a warning, not a report that the export failed.
    if let Err(e) = fsio::sync_dir(parent) {
        tracing::warn!(
            "the export is complete but {} was not flushed: {e}",
            parent.display()
        );
    }
    moved
}

/// [`out_of_postgres`]'s files, written under `root`.
fn write_export(url: &str, root: &Path) -> Result<Moved, StoreError> {
    let db = std::sync::Arc::new(Postgres::open(url)?);
    let all = db.read_everything()?;
    let mut moved = Moved::default();
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for (kind, id, body) in &all.documents {
        let path = root.join(kind).join(format!("{id}.json"));
        let bytes = as_the_store_writes(kind, body).map_err(|e| StoreError::Io {
            path: path.clone(),
            source: e.into(),
        })?;
        files.push((path, bytes));
        moved.documents += 1;
    }
    for (kind, name, bytes) in db.blobs()? {
        files.push((root.join(kind).join(name), bytes));
        moved.blobs += 1;
    }
    let audit = db.audit_all()?;
    if !audit.is_empty() {
        let mut text = String::new();
        for a in &audit {
            text.push_str(&serde_json::to_string(a).expect("audit entry serializes"));
            text.push('\n');
        }
        files.push((super::audit_file(root), text.into_bytes()));
        moved.audit = audit.len();
    }
    let marks: std::collections::BTreeMap<String, u32> = db.seq_marks()?.into_iter().collect();
    if !marks.is_empty() {
        moved.seq_marks = marks.len();
        files.push((
            super::seq_marks_file(root),
            serde_json::to_vec(&marks).expect("serializes"),
        ));
    }
    for (path, bytes) in &files {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        fsio::write_atomic(path, bytes).map_err(io(path))?;
    }
    let shared = super::shared_files::SharedFiles::new(
        db.clone(),
        super::shared_files::default_files(root, &super::tokens_file(root)),
    );
    moved.shared = shared.take_all()?;
    carry_token_uses_out(&db, root)?;
    let file = root.join("state/plays.redb");
    (moved.plays, moved.online) =
        carry_plays(Plays::on_postgres(url).map(Some), || Plays::open(&file))?;
    Ok(moved)
}

/// Proof of play and the online samples from `from` (none: nothing to
/// move) into `to`, opened only when there is something; (plays, samples).
fn carry_plays<T: std::borrow::Borrow<Plays>>(
    from: Result<Option<Plays>, PlaysError>,
    to: impl FnOnce() -> Result<T, PlaysError>,
) -> Result<(usize, usize), StoreError> {
    let failed = |e: PlaysError| StoreError::Io {
        path: PathBuf::from("state/plays.redb"),
        source: std::io::Error::other(e),
    };
    let Some(from) = from.map_err(failed)? else {
        return Ok((0, 0));
    };
    let (first, last) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    let samples = from
        .online_between(first, last, usize::MAX)
        .map_err(failed)?;
    if samples.is_empty() && from.query(first, last, None, 1).map_err(failed)?.is_empty() {
        return Ok((0, 0));
    }
    let to = to().map_err(failed)?;
    let to = to.borrow();
    let plays = from
        .each_chunk(PLAYS_CHUNK, |rows| to.insert(rows))
        .map_err(failed)?;
    for chunk in samples.chunks(PLAYS_CHUNK) {
        to.record_online_all(chunk).map_err(failed)?;
    }
    Ok((plays, samples.len()))
}

/// A server that kept proof of play in its own `file` (`state/plays.redb`)
/// before it moved to the PostgreSQL store: its rows and samples go
/// `into` the database, once, and the file is renamed `plays.redb.moved`,
/// so the reports keep what was recorded before (a crash halfway moves
/// them again at the next start: a row already there is the same row).
/// (plays, samples) moved.
pub fn adopt_local_plays(file: &Path, into: &Plays) -> Result<(usize, usize), StoreError> {
    if !file.exists() {
        return Ok((0, 0));
    }
    let moved = carry_plays(Plays::open(file).map(Some), || Ok(into))?;
    let done = file.with_extension("redb.moved");
    std::fs::rename(file, &done).map_err(io(file))?;
    Ok(moved)
}

/// Proof-of-play rows moved per transaction.
const PLAYS_CHUNK: usize = 20_000;

/// Tokens' last uses, which the file store keeps in the token file, into
/// the table PostgreSQL keeps them in (the newer wins). A token file that
/// does not parse moves as it is, without them (logged).
fn carry_token_uses_in(root: &Path, db: &Postgres) -> Result<(), StoreError> {
    let path = super::tokens_file(root);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(());
    };
    match super::tokens::last_uses_in(&bytes) {
        Ok(uses) if !uses.is_empty() => db.note_token_uses(&uses),
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(path = %path.display(), "tokens' last uses not moved: {e}");
            Ok(())
        }
    }
}

/// Tokens' last uses, from PostgreSQL's table into the exported token
/// file (the newer of the two wins). A token file that does not parse
/// is left as it is (logged).
fn carry_token_uses_out(db: &Postgres, root: &Path) -> Result<(), StoreError> {
    let uses: std::collections::HashMap<_, _> = db.token_uses()?.into_iter().collect();
    let path = super::tokens_file(root);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(());
    };
    match super::tokens::with_last_uses(&bytes, &uses) {
        Ok(Some(next)) => fsio::write_secret(&path, &next).map_err(io(&path)),
        Ok(None) => Ok(()),
        Err(e) => {
            tracing::warn!(path = %path.display(), "tokens' last uses not written: {e}");
            Ok(())
        }
    }
}
