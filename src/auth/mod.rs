//! Staff accounts and their sessions: who may sign in with a password,
//! and who is signed in. `password` hashes (Argon2id), `sessions` keeps
//! the signed-in sessions in memory with their timeouts and CSRF tokens,
//! `throttle` slows and locks repeated failures (its module text says why
//! per account *and* per account and address), the catalogue (`i18n::Reason`) holds every
//! sentence in Vietnamese and English. The accounts themselves are stored
//! by `store::users`. Time is an argument everywhere here; the API passes
//! the clock.

pub(crate) mod password;
pub(crate) mod scope;
pub(crate) mod sessions;
pub(crate) mod throttle;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::domain::{Id, Role};
use crate::i18n::Reason;
use crate::store::users::{User, UserInfo, UserStore};
use crate::store::StoreError;
pub(crate) use sessions::Session;
use throttle::{Hold, Throttle};

/// Why a sign-in failed.
#[derive(Debug)]
pub(crate) enum SignInError {
    /// Unknown user name or wrong password (the same answer for both).
    Wrong,
    /// Held before the password was looked at.
    Held(Hold),
}

/// A new account as an administrator describes it.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    /// Groups the roles hold for; leave out for the whole province.
    #[serde(default)]
    pub scope: Option<Vec<Id>>,
    /// A first password, which the person must change at first sign-in.
    pub password: String,
}

/// What an administrator may change on an account.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserPatch {
    pub display_name: Option<String>,
    pub roles: Option<Vec<Role>>,
    /// `null` = the whole province; a list = those groups.
    #[serde(default, deserialize_with = "serde_with_none::deserialize")]
    #[schemars(with = "Option<Vec<Id>>")]
    pub scope: Option<Option<Vec<Id>>>,
}

/// serde helper: a present `null` is `Some(None)`, an absent field `None`.
mod serde_with_none {
    use serde::{Deserialize, Deserializer};
    pub(super) fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// The checks of an account's values, before anything is hashed or stored.
pub(crate) fn check_user(username: &str, display_name: &str, roles: &[Role]) -> Result<(), Reason> {
    if Id::parse(username).is_err() {
        return Err(Reason::UsernameInvalid {
            given: username.to_string(),
        });
    }
    let n = display_name.trim().chars().count();
    if n == 0 || n > 100 {
        return Err(Reason::DisplayNameInvalid);
    }
    if roles.is_empty() {
        return Err(Reason::NoRoles);
    }
    Ok(())
}

pub(crate) fn check_scope(scope: &Option<Vec<Id>>) -> Result<(), Reason> {
    match scope {
        Some(s) if s.is_empty() => Err(Reason::ScopeEmpty),
        _ => Ok(()),
    }
}

pub(crate) struct Accounts {
    users: UserStore,
    sessions: Mutex<Sessions>,
    throttle: Mutex<Throttle>,
    /// A hash to check unknown user names against, so they take as long
    /// as known ones.
    dummy: String,
}

use sessions::Sessions;

impl Accounts {
    pub(crate) fn open(path: &Path) -> Result<Accounts, StoreError> {
        Ok(Accounts {
            users: UserStore::open(path)?,
            sessions: Mutex::default(),
            throttle: Mutex::default(),
            dummy: password::hash("no account has this password"),
        })
    }

    /// Sessions that begin from now on end after `idle` without a request
    /// of their person's (the server's `--session-idle-s`).
    pub(crate) fn with_idle(self, idle: chrono::Duration) -> Accounts {
        *self.sessions.lock().expect("sessions lock") = Sessions::with_idle(idle);
        self
    }

    /// Changes the sign-in throttle's numbers (tests shorten the delay).
    #[cfg(test)]
    pub(crate) fn set_throttle_policy(&self, p: throttle::Policy) {
        self.throttle.lock().expect("throttle lock").policy = p;
    }

    pub(crate) fn users(&self) -> &UserStore {
        &self.users
    }

