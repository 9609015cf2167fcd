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

/// Who is making a request: a machine's token or a signed-in person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Principal {
    /// The token's name (the person or system it was issued to); `admin` for the bootstrap token.
    pub name: String,
    /// The roles the token grants.
    pub roles: Vec<Role>,
    /// A person's name as written ("Nguyễn Thị Lan"); tokens have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The groups the roles hold for; `None` = the whole province.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<Id>>,
    /// A person who must change the password an administrator set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub must_change_password: bool,
    /// How the caller authenticated (never shown).
    #[serde(skip)]
    #[schemars(skip)]
    pub via: Via,
}

/// What a request authenticated with: the SHA-256 of the token or of the
/// session id, to ask later whether it still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Via {
    /// Nothing: the few routes open to anyone (signing in).
    #[default]
    Nobody,
    /// A bearer token, by the SHA-256 of the token.
    Token([u8; 32]),
    /// A signed-in person's session cookie, by the SHA-256 of the session id.
    Session([u8; 32]),
}

impl Principal {
    /// Admins may do everything. The admin role holds only province-wide:
    /// an admin with a scope (stored before scopes were refused on admins)
    /// is not one, and keeps its other roles inside the scope.
    pub fn has(&self, role: Role) -> bool {
        if self.admin_scoped() {
            return role != Role::Admin && self.roles.contains(&role);
        }
        self.roles.contains(&role) || self.roles.contains(&Role::Admin)
    }

    /// The admin role held with a scope: not honoured (see [`Self::has`]).
    pub fn admin_scoped(&self) -> bool {
        crate::auth::scope::admin_province_wide(&self.roles, &self.scope).is_err()
    }

    /// Nobody yet: a caller of a route open to all (signing in).
    pub fn nobody() -> Principal {
        Principal {
            name: String::new(),
            roles: Vec::new(),
            display_name: None,
            scope: None,
            must_change_password: false,
            via: Via::Nobody,
        }
    }

    /// A signed-in person.
    pub fn person(
        username: &str,
        display_name: &str,
        roles: Vec<Role>,
        scope: Option<Vec<Id>>,
        must_change_password: bool,
        session: [u8; 32],
    ) -> Principal {
        Principal {
            name: username.to_string(),
            roles,
            display_name: Some(display_name.to_string()),
            scope,
            must_change_password,
            via: Via::Session(session),
        }
    }

    fn token(name: &str, roles: Vec<Role>, scope: Option<Vec<Id>>, d: [u8; 32]) -> Principal {
        Principal {
            name: name.to_string(),
            roles,
            display_name: None,
            scope,
            must_change_password: false,
            via: Via::Token(d),
        }
    }
}

/// Why a presented token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No token with this hash exists (never issued, or revoked).
    Unknown,
    /// The token existed but expired at this instant.
    Expired(DateTime<Utc>),
}

/// How long a last-used time may lag before it is written to the file.
const LAST_USED_WRITE: chrono::Duration = chrono::Duration::hours(1);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    roles: Vec<Role>,
    /// Hex SHA-256 of the token.
    sha256: String,
    created_at: DateTime<Utc>,
    /// Refused from this instant on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
    /// Groups the roles hold for; absent = the whole province.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<Vec<Id>>,
    /// Written at most every [`LAST_USED_WRITE`]; the exact time is in
    /// memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_used_at: Option<DateTime<Utc>>,
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
    /// Refused from this instant on; absent = never expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Group ids the roles hold for; absent = the whole province.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<Id>>,
    /// When the token was last used, to the hour (the exact time is kept
    /// in memory only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A new token's limits: an expiry and the groups its roles hold for.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Refused from this instant on; `None` = never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Group ids the roles hold for; `None` = the whole province.
    pub scope: Option<Vec<Id>>,
}

