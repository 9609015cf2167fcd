//! Bearer tokens and their roles, kept outside `content/` (default
//! `DIR/secrets/tokens.json`). Only a SHA-256 hash of each token is stored;
//! a presented token is hashed and compared in constant time with every
//! entry, so neither the file nor the timing reveals a token.
//!
//! Revoking a token (through the API, or by removing it from the file by
//! hand) ends at once everything that authenticated with it and is still
//! running: [`TokenStore::revocations`] fires, and a long-lived reply
//! (the event stream) checks [`TokenStore::still_valid`].

#![warn(missing_docs)]

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::secret_file::{digest, matches, new_secret, SecretFile};
use super::StoreError;
use crate::domain::{Id, Invalid, Role};

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Principal {
    /// The token's name (the person or system it was issued to); `admin` for the bootstrap token.
    pub name: String,
    /// The roles the token grants.
    pub roles: Vec<Role>,
    /// The SHA-256 of the token presented, to ask later whether it still
    /// holds (never shown).
    #[serde(skip)]
    #[schemars(skip)]
    token: [u8; 32],
}

impl Principal {
    /// Admins may do everything.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role) || self.roles.contains(&Role::Admin)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    roles: Vec<Role>,
    /// Hex SHA-256 of the token.
    sha256: String,
    created_at: DateTime<Utc>,
}

/// What `GET /tokens` shows: never the token or its hash.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TokenInfo {
    /// The token's name (the person or system it was issued to).
    pub name: String,
    /// The roles the token grants.
    pub roles: Vec<Role>,
    /// When the token was created, UTC.
    pub created_at: DateTime<Utc>,
}

/// The token file, held in memory and checked against for every request.
pub struct TokenStore {
    file: SecretFile<Vec<Entry>>,
    bootstrap: Option<[u8; 32]>,
    /// Bumped whenever a token may have stopped being valid.
    revoked: tokio::sync::watch::Sender<u64>,
}

/// A new random token: 32 bytes from the OS generator, hex, with a prefix
/// that makes leaked tokens easy to recognise in logs and code.
pub fn new_token() -> String {
    format!("bt_{}", new_secret())
}

impl TokenStore {
    /// Reads the token file at `path` (none yet = no tokens);
    /// `bootstrap_admin`, if given, is a token that is admin without being in
    /// the file. A file that does not parse is [`StoreError::Corrupt`].
    pub fn open(path: &Path, bootstrap_admin: Option<&str>) -> Result<TokenStore, StoreError> {
        Ok(TokenStore {
            file: SecretFile::open(path, "token file")?,
            bootstrap: bootstrap_admin.map(digest),
            revoked: tokio::sync::watch::channel(0).0,
        })
    }

