//! Durable file writes: temp file, fsync, rename, fsync the directory.
//!
//! After [`write_atomic`] returns Ok, the new content survives a crash or
//! SIGKILL, and a reader never sees a half-written file: it sees the old
//! content or the new one.
//!
//! This module knows files, not layouts: the store (which owns the data
//! directory), the reference controller (`--state DIR`) and the CLI (`keys
//! generate`) pass it the paths.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes` atomically and durably.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, bytes, &OpenOptions::new())
}

/// [`write_atomic`] for a secret (a key, password hashes): readable by
/// the owner only from its first byte on, also after a crash (the temp
/// file is created with mode 600; on other systems, as `write_atomic`).
pub(crate) fn write_secret(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    write_atomic_with(path, bytes, &options)
}

fn write_atomic_with(path: &Path, bytes: &[u8], options: &OpenOptions) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    fs::create_dir_all(dir)?;
    let tmp = temp_path(path)?;
    let result = (|| {
        let mut f = options.clone().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A fresh temp file name next to `path`: `.{name}.{random}.tmp`.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    Ok(dir.join(format!(".{name}.{}.tmp", rand::random::<u32>())))
}

/// Removes `path` durably; a missing file is not an error.
pub(crate) fn remove_durable(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Makes a directory's entries (creations, renames, removals) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Appends lines and fsyncs them (the audit trail: a line that must not
/// be lost). Returns the file's length before, for [`truncate_durable`]
/// to take them back.
pub(crate) fn append_lines(path: &Path, lines: &[String]) -> io::Result<u64> {
    let (f, before, existed) = append_unsynced(path, lines)?;
    if let Err(e) = f.sync_data() {
        // Leave no partial line behind.
        let _ = f.set_len(before).and_then(|()| f.sync_data());
        return Err(e);
    }
    if !existed {
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
    }
    Ok(before)
}

/// Appends lines without syncing them: the open file, its length before
/// and whether it existed. A failed write leaves no partial line.
fn append_unsynced(path: &Path, lines: &[String]) -> io::Result<(File, u64, bool)> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let existed = path.exists();
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    let before = f.metadata()?.len();
    let mut buf = Vec::new();
    for line in lines {
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
    }
    if let Err(e) = f.write_all(&buf) {
        let _ = f.set_len(before).and_then(|()| f.sync_data());
        return Err(e);
    }
    Ok((f, before, existed))
}

/// [`append_lines`] then [`write_many`], with one round of fsyncs fewer:
/// the lines are written first and fsynced side by side with the temp
/// files, all before the first rename, so a file changed on disk always
/// has its line (the audit trail's rule) and a write waits for two rounds
/// of device flushes, not three. After an error the lines are taken back
/// (renames done before it stay, as in [`write_many`]).
pub(crate) fn write_many_logged(
    log: &Path,
    lines: &[String],
    ops: &[FileChange],
) -> io::Result<()> {
    let (f, before, existed) = append_unsynced(log, lines)?;
    let mut changed = false;
    let result = if existed {
        write_many_with(ops, Some(&f), &mut changed)
    } else {
        // A new log's name must be durable before any change it records.
        f.sync_data()
            .and_then(|()| log.parent().map_or(Ok(()), sync_dir))
            .and_then(|()| write_many_with(ops, None, &mut changed))
    };
    // Lines are taken back only while no file changed: a change on disk
    // keeps its line even when the write as a whole failed.
    if result.is_err() && !changed {
        if let Err(e) = f.set_len(before).and_then(|()| f.sync_data()) {
            tracing::error!(path = %log.display(), "lines of a write that failed could not be taken back: {e}");
        }
    }
    result
}

/// Cuts `path` back to `len` bytes, durably.
pub(crate) fn truncate_durable(path: &Path, len: u64) -> io::Result<()> {
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(len)?;
    f.sync_data()
}

/// Writes many files as one: after Ok, all of them are durable; after an
/// error or a crash, either none of them changed or, if the crash came
/// after the commit point, [`finish_batch`] on the same `journal` (run at
/// the next start) completes all of them.
///
/// Cost: one syncfs for the lot instead of an fsync per file (on a busy
/// disk an fsync each is milliseconds; 10,000 of them are a minute):
/// temp files are written unsynced, the filesystem is synced once, then
/// `journal` (the list of renames) is written atomically — the commit
/// point — and the renames are done, made durable and the journal removed.
pub(crate) fn write_batch(journal: &Path, files: &[(PathBuf, Vec<u8>)]) -> io::Result<()> {
    let mut renames: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(files.len());
    let staged = (|| {
        for (path, bytes) in files {
            let tmp = temp_path(path)?;
            renames.push((tmp.clone(), path.clone()));
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(bytes)?;
        }
        sync_filesystem(journal)?;
        let list = serde_json::to_vec(&renames).map_err(io::Error::other)?;
        write_atomic(journal, &list)
    })();
    if let Err(e) = staged {
        for (tmp, _) in &renames {
            let _ = fs::remove_file(tmp);
        }
        return Err(e);
    }
    apply_renames(journal, &renames)
}

/// Completes a [`write_batch`] that crashed after its commit point; does
/// nothing when `journal` does not exist. Run it before anything removes
/// leftover temp files.
pub(crate) fn finish_batch(journal: &Path) -> io::Result<()> {
    let list = match fs::read(journal) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let renames: Vec<(PathBuf, PathBuf)> = serde_json::from_slice(&list).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", journal.display()),
        )
    })?;
    // Renames done before the crash have no temp file left: skip them.
    let pending: Vec<(PathBuf, PathBuf)> =
        renames.into_iter().filter(|(t, _)| t.exists()).collect();
    apply_renames(journal, &pending)
}