/// The token file, held in memory and checked against for every request.
pub struct TokenStore {
    file: SecretFile<Vec<Entry>>,
    bootstrap: Option<[u8; 32]>,
    /// Each token's last use, exactly (the file has it to the hour).
    used: std::sync::Mutex<std::collections::HashMap<String, DateTime<Utc>>>,
    /// On the PostgreSQL store: the uses this server has put in the
    /// database, by name (last uses are kept there, not in the shared
    /// token file), and every server's latest use read back, by the
    /// token's hash.
    uses: std::sync::Mutex<Uses>,
    /// Bumped whenever a token may have stopped being valid.
    revoked: tokio::sync::watch::Sender<u64>,
}

/// Last uses on the PostgreSQL store ([`TokenStore::write_last_used`]).
#[derive(Default)]
struct Uses {
    /// What this server last put in the database, by token name.
    sent: std::collections::HashMap<String, DateTime<Utc>>,
    /// Every server's latest use, by the token's hex SHA-256.
    everywhere: std::collections::HashMap<String, DateTime<Utc>>,
}

/// The last uses a token file's bytes record: (the token's hex SHA-256,
/// when), for `bangtin store migrate` into PostgreSQL, where last uses
/// are rows of their own ([`super::pg::Postgres::note_token_uses`]).
pub(crate) fn last_uses_in(bytes: &[u8]) -> serde_json::Result<Vec<(String, DateTime<Utc>)>> {
    let entries: Vec<Entry> = serde_json::from_slice(bytes)?;
    Ok(entries
        .into_iter()
        .filter_map(|e| Some((e.sha256, e.last_used_at?)))
        .collect())
}