    /// Fires whenever a token was revoked or the file changed: whoever
    /// holds a [`Principal`] for long asks [`TokenStore::still_valid`].
    pub fn revocations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revoked.subscribe()
    }

    /// Whether the token `who` authenticated with is still valid.
    pub fn still_valid(&self, who: &Principal) -> bool {
        self.lookup(&who.token).is_some()
    }

    fn bump(&self) {
        self.revoked.send_modify(|g| *g += 1);
    }

    /// Re-reads the file when someone else changed it (`bangtin token add`
    /// on a running server). A broken file is reported and the tokens in
    /// memory stay as they were.
    pub fn reload_if_changed(&self) {
        if self.file.reload_if_changed() {
            self.bump();
        }
    }

    /// The principal a token belongs to, if any.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        self.lookup(&digest(token))
    }

    fn lookup(&self, d: &[u8; 32]) -> Option<Principal> {
        let d = *d;
        let mut found = None;
        if let Some(b) = &self.bootstrap {
            if bool::from(b.ct_eq(&d)) {
                found = Some(Principal {
                    name: "admin".into(),
                    roles: Role::ALL.to_vec(),
                    token: d,
                });
            }
        }
        for e in self.file.read().iter() {
            // Compare with every entry; no early exit.
            if matches(&e.sha256, &d) && found.is_none() {
                found = Some(Principal {
                    name: e.name.clone(),
                    roles: e.roles.clone(),
                    token: d,
                });
            }
        }
        found
    }

    /// Every token in the file, in file order, without secrets (the bootstrap token is not listed).
    pub fn list(&self) -> Vec<TokenInfo> {
        self.file
            .read()
            .iter()
            .map(|e| TokenInfo {
                name: e.name.clone(),
                roles: e.roles.clone(),
                created_at: e.created_at,
            })
            .collect()
    }

    /// Creates a token for a new name; returns the token (shown once).
    pub fn create(&self, name: &str, roles: &[Role]) -> Result<String, StoreError> {
        Id::parse(name).map_err(|_| {
            Invalid::new(crate::i18n::Reason::InvalidTokenName {
                shown: name.chars().take(80).collect(),
            })
        })?;
        if roles.is_empty() {
            return Err(Invalid::new(crate::i18n::Reason::NoRoles).into());
        }
        if name == "admin" && self.bootstrap.is_some() {
            return Err(StoreError::conflict(crate::i18n::Reason::AdminNameReserved));
        }
        let token = new_token();
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        let entry = Entry {
            name: name.to_string(),
            roles,
            sha256: hex::encode(digest(&token)),
            created_at: Utc::now(),
        };
        self.file.update(|entries| {
            if entries.iter().any(|e| e.name == name) {
                return Err(StoreError::conflict(crate::i18n::Reason::TokenNameTaken {
                    name: name.to_string(),
                }));
            }
            entries.push(entry);
            Ok(())
        })?;
        Ok(token)
    }

    /// Revokes a token: refused from the next request on, and whatever
    /// it has open (event streams) ends now.
    pub fn revoke(&self, name: &str) -> Result<(), StoreError> {
        self.file.update(|entries| {
            let before = entries.len();
            entries.retain(|e| e.name != name);
            if entries.len() == before {
                return Err(StoreError::NotFound {
                    kind: "token",
                    id: name.to_string(),
                });
            }
            Ok(())
        })?;
        self.bump();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Creating and revoking tokens while the file watcher reloads, from
    /// two threads: this deadlocked once (the two took the same two locks
    /// in opposite orders). Ends within the time limit or fails.
    #[test]
    fn reload_and_create_at_once_never_deadlock() {
        let d = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(
            TokenStore::open(&d.path().join("secrets/tokens.json"), None).unwrap(),
        );
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let (s, stop) = (s.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    s.reload_if_changed();
                }
            })
        };
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let writer = {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..300 {
                    let name = format!("t{i}");
                    s.create(&name, &[Role::Editor]).unwrap();
                    s.revoke(&name).unwrap();
                }
                done_tx.send(()).unwrap();
            })
        };
        let finished = done_rx.recv_timeout(std::time::Duration::from_secs(60));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(finished.is_ok(), "token writes and reloads deadlocked");
        writer.join().unwrap();
        watcher.join().unwrap();
        assert!(s.list().is_empty());
    }

    #[test]
    fn tokens_are_stored_hashed_and_revocable() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("secrets/tokens.json");
        let s = TokenStore::open(&path, Some("bootstrap-secret")).unwrap();
        assert!(s.authenticate("bootstrap-secret").unwrap().has(Role::Admin));
        let t = s.create("lan", &[Role::Editor]).unwrap();
        let p = s.authenticate(&t).unwrap();
        assert_eq!(p.name, "lan");
        assert!(p.has(Role::Editor) && !p.has(Role::Approver));
        let file = std::fs::read_to_string(&path).unwrap();
        assert!(!file.contains(&t), "token stored in clear");
        assert!(s.create("lan", &[Role::Editor]).is_err());
        assert!(s.create("../x", &[Role::Editor]).is_err());
        let s2 = TokenStore::open(&path, None).unwrap();
        assert!(s2.authenticate(&t).is_some());
        assert!(s2.authenticate("bootstrap-secret").is_none());
        s2.revoke("lan").unwrap();
        assert!(s2.authenticate(&t).is_none());
        assert!(s2.revoke("lan").is_err());
    }
}