fn apply_renames(journal: &Path, renames: &[(PathBuf, PathBuf)]) -> io::Result<()> {
    let mut dirs = std::collections::BTreeSet::new();
    for (tmp, path) in renames {
        fs::rename(tmp, path)?;
        if let Some(d) = path.parent() {
            dirs.insert(d.to_path_buf());
        }
    }
    for d in dirs {
        sync_dir(&d)?;
    }
    remove_durable(journal)
}

/// Flushes everything written to the filesystem that holds `near` (or its
/// directory) to disk.
fn sync_filesystem(near: &Path) -> io::Result<()> {
    let dir = near
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    fs::create_dir_all(dir)?;
    rustix::fs::syncfs(File::open(dir)?)?;
    Ok(())
}

/// Most threads [`write_many`] syncs files with at once.
const SYNC_THREADS: usize = 16;

/// A file to replace with these bytes, or (`None`) to remove.
pub(crate) type FileChange<'a> = (&'a Path, Option<&'a [u8]>);

/// Replaces (`Some(bytes)`) and removes (`None`) many files, in order, as
/// durably as [`write_atomic`] and [`remove_durable`] one by one, for
/// about the price of one: the temp files are fsynced side by side (the
/// filesystem's journal commits concurrent fsyncs together; one after
/// another, each waits for its own commit), then renamed, then each
/// directory is fsynced once. This is the store's group commit.
///
/// After an error no temp file is left; renames done before it stay.
pub(crate) fn write_many(ops: &[FileChange]) -> io::Result<()> {
    write_many_with(ops, None, &mut false)
}

/// [`write_many`], `also` fsynced beside the temp files; `changed` is set
/// once the first file is renamed or removed.
fn write_many_with(ops: &[FileChange], also: Option<&File>, changed: &mut bool) -> io::Result<()> {
    let mut staged: Vec<(PathBuf, File)> = Vec::new();
    let result = (|| {
        for (path, bytes) in ops {
            let Some(bytes) = bytes else { continue };
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            let tmp = temp_path(path)?;
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            staged.push((tmp, f.try_clone()?));
            f.write_all(bytes)?;
        }
        sync_side_by_side(staged.iter().map(|(_, f)| f).chain(also).collect())?;
        let mut dirs = std::collections::BTreeSet::new();
        let mut tmps = staged.iter().map(|(t, _)| t);
        for (path, bytes) in ops {
            match bytes {
                Some(_) => fs::rename(tmps.next().expect("one temp file per write"), path)?,
                None => match fs::remove_file(path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                },
            }
            *changed = true;
            if let Some(d) = path.parent() {
                dirs.insert(d.to_path_buf());
            }
        }
        dirs.iter().try_for_each(|d| sync_dir(d))
    })();
    if result.is_err() {
        for (tmp, _) in &staged {
            let _ = fs::remove_file(tmp);
        }
    }
    result
}