/// A token file's bytes with each token's last use the newer of the
/// file's and `uses`' (by the token's hex SHA-256), for `bangtin store
/// migrate` out of PostgreSQL; `None` when no time is newer.
pub(crate) fn with_last_uses(
    bytes: &[u8],
    uses: &std::collections::HashMap<String, DateTime<Utc>>,
) -> serde_json::Result<Option<Vec<u8>>> {
    let mut entries: Vec<Entry> = serde_json::from_slice(bytes)?;
    let mut newer = false;
    for e in &mut entries {
        if let Some(&t) = uses.get(&e.sha256) {
            if e.last_used_at.is_none_or(|w| t > w) {
                e.last_used_at = Some(t);
                newer = true;
            }
        }
    }
    Ok(newer.then(|| super::pretty(&entries)))
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
            used: Default::default(),
            uses: Default::default(),
            revoked: tokio::sync::watch::channel(0).0,
        })
    }

    /// On the PostgreSQL store: writes go through the database
    /// ([`super::shared_files::SharedFiles::write`]) from now on.
    pub fn share(&self, files: &std::sync::Arc<super::shared_files::SharedFiles>) {
        self.file.share(files);
    }

    /// Fires whenever a token was revoked or the file changed: whoever
    /// holds a [`Principal`] for long asks [`TokenStore::still_valid`].
    pub fn revocations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revoked.subscribe()
    }

    /// Whether the token `who` authenticated with is still valid.
    pub fn still_valid(&self, who: &Principal) -> bool {
        match who.via {
            Via::Token(d) => self.lookup(&d, Utc::now()).is_ok(),
            Via::Session(_) | Via::Nobody => false,
        }
    }

    /// Tells long replies to ask again whether their caller still holds
    /// (a session ended, a token was revoked).
    pub fn notify_revoked(&self) {
        self.bump();
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

    /// The principal a token belongs to, if any (and not expired).
    #[cfg(test)]
    pub(crate) fn authenticate(&self, token: &str) -> Option<Principal> {
        self.check(token, Utc::now()).ok()
    }

    /// The principal a token belongs to at `now`, or why not. Notes the
    /// token's use.
    pub fn check(&self, token: &str, now: DateTime<Utc>) -> Result<Principal, TokenRefusal> {
        let p = self.lookup(&digest(token), now)?;
        self.note_use(&p.name, now);
        Ok(p)
    }

    /// Notes a use in memory only: a lookup never waits for the disk.
    /// [`TokenStore::write_last_used`] puts it in the file later.
    fn note_use(&self, name: &str, now: DateTime<Utc>) {
        self.used
            .lock()
            .expect("used lock")
            .insert(name.to_string(), now);
    }

    /// Writes the last-used times that lag the file by
    /// [`LAST_USED_WRITE`] or more, in one write. Called from the blocking
    /// reload loop, never on a request's path.
    pub fn write_last_used(&self) {
        let used = self.used.lock().expect("used lock").clone();
        if let Some(files) = self.file.shared() {
            if let Err(e) = self.share_last_used(files.db(), &used) {
                tracing::warn!("tokens' last uses could not be shared: {e}");
            }
            return;
        }
        let stale = |e: &Entry| {
            used.get(&e.name)
                .is_some_and(|&t| e.last_used_at.is_none_or(|w| t - w >= LAST_USED_WRITE))
        };
        if !self.file.read().iter().any(stale) {
            return;
        }
        let written = self.file.update(|entries| {
            for e in entries.iter_mut() {
                if stale(e) {
                    e.last_used_at = used.get(&e.name).copied();
                }
            }
            Ok(())
        });
        if let Err(e) = written {
            tracing::warn!("a token's last use could not be written: {e}");
        }
    }

    /// On the PostgreSQL store: puts the uses that lag the database by
    /// [`LAST_USED_WRITE`] in its table (the shared token file is left
    /// alone) and reads back every server's latest uses.
    fn share_last_used(
        &self,
        db: &super::pg::Postgres,
        used: &std::collections::HashMap<String, DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let due: Vec<(String, String, DateTime<Utc>)> = {
            let sent = &self.uses.lock().expect("uses lock").sent;
            self.file
                .read()
                .iter()
                .filter_map(|e| {
                    let t = *used.get(&e.name)?;
                    sent.get(&e.name)
                        .is_none_or(|w| t - *w >= LAST_USED_WRITE)
                        .then(|| (e.name.clone(), e.sha256.clone(), t))
                })
                .collect()
        };
        if !due.is_empty() {
            let rows: Vec<_> = due.iter().map(|(_, s, t)| (s.clone(), *t)).collect();
            db.note_token_uses(&rows)?;
            let sent = &mut self.uses.lock().expect("uses lock").sent;
            sent.extend(due.into_iter().map(|(n, _, t)| (n, t)));
        }
        let everywhere = db.token_uses()?.into_iter().collect();
        self.uses.lock().expect("uses lock").everywhere = everywhere;
        Ok(())
    }

    fn lookup(&self, d: &[u8; 32], now: DateTime<Utc>) -> Result<Principal, TokenRefusal> {
        let d = *d;
        let mut found = None;
        if let Some(b) = &self.bootstrap {
            if bool::from(b.ct_eq(&d)) {
                found = Some(Ok(Principal::token("admin", Role::ALL.to_vec(), None, d)));
            }
        }
        for e in self.file.read().iter() {
            // Compare with every entry; no early exit.
            if matches(&e.sha256, &d) && found.is_none() {
                found = Some(match e.expires_at {
                    Some(at) if at <= now => Err(TokenRefusal::Expired(at)),
                    _ => Ok(Principal::token(
                        &e.name,
                        e.roles.clone(),
                        e.scope.clone(),
                        d,
                    )),
                });
            }
        }
        found.unwrap_or(Err(TokenRefusal::Unknown))
    }

    /// Every token in the file, in file order, without secrets (the bootstrap token is not listed).
    pub fn list(&self) -> Vec<TokenInfo> {
        let used = self.used.lock().expect("used lock");
        let uses = self.uses.lock().expect("uses lock");
        self.file
            .read()
            .iter()
            .map(|e| TokenInfo {
                name: e.name.clone(),
                roles: e.roles.clone(),
                created_at: e.created_at,
                expires_at: e.expires_at,
                scope: e.scope.clone(),
                // The newest of this server's, other servers' and the file's.
                last_used_at: [
                    used.get(&e.name).copied(),
                    uses.everywhere.get(&e.sha256).copied(),
                    e.last_used_at,
                ]
                .into_iter()
                .flatten()
                .max(),
            })
            .collect()
    }

    /// Creates a token for a new name; returns the token (shown once).
    pub fn create(&self, name: &str, roles: &[Role]) -> Result<String, StoreError> {
        self.create_limited(name, roles, Limits::default())
    }

    /// Creates a token with an expiry and a scope; returns the token.
    pub fn create_limited(
        &self,
        name: &str,
        roles: &[Role],
        limits: Limits,
    ) -> Result<String, StoreError> {
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
            expires_at: limits.expires_at,
            scope: limits.scope,
            last_used_at: None,
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

    #[test]
    fn a_token_files_last_uses_are_read_and_only_a_newer_one_replaces_them() {
        let at = |s: i64| DateTime::from_timestamp(1_790_000_000 + s, 0).unwrap();
        let entry = |name: &str, used: Option<DateTime<Utc>>| Entry {
            name: name.into(),
            roles: vec![Role::Feed],
            sha256: format!("{name}-sha"),
            created_at: at(0),
            expires_at: None,
            scope: None,
            last_used_at: used,
        };
        let bytes = super::super::pretty(&vec![
            entry("a", Some(at(10))),
            entry("b", None),
            entry("c", Some(at(10))),
        ]);
        assert_eq!(
            last_uses_in(&bytes).unwrap(),
            vec![("a-sha".to_string(), at(10)), ("c-sha".into(), at(10))]
        );
        let older = [("a-sha".to_string(), at(5))].into_iter().collect();
        assert_eq!(with_last_uses(&bytes, &older).unwrap(), None);
        let uses = [
            ("a-sha".to_string(), at(5)),
            ("b-sha".into(), at(7)),
            ("c-sha".into(), at(20)),
        ]
        .into_iter()
        .collect();
        let next = with_last_uses(&bytes, &uses).unwrap().expect("newer times");
        let got: Vec<Option<DateTime<Utc>>> = serde_json::from_slice::<Vec<Entry>>(&next)
            .unwrap()
            .into_iter()
            .map(|e| e.last_used_at)
            .collect();
        assert_eq!(got, vec![Some(at(10)), Some(at(7)), Some(at(20))]);
    }

    #[test]
    fn an_expired_token_is_refused_and_last_use_is_kept() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("secrets/tokens.json");
        let s = TokenStore::open(&path, None).unwrap();
        let now = Utc::now();
        let t = s
            .create_limited(
                "feed",
                &[Role::Feed],
                Limits {
                    expires_at: Some(now + chrono::Duration::hours(1)),
                    scope: Some(vec![Id::parse("cua-lo").unwrap()]),
                },
            )
            .unwrap();
        let p = s.check(&t, now).unwrap();
        assert_eq!(p.scope, Some(vec![Id::parse("cua-lo").unwrap()]));
        let info = &s.list()[0];
        assert_eq!(info.last_used_at, Some(now));
        let later = now + chrono::Duration::hours(1);
        assert_eq!(
            s.check(&t, later),
            Err(TokenRefusal::Expired(now + chrono::Duration::hours(1)))
        );
        assert_eq!(s.check("bt_unknown", now), Err(TokenRefusal::Unknown));
        // The last use reaches the file on the reload loop's write, so a
        // restart still shows it.
        assert!(TokenStore::open(&path, None).unwrap().list()[0]
            .last_used_at
            .is_none());
        s.write_last_used();
        let s2 = TokenStore::open(&path, None).unwrap();
        assert!(s2.list()[0].last_used_at.is_some());
    }
}
