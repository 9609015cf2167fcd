//! Staff accounts (default `DIR/secrets/users.json`, mode 600): user name,
//! display name, roles, the groups the roles hold for, and the password
//! as an Argon2id PHC string (never the password). The passwords' hashing
//! and checking is `auth::password`'s; this file only keeps the records,
//! durably, through the same [`SecretFile`] as the API tokens, so a CLI
//! or hand edit beside a running server is picked up.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::secret_file::SecretFile;
use super::StoreError;
use crate::domain::{Id, Role};

/// One person's account as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Sign-in name: `[a-z0-9][a-z0-9-]{0,63}`, e.g. "lan-haichau".
    pub username: String,
    /// The person's name as it is written: "Nguyễn Thị Lan".
    pub display_name: String,
    /// What the person may do.
    pub roles: Vec<Role>,
    /// The groups (districts) the roles hold for; absent = the whole
    /// province.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<Id>>,
    /// Argon2id, PHC string format.
    pub password: String,
    /// Set when an administrator chose the password: the person must
    /// choose their own before anything else.
    #[serde(default)]
    pub must_change_password: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
    /// When the password last changed (absent: never since the account was made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_changed_at: Option<DateTime<Utc>>,
}

/// What `GET /users` shows: never the password's hash.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UserInfo {
    /// Sign-in name.
    pub username: String,
    /// The person's name as it is written.
    pub display_name: String,
    /// What the person may do.
    pub roles: Vec<Role>,
    /// The groups the roles hold for; absent: the whole province.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<Id>>,
    /// The person must choose a new password before anything else.
    pub must_change_password: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
    /// When the password last changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_changed_at: Option<DateTime<Utc>>,
}

impl From<&User> for UserInfo {
    fn from(u: &User) -> UserInfo {
        UserInfo {
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            roles: u.roles.clone(),
            scope: u.scope.clone(),
            must_change_password: u.must_change_password,
            created_at: u.created_at,
            password_changed_at: u.password_changed_at,
        }
    }
}

/// The users file of the data directory `data`.
pub fn users_file(data: &Path) -> std::path::PathBuf {
    data.join("secrets/users.json")
}

/// The staff accounts (`secrets/users.json`, mode 600), written durably.
pub struct UserStore {
    file: SecretFile<Vec<User>>,
}

impl UserStore {
    /// Opens the file at `path` (an absent file: no accounts yet).
    pub fn open(path: &Path) -> Result<UserStore, StoreError> {
        Ok(UserStore {
            file: SecretFile::open(path, "users file")?,
        })
    }

    /// On the PostgreSQL store: writes go through the database
    /// ([`super::shared_files::SharedFiles::write`]) from now on.
    pub fn share(&self, files: &std::sync::Arc<super::shared_files::SharedFiles>) {
        self.file.share(files);
    }

    /// Re-reads the file when someone else changed it; returns whether it
    /// was replaced.
    pub fn reload_if_changed(&self) -> bool {
        self.file.reload_if_changed()
    }

    /// The account named `username`, if there is one.
    pub fn get(&self, username: &str) -> Option<User> {
        self.file
            .read()
            .iter()
            .find(|u| u.username == username)
            .cloned()
    }

    /// Every account, without password hashes, in the file's order.
    pub fn list(&self) -> Vec<UserInfo> {
        self.file.read().iter().map(UserInfo::from).collect()
    }

    /// Adds an account; refused if the user name is taken.
    pub fn create(&self, user: User) -> Result<(), StoreError> {
        self.file.update(|users| {
            if users.iter().any(|u| u.username == user.username) {
                return Err(StoreError::Conflict(
                    crate::i18n::Reason::AccountExists {
                        name: user.username.clone(),
                    }
                    .into(),
                ));
            }
            users.push(user);
            Ok(())
        })
    }

    /// Changes one account durably; `NotFound` if there is none.
    pub fn update<R>(
        &self,
        username: &str,
        change: impl FnOnce(&mut User) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.file.update(
            |users| match users.iter_mut().find(|u| u.username == username) {
                Some(u) => change(u),
                None => Err(not_found(username)),
            },
        )
    }

    /// Deletes the account; `NotFound` if there is none.
    pub fn delete(&self, username: &str) -> Result<(), StoreError> {
        self.file.update(|users| {
            let before = users.len();
            users.retain(|u| u.username != username);
            if users.len() == before {
                return Err(not_found(username));
            }
            Ok(())
        })
    }
}

fn not_found(username: &str) -> StoreError {
    StoreError::NotFound {
        kind: "account",
        id: username.to_string(),
    }
}
