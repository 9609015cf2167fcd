//! Files that each server keeps in its own data directory but that two
//! servers on one PostgreSQL store must keep alike: the token file, the
//! staff accounts, the alarm settings, the frame-signing key (controllers
//! check every frame against one public key, whichever server is leader),
//! the embedded broker's credentials and `cap.json`. Their owners (the
//! token store, the accounts …) read them as ever, and re-read them when
//! they change on disk; this module carries each file's bytes through the
//! table `shared_files` ([`super::pg`]).
//!
//! Every write a server makes goes through the database before it is
//! answered ([`SharedFiles::write`]: under a lock every server takes for
//! the file, the change is applied to the latest copy, committed, then
//! written here), so no acknowledged write is lost: the token file, the
//! accounts and the broker credentials ([`super::secret_file::SecretFile`]
//! is their one writer) and the alarm settings. The others are never
//! written by a request: the signing key is made once at start and
//! offered (the first offer wins: two servers starting together end with
//! the same key), and `cap.json` is edited by hand only.
//!
//! At start the database's copy wins; a file that only this server has is
//! offered. Then, every few seconds ([`SharedFiles::sync`]), a file
//! changed there is written here (the other server's writes), and a file
//! changed here by hand is sent; a hand edit made on both servers within
//! one interval keeps the database's copy and is logged. What stays per
//! server: sessions (in memory: a sign-in holds on the server that made
//! it), alarm incidents, proof of play.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::pg::Postgres;
use super::StoreError;

/// The shared files of one server: by name (the path under the data
/// directory, the same on every server), where this server keeps it.
pub struct SharedFiles {
    db: Arc<Postgres>,
    files: Vec<(String, PathBuf)>,
    /// The SHA-256 of each file as last carried either way.
    seen: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Held by a write ([`SharedFiles::write`]) and by a sync, so that a
    /// sync never takes a file written here but not yet on disk for a
    /// change made here.
    busy: Mutex<()>,
}

/// The files two servers share, by name, under the data directory `data`
/// (`tokens`: the token file, which `--tokens` may put elsewhere).
/// Each path is its owner's; the name is where it lies under `data`.
pub fn default_files(data: &Path, tokens: &Path) -> Vec<(String, PathBuf)> {
    let name = |path: &Path| {
        let under = path
            .strip_prefix(data)
            .expect("a path under the data directory");
        under.to_string_lossy().into_owned()
    };
    let signing_key = super::signing::default_path(data);
    let signing_public = super::signing::public_path(&signing_key);
    let mut files = vec![(name(&super::tokens_file(data)), tokens.to_path_buf())];
    for path in [
        super::users::users_file(data),
        data.join(super::alarms::CONFIG_FILE),
        super::credentials::Credentials::default_path(data),
        signing_key,
        signing_public,
        data.join(super::cap::CONFIG_FILE),
    ] {
        files.push((name(&path), path));
    }
    files
}

