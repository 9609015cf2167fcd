//! Passwords for the embedded MQTT broker (`DIR/secrets/mqtt-credentials.json`):
//! one per panel's controller (user name = panel id) and one for the
//! server principal (`bangtin-server`, for operators' tools).
//!
//! A password is 32 random bytes, shown once when it is issued and kept
//! only as its SHA-256 hash ([`SecretFile`]): a slow password hash would
//! protect nothing here and would cost a second of CPU per thousand
//! controllers reconnecting after a power cut. Issuing again replaces
//! (rotates) a password. `bangtin credential` beside a running server is
//! seen at the next connection.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::secret_file::{digest, matches, new_secret, SecretFile};
use super::StoreError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// Hex SHA-256 of the password.
    sha256: String,
    issued_at: DateTime<Utc>,
}

/// Broker passwords by user name.
pub struct Credentials(SecretFile<BTreeMap<String, Entry>>);

impl Credentials {
    /// The file under a data directory.
    pub fn default_path(data: &Path) -> PathBuf {
        data.join("secrets").join("mqtt-credentials.json")
    }

    /// Opens the file at `path` (an absent file: no credentials yet).
    pub fn open(path: &Path) -> Result<Credentials, StoreError> {
        SecretFile::open(path, "MQTT credentials").map(Credentials)
    }

    /// On the PostgreSQL store: writes go through the database
    /// ([`super::shared_files::SharedFiles::write`]) from now on.
    pub fn share(&self, files: &std::sync::Arc<super::shared_files::SharedFiles>) {
        self.0.share(files);
    }

    /// Whether `password` is the one issued to `user`.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        self.0.reload_if_changed();
        self.0
            .read()
            .get(user)
            .is_some_and(|e| matches(&e.sha256, &digest(password)))
    }

    /// Issues a new password for `user`, replacing any; returns it (the
    /// only time it is seen). The caller checks that `user` is a panel id
    /// or the server principal.
    pub fn issue(&self, user: &str) -> Result<String, StoreError> {
        self.0.reload_if_changed();
        let password = new_secret();
        let entry = Entry {
            sha256: hex::encode(digest(&password)),
            issued_at: Utc::now(),
        };
        self.0.update(|entries| {
            entries.insert(user.to_string(), entry);
            Ok(())
        })?;
        Ok(password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_passwords_verify_rotate_and_are_stored_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let path = Credentials::default_path(dir.path());
        let c = Credentials::open(&path).unwrap();
        assert!(!c.verify("p1", ""));
        let first = c.issue("p1").unwrap();
        assert_eq!(first.len(), 64);
        assert!(c.verify("p1", &first));
        assert!(!c.verify("p2", &first));
        assert!(!c.verify("p1", &first[..63]));
        let second = c.issue("p1").unwrap();
        assert!(
            c.verify("p1", &second) && !c.verify("p1", &first),
            "rotated"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&second), "the password itself is stored");
    }

    #[test]
    fn another_process_issuing_is_seen_without_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = Credentials::default_path(dir.path());
        let server = Credentials::open(&path).unwrap();
        let cli = Credentials::open(&path).unwrap();
        let pw = cli.issue("bangtin-server").unwrap();
        assert!(server.verify("bangtin-server", &pw));
        std::fs::write(&path, "{ broken").unwrap();
        assert!(
            server.verify("bangtin-server", &pw),
            "a broken file keeps the last good passwords"
        );
    }
}