    /// Checks a user name and password (slow: Argon2id; call it off the
    /// runtime). On success a new session begins: (cookie id, session,
    /// the account).
    pub(crate) fn sign_in(
        &self,
        username: &str,
        pw: &str,
        ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<(String, Session, User), SignInError> {
        let key = username.trim().to_lowercase();
        self.throttle
            .lock()
            .expect("throttle lock")
            .check(&key, ip, now)
            .map_err(SignInError::Held)?;
        let user = self.users.get(&key);
        let phc = user
            .as_ref()
            .map_or(self.dummy.as_str(), |u| u.password.as_str());
        let right = password::verify(phc, pw) && user.is_some();
        let mut th = self.throttle.lock().expect("throttle lock");
        match user {
            Some(user) if right => {
                th.succeeded(&key, ip);
                drop(th);
                let (id, s) = self
                    .sessions
                    .lock()
                    .expect("sessions lock")
                    .begin(&key, now);
                Ok((id, s, user))
            }
            _ => {
                th.failed(&key, ip, now);
                Err(SignInError::Wrong)
            }
        }
    }

    /// The live session with this cookie id and its account (the idle
    /// clock restarts when the request is the person's own, `activity`).
    /// [`sessions::Ended`] says why not: idle, or signed out, expired or
    /// the account gone.
    pub(crate) fn session(
        &self,
        id: &str,
        now: DateTime<Utc>,
        activity: bool,
    ) -> Result<(Session, User), sessions::Ended> {
        let s = self
            .sessions
            .lock()
            .expect("sessions lock")
            .touch(id, now, activity)?;
        let u = self.users.get(&s.username).ok_or(sessions::Ended::Gone)?;
        Ok((s, u))
    }

    /// Whether the session whose id has this digest is still live.
    pub(crate) fn alive(&self, key: &[u8; 32], now: DateTime<Utc>) -> bool {
        self.sessions.lock().expect("sessions lock").alive(key, now)
    }

    pub(crate) fn sign_out(&self, id: &str) -> bool {
        self.sessions.lock().expect("sessions lock").end(id)
    }

    /// Ends every session of `username` but `keep`; returns how many.
    pub(crate) fn sign_out_everywhere(&self, username: &str, keep: Option<&str>) -> usize {
        self.sessions
            .lock()
            .expect("sessions lock")
            .end_all(username, keep)
    }

    /// Checks a person's own password change and hashes the new one
    /// (slow: call it off the runtime, and outside any lock).
    pub(crate) fn prepare_own_password(
        &self,
        username: &str,
        current: &str,
        new: &str,
    ) -> Result<String, Reason> {
        let Some(user) = self.users.get(username) else {
            return Err(Reason::SessionEnded);
        };
        if !password::verify(&user.password, current) {
            return Err(Reason::CurrentPasswordWrong);
        }
        password::acceptable(new, username)?;
        Ok(password::hash(new))
    }

    /// Stores a new password hash. A person's own change (`chosen_by_admin`
    /// false) ends their other sessions and keeps `keep`; an administrator's
    /// reset asks for a change at the next sign-in, ends every session and
    /// any lock.
    pub(crate) fn set_password(
        &self,
        username: &str,
        phc: String,
        chosen_by_admin: bool,
        keep: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.users.update(username, |u| {
            u.password = phc;
            u.must_change_password = chosen_by_admin;
            u.password_changed_at = Some(now);
            Ok(())
        })?;
        if chosen_by_admin {
            self.sign_out_everywhere(username, None);
            self.throttle
                .lock()
                .expect("throttle lock")
                .unlock(username);
        } else {
            self.sign_out_everywhere(username, keep);
        }
        Ok(())
    }

    /// An administrator creates an account with the hash of its first
    /// password ([`password::hash`], made beforehand). Values are checked
    /// by the caller ([`check_user`], [`check_scope`],
    /// [`password::acceptable`]).
    pub(crate) fn create(
        &self,
        new: NewUser,
        phc: String,
        now: DateTime<Utc>,
    ) -> Result<UserInfo, StoreError> {
        let mut roles = new.roles;
        roles.sort();
        roles.dedup();
        let user = User {
            username: new.username,
            display_name: new.display_name.trim().to_string(),
            roles,
            scope: new.scope,
            password: phc,
            must_change_password: true,
            created_at: now,
            password_changed_at: None,
        };
        let info = UserInfo::from(&user);
        self.users.create(user)?;
        Ok(info)
    }

    pub(crate) fn update(&self, username: &str, patch: UserPatch) -> Result<UserInfo, StoreError> {
        let info = self.users.update(username, |u| {
            if let Some(d) = patch.display_name {
                u.display_name = d.trim().to_string();
            }
            if let Some(mut r) = patch.roles {
                r.sort();
                r.dedup();
                u.roles = r;
            }
            if let Some(s) = patch.scope {
                u.scope = s;
            }
            Ok(UserInfo::from(&*u))
        })?;
        // Roles or scope changed: sessions pick them up at their next
        // request (the account is read on every request).
        Ok(info)
    }

    pub(crate) fn delete(&self, username: &str) -> Result<(), StoreError> {
        self.users.delete(username)?;
        self.sign_out_everywhere(username, None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-11-30T01:00:00Z".parse().unwrap()
    }

    #[test]
    fn sign_in_checks_the_password_and_stores_only_its_hash() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("secrets/users.json");
        let a = Accounts::open(&path).unwrap();
        a.create(
            NewUser {
                username: "lan".into(),
                display_name: "Nguyễn Thị Lan".into(),
                roles: vec![Role::Editor],
                scope: None,
                password: String::new(),
            },
            password::hash("mật khẩu đầu tiên"),
            t0(),
        )
        .unwrap();
        let file = std::fs::read_to_string(&path).unwrap();
        assert!(!file.contains("mật khẩu đầu tiên") && file.contains("$argon2id$"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let ip = IpAddr::from([127, 0, 0, 1]);
        assert!(matches!(
            a.sign_in("lan", "sai", ip, t0()),
            Err(SignInError::Wrong)
        ));
        assert!(matches!(
            a.sign_in("nobody", "mật khẩu đầu tiên", ip, t0()),
            Err(SignInError::Wrong)
        ));
        let (id, s, u) = a.sign_in("Lan", "mật khẩu đầu tiên", ip, t0()).unwrap();
        assert!(u.must_change_password);
        assert_eq!(a.session(&id, t0(), true).unwrap().0.csrf, s.csrf);
        // Changing the password ends the other sessions, keeps this one.
        let (other, _, _) = a.sign_in("lan", "mật khẩu đầu tiên", ip, t0()).unwrap();
        assert_eq!(
            a.prepare_own_password("lan", "sai", "mật khẩu của Lan"),
            Err(Reason::CurrentPasswordWrong)
        );
        let phc = a
            .prepare_own_password("lan", "mật khẩu đầu tiên", "mật khẩu của Lan")
            .unwrap();
        a.set_password("lan", phc, false, Some(&id), t0()).unwrap();
        assert!(a.session(&other, t0(), true).is_err());
        assert!(!a.session(&id, t0(), true).unwrap().1.must_change_password);
        // A reset ends every session and asks for a change again.
        a.set_password("lan", password::hash("mật khẩu mới tạm"), true, None, t0())
            .unwrap();
        assert!(a.session(&id, t0(), true).is_err());
        let reopened = Accounts::open(&path).unwrap();
        let (_, _, u) = reopened
            .sign_in("lan", "mật khẩu mới tạm", ip, t0())
            .unwrap();
        assert!(u.must_change_password);
    }
}
