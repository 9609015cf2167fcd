//! Durable file writes: temp file, fsync, rename, fsync the directory.
//!
//! After [`write_atomic`] returns Ok, the new content survives a crash or
//! SIGKILL, and a reader never sees a half-written file: it sees the old
//! content or the new one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `bytes` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", rand::random::<u32>()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
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

/// Removes `path` durably; a missing file is not an error.
pub fn remove_durable(path: &Path) -> io::Result<()> {
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
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Appends lines and fsyncs them (the audit trail: a line that must not
/// be lost). Returns the file's length before, for [`truncate_durable`]
/// to take them back.
pub fn append_lines(path: &Path, lines: &[String]) -> io::Result<u64> {
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
    let written = f.write_all(&buf).and_then(|()| f.sync_data());
    if let Err(e) = written {
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

/// Cuts `path` back to `len` bytes, durably.
pub fn truncate_durable(path: &Path, len: u64) -> io::Result<()> {
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(len)?;
    f.sync_data()
}

/// Leftover temp files from a crash mid-write: never the truth, safe to delete.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Deletes the temp files a crash left behind while [`write_atomic`] was
/// replacing `path` (`.{name}.{random}.tmp` next to it). Files in loaded
/// directories are cleaned as they are read; this is for single files
/// (`state/seq.json`, `secrets/tokens.json`) whose directory nobody lists.
pub fn remove_stale_temps(path: &Path) {
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
}
