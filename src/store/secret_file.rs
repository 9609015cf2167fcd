//! A small JSON file of hashed secrets under `DIR/secrets/` (API tokens,
//! broker passwords). Only SHA-256 hashes are stored: the secrets are 32
//! random bytes, so there is nothing to guess and a slow password hash
//! would protect nothing. The file is re-read when another process
//! changes it (a CLI command beside a running server) and written
//! atomically, mode 600.

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard};
use std::time::SystemTime;

use rand::RngCore;
use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::shared_files::SharedFiles;
use super::StoreError;
use crate::fsio;

/// 32 random bytes from the OS generator, hex.
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// SHA-256 of a secret (a token or password): what the file stores, in hex.
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `stored` (hex) is `digest`, compared in constant time.
pub fn matches(stored: &str, digest: &[u8; 32]) -> bool {
    let mut s = [0u8; 32];
    hex::decode_to_slice(stored, &mut s).is_ok() && bool::from(s.ct_eq(digest))
}

/// A JSON file of secrets' hashes (tokens, MQTT credentials), held in memory,
/// re-read when changed on disk and written durably on update.
pub struct SecretFile<T> {
    path: PathBuf,
    /// Named in log lines: "token file", "MQTT credentials".
    what: &'static str,
    entries: RwLock<T>,
    /// Modification time of the file as last read or written.
    seen: Mutex<Option<SystemTime>>,
    /// On the PostgreSQL store: the files two servers share, when this is
    /// one of them ([`SecretFile::share`]).
    shared: OnceLock<Arc<SharedFiles>>,
    /// A write here started from another server's change not yet
    /// reloaded: [`SecretFile::reload_if_changed`] says so once.
    taken: AtomicBool,
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl<T: Serialize + DeserializeOwned + Default + Clone> SecretFile<T> {
    /// Reads the file, or starts empty if there is none; a broken file is
    /// an error naming its line and column.
    pub fn open(path: &Path, what: &'static str) -> Result<SecretFile<T>, StoreError> {
        fsio::remove_stale_temps(path);
        let entries = if path.exists() {
            super::read_json(path).map_err(|p| StoreError::Corrupt(vec![p]))?
        } else {
            T::default()
        };
        Ok(SecretFile {
            path: path.to_path_buf(),
            what,
            entries: RwLock::new(entries),
            seen: Mutex::new(mtime(path)),
            shared: OnceLock::new(),
            taken: AtomicBool::new(false),
        })
    }

    /// On the PostgreSQL store: writes go through the database from now
    /// on ([`SharedFiles::write`]), if this file is one that servers
    /// share. Returns whether it is.
    pub fn share(&self, files: &Arc<SharedFiles>) -> bool {
        files.name_of(&self.path).is_some() && self.shared.set(files.clone()).is_ok()
    }

    /// Re-reads the file when someone else changed it. A broken file is
    /// reported and the entries in memory stay as they were. Returns
    /// whether the entries were replaced.
    ///
    /// Lock order, here as in [`SecretFile::update`]: `entries`, then
    /// `seen`. (Taking `seen` first deadlocked against a write at the
    /// same moment.)
    pub fn reload_if_changed(&self) -> bool {
        if self.taken.swap(false, Ordering::SeqCst) {
            return true;
        }
        let unchanged = mtime(&self.path) == *self.seen.lock().expect("secrets lock");
        if unchanged {
            return false;
        }
        let mut entries = self.entries.write().expect("secrets lock");
        let mut seen = self.seen.lock().expect("secrets lock");
        // Again under the locks: a write may have happened meanwhile.
        let now = mtime(&self.path);
        if now == *seen {
            return false;
        }
        *seen = now;
        if now.is_none() {
            return false;
        }
        match super::read_json(&self.path) {
            Ok(read) => {
                *entries = read;
                tracing::info!(path = %self.path.display(), "{} changed on disk: reloaded", self.what);
                true
            }
            Err(p) => {
                tracing::error!("{} not reloaded: {p}", self.what);
                false
            }
        }
    }

    /// The shared files this file is one of ([`SecretFile::share`]).
    pub fn shared(&self) -> Option<&Arc<SharedFiles>> {
        self.shared.get()
    }

    /// The entries in memory, read-locked; drop the guard soon.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.entries.read().expect("secrets lock")
    }

    /// Applies `change` to a copy of the entries, writes the copy durably,
    /// then makes it current. Nothing changes if `change` or the write
    /// fails. On a shared file ([`SecretFile::share`]) the copy is of the
    /// latest entries, whichever server wrote them, and is committed to
    /// the database before this returns.
    pub fn update<R>(
        &self,
        change: impl FnOnce(&mut T) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let Some(files) = self.shared.get() else {
            let mut entries = self.entries.write().expect("secrets lock");
            let mut next = entries.clone();
            let r = change(&mut next)?;
            fsio::write_secret(&self.path, &to_bytes(&next))
                .map_err(|e| StoreError::io(&self.path, e))?;
            *self.seen.lock().expect("secrets lock") = mtime(&self.path);
            *entries = next;
            return Ok(r);
        };
        // Shared: the change goes to the database's latest copy, under the
        // file's lock across servers, so the entries in memory are not
        // locked while the database is waited on (token checks read them).
        let before = to_bytes(&*self.read());
        let mut out = None;
        let (_, _turn) = files.write(&self.path, |latest| {
            let mut next = match latest {
                Some(bytes) => {
                    if bytes != before {
                        self.taken.store(true, Ordering::SeqCst);
                    }
                    serde_json::from_slice(&bytes).map_err(|e| StoreError::Io {
                        path: self.path.clone(),
                        source: e.into(),
                    })?
                }
                None => T::default(),
            };
            let r = change(&mut next)?;
            let bytes = to_bytes(&next);
            out = Some((next, r));
            Ok(bytes)
        })?;
        let (next, r) = out.expect("set by the write");
        // Still under the write's guard: no other server's copy was
        // written here since ours, so this time is ours.
        *self.seen.lock().expect("secrets lock") = mtime(&self.path);
        *self.entries.write().expect("secrets lock") = next;
        Ok(r)
    }
}

/// The file's bytes for `entries`: pretty JSON and a newline.
fn to_bytes<T: Serialize>(entries: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(entries).expect("serializes");
    bytes.push(b'\n');
    bytes
}