/// fsyncs every file, up to [`SYNC_THREADS`] at a time.
fn sync_side_by_side(files: Vec<&File>) -> io::Result<()> {
    if files.len() <= 1 {
        return files.iter().try_for_each(|f| f.sync_all());
    }
    let per_thread = files.len().div_ceil(SYNC_THREADS);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(per_thread)
            .map(|chunk| s.spawn(move || chunk.iter().try_for_each(|f| f.sync_all())))
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("an fsync thread panicked"))
    })
}

/// Leftover temp files from a crash mid-write: never the truth, safe to delete.
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Deletes the temp files a crash left behind while [`write_atomic`] was
/// replacing `path` (`.{name}.{random}.tmp` next to it). Files in loaded
/// directories are cleaned as they are read; this is for single files
/// whose directory nobody lists.
pub(crate) fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return;
    };
    let prefix = format!(".{name}.");
    let Ok(rd) = fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let n = e.file_name();
        let n = n.to_string_lossy();
        if n.starts_with(&prefix) && is_temp_name(&n) {
            let _ = fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
        remove_durable(&p).unwrap();
        remove_durable(&p).unwrap();
        assert!(!p.exists());
    }

    #[test]
    fn many_files_are_written_and_removed_in_one_go() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("panels/a.json");
        let b = d.path().join("messages/b.json");
        let gone = d.path().join("panels/gone.json");
        write_atomic(&gone, b"old").unwrap();
        write_atomic(&a, b"old").unwrap();
        let never = d.path().join("panels/never.json");
        let ops: Vec<FileChange> = vec![
            (&a, Some(b"new a")),
            (&b, Some(b"new b")),
            (&gone, None),
            (&never, None),
        ];
        write_many(&ops).unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"new a");
        assert_eq!(fs::read(&b).unwrap(), b"new b");
        assert!(!gone.exists());
        for dir in ["panels", "messages"] {
            for e in fs::read_dir(d.path().join(dir)).unwrap() {
                let name = e.unwrap().file_name();
                assert!(!is_temp_name(&name.to_string_lossy()), "{name:?} left");
            }
        }
    }

    #[test]
    fn a_failed_write_many_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.json");
        // A directory where a file should go: its rename fails.
        let blocked = d.path().join("blocked.json");
        fs::create_dir_all(blocked.join("inside")).unwrap();
        let ops: Vec<FileChange> = vec![(&blocked, Some(b"x")), (&a, Some(b"a"))];
        assert!(write_many(&ops).is_err());
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !is_temp_name(n)), "{names:?}");
        assert!(!a.exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_is_never_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("secrets/key.pem");
        write_atomic(&p, b"public once").unwrap();
        write_secret(&p, b"secret").unwrap();
        let mode = fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(fs::read(&p).unwrap(), b"secret");
    }

    #[test]
    fn stale_temps_of_one_file_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("seq.json");
        write_atomic(&p, b"{}").unwrap();
        fs::write(d.path().join(".seq.json.123.tmp"), b"{").unwrap();
        fs::write(d.path().join(".other.json.9.tmp"), b"{").unwrap();
        remove_stale_temps(&p);
        assert!(!d.path().join(".seq.json.123.tmp").exists());
        assert!(d.path().join(".other.json.9.tmp").exists(), "not ours");
        assert_eq!(fs::read(&p).unwrap(), b"{}");
    }

    #[test]
    fn append_adds_lines_and_truncate_takes_them_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log.jsonl");
        assert_eq!(append_lines(&p, &["a".into()]).unwrap(), 0);
        let before = append_lines(&p, &["b".into(), "c".into()]).unwrap();
        assert_eq!(before, 2);
        assert_eq!(fs::read_to_string(&p).unwrap(), "a\nb\nc\n");
        truncate_durable(&p, before).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "a\n");
        assert!(is_temp_name(".a.json.123.tmp"));
        assert!(!is_temp_name("a.json"));
    }

    #[test]
    fn logged_writes_append_their_lines_and_take_them_back_on_failure() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("state/audit.jsonl");
        let a = d.path().join("panels/a.json");
        // A new log, then one that exists (lines synced beside the files).
        write_many_logged(&log, &["one".into()], &[(&a, Some(b"1"))]).unwrap();
        write_many_logged(&log, &["two".into()], &[(&a, Some(b"2"))]).unwrap();
        assert_eq!(fs::read_to_string(&log).unwrap(), "one\ntwo\n");
        assert_eq!(fs::read(&a).unwrap(), b"2");
        // A change that fails leaves neither its line nor a temp file.
        let blocked = d.path().join("panels/blocked.json");
        fs::create_dir_all(blocked.join("inside")).unwrap();
        let ops: Vec<FileChange> = vec![(&blocked, Some(b"x"))];
        assert!(write_many_logged(&log, &["three".into()], &ops).is_err());
        assert_eq!(fs::read_to_string(&log).unwrap(), "one\ntwo\n");
        let names: Vec<_> = fs::read_dir(a.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !is_temp_name(n)), "{names:?}");
        // One that fails after a file was renamed keeps its line: the
        // change on disk is never without it.
        let ops: Vec<FileChange> = vec![(&a, Some(b"3")), (&blocked, Some(b"x"))];
        assert!(write_many_logged(&log, &["four".into()], &ops).is_err());
        assert_eq!(fs::read(&a).unwrap(), b"3");
        assert_eq!(fs::read_to_string(&log).unwrap(), "one\ntwo\nfour\n");
    }

    #[test]
    fn a_batch_is_all_or_nothing_and_completes_after_its_commit_point() {
        let d = tempfile::tempdir().unwrap();
        let journal = d.path().join("state/batch.json");
        let files: Vec<(PathBuf, Vec<u8>)> = (0..5)
            .map(|i| (d.path().join(format!("p/{i}.json")), vec![b'0' + i]))
            .collect();
        fs::create_dir_all(d.path().join("p")).unwrap();
        write_batch(&journal, &files).unwrap();
        assert_eq!(fs::read(d.path().join("p/3.json")).unwrap(), b"3");
        assert!(!journal.exists());
        // A file that cannot be written (its directory is missing): nothing
        // changes, no temp file is left.
        let mut bad = files.clone();
        bad[0].1 = b"new".to_vec();
        bad.push((d.path().join("missing/x.json"), b"x".to_vec()));
        assert!(write_batch(&journal, &bad).is_err());
        assert_eq!(fs::read(d.path().join("p/0.json")).unwrap(), b"0");
        let names: Vec<_> = fs::read_dir(d.path().join("p"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 5, "no temp file left: {names:?}");
        // A crash after the commit point: the journal and temp files are
        // there, one rename done; the next start finishes the rest.
        let t0 = d.path().join("p/.0.json.1.tmp");
        let t1 = d.path().join("p/.1.json.2.tmp");
        fs::write(&t1, b"one").unwrap();
        fs::write(d.path().join("p/0.json"), b"zero").unwrap();
        let list = vec![
            (t0, d.path().join("p/0.json")),
            (t1, d.path().join("p/1.json")),
        ];
        write_atomic(&journal, &serde_json::to_vec(&list).unwrap()).unwrap();
        finish_batch(&journal).unwrap();
        assert_eq!(fs::read(d.path().join("p/0.json")).unwrap(), b"zero");
        assert_eq!(fs::read(d.path().join("p/1.json")).unwrap(), b"one");
        assert!(!journal.exists());
        finish_batch(&journal).unwrap();
    }
}