fn sha(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

impl SharedFiles {
    /// Files (name in the database, path here) to keep alike through `db`.
    pub fn new(db: Arc<Postgres>, files: Vec<(String, PathBuf)>) -> SharedFiles {
        SharedFiles {
            db,
            files,
            seen: Mutex::new(BTreeMap::new()),
            busy: Mutex::new(()),
        }
    }

    /// At start: takes the database's copy of each file; offers the files
    /// it lacks (the first offer wins) and takes the winner.
    pub fn start(&self) -> Result<(), StoreError> {
        for (name, path) in &self.files {
            if self.db.shared_file(name)?.is_none() {
                if let Ok(bytes) = std::fs::read(path) {
                    self.db.offer_shared_file(name, &bytes, &sha(&bytes))?;
                }
            }
            if let Some((bytes, digest)) = self.db.shared_file(name)? {
                self.write_here(name, path, &bytes)?;
                self.seen().insert(name.clone(), digest);
            }
        }
        Ok(())
    }

    /// Offers every file this server has (`bangtin store migrate`); how
    /// many it had.
    pub fn offer_all(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        for (name, path) in &self.files {
            if let Ok(bytes) = std::fs::read(path) {
                self.db.offer_shared_file(name, &bytes, &sha(&bytes))?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Writes here every file the database has; how many.
    pub fn take_all(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        for (name, path) in &self.files {
            if let Some((bytes, _)) = self.db.shared_file(name)? {
                self.write_here(name, path, &bytes)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Takes the files changed there (other servers' writes), sends those
    /// changed here by hand. A file changed on both sides since the last
    /// sync is taken from there (the hand edit here is lost, and logged);
    /// the server's own writes never are ([`SharedFiles::write`]).
    pub fn sync(&self) -> Result<(), StoreError> {
        let _busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let there: BTreeMap<String, Vec<u8>> = self.db.shared_shas()?.into_iter().collect();
        for (name, path) in &self.files {
            let seen = self.seen().get(name).cloned();
            let changed_there = there.get(name).is_some_and(|d| Some(d) != seen.as_ref());
            let here = std::fs::read(path).ok().filter(|b| Some(sha(b)) != seen);
            if let Some(bytes) = &here {
                let digest = sha(bytes);
                if !changed_there
                    && self
                        .db
                        .replace_shared_file(name, bytes, &digest, seen.as_deref())?
                {
                    tracing::info!(file = name, "sent to the shared store");
                    self.seen().insert(name.clone(), digest);
                    continue;
                }
                tracing::warn!(
                    file = name,
                    "changed here and on another server: the other's is kept"
                );
            }
            if changed_there || here.is_some() {
                if let Some((bytes, digest)) = self.db.shared_file(name)? {
                    self.write_here(name, path, &bytes)?;
                    self.seen().insert(name.clone(), digest);
                }
            }
        }
        Ok(())
    }

    /// The database the files are shared through.
    pub fn db(&self) -> &Arc<Postgres> {
        &self.db
    }

    /// The name under which the file at `path` is shared, if it is.
    pub fn name_of(&self, path: &std::path::Path) -> Option<&str> {
        self.files
            .iter()
            .find(|(_, p)| p == path)
            .map(|(n, _)| n.as_str())
    }

    /// Writes the shared file at `path` through the database before
    /// anyone is told it is written: `change` is given the file's latest
    /// bytes (the database's copy; this server's when only this server
    /// changed it since the last sync, by hand; `None`: no file anywhere)
    /// and returns the new bytes, which are committed (under a lock every
    /// server takes for the file: no lost update), then written here.
    /// Returns the new bytes, and a guard that keeps other writes and the
    /// sync off these files until the caller has taken them in (note the
    /// file's time, swap its entries): a sync in between could write
    /// another server's newer copy, which the caller would then take for
    /// its own. A path that is not shared is refused.
    pub fn write(
        &self,
        path: &std::path::Path,
        change: impl FnOnce(Option<Vec<u8>>) -> Result<Vec<u8>, StoreError>,
    ) -> Result<(Vec<u8>, std::sync::MutexGuard<'_, ()>), StoreError> {
        let name = self.name_of(path).ok_or_else(|| StoreError::Io {
            path: path.into(),
            source: std::io::Error::other("not a shared file"),
        })?;
        let busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let seen = self.seen().get(name).cloned();
        let here = std::fs::read(path).ok();
        let next = self.db.update_shared_file(name, |there| {
            let changed_here = here.as_ref().is_some_and(|h| Some(sha(h)) != seen);
            let latest = match there {
                Some((_, digest)) if changed_here && Some(&digest) == seen.as_ref() => here,
                Some((bytes, _)) => {
                    if changed_here {
                        tracing::warn!(
                            file = name,
                            "edited here by hand and changed on another server: the other's is kept"
                        );
                    }
                    Some(bytes)
                }
                None => here,
            };
            change(latest)
        })?;
        // Committed: the change stands whatever happens here. A file not
        // written here keeps its old digest as seen, so the next sync
        // takes the database's copy (and does not send the old file back).
        match self.write_here(name, path, &next) {
            Ok(()) => {
                self.seen().insert(name.to_string(), sha(&next));
            }
            Err(e) => tracing::error!(
                file = name,
                "committed to the shared store, not written here yet (the next sync tries again): {e}"
            ),
        }
        Ok((next, busy))
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `bytes` to `path` unless it holds them already; files under
    /// `secrets/` readable by their owner only.
    fn write_here(
        &self,
        name: &str,
        path: &std::path::Path,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        if std::fs::read(path).ok().as_deref() == Some(bytes) {
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        }
        let written = if name.starts_with("secrets/") && !name.ends_with(".pub") {
            crate::fsio::write_secret(path, bytes)
        } else {
            crate::fsio::write_atomic(path, bytes)
        };
        written.map_err(|e| StoreError::io(path, e))?;
        tracing::info!(file = name, "taken from the shared store");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are the rows' keys every server reads: asking the
    /// owners for the paths must not change them.
    #[test]
    fn the_shared_files_keep_their_names() {
        let data = Path::new("/srv/bangtin");
        let tokens = Path::new("/etc/bangtin/tokens.json");
        let files = default_files(data, tokens);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "secrets/tokens.json",
                "secrets/users.json",
                "secrets/alarms.json",
                "secrets/mqtt-credentials.json",
                "secrets/frame-signing.pem",
                "secrets/frame-signing.pub",
                "cap.json",
            ]
        );
        assert_eq!(files[0].1, tokens, "the token file where --tokens puts it");
        assert!(files[1..].iter().all(|(n, p)| *p == data.join(n)));
    }
}
