//! Alarm settings and incidents in the data directory:
//!
//! ```text
//! DIR/secrets/alarms.json   settings (thresholds, recipients, webhook URL and
//!                           secret, SMTP password, quiet hours): mode 600,
//!                           hand-editable, re-read when it changes
//! DIR/state/alarms.json     incidents (open ones and the latest closed),
//!                           acknowledgements, when the last digest went
//! ```
//!
//! Both are written atomically (temp file, fsync, rename); the settings
//! with mode 600 from the first byte.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::alarms::config::AlarmConfig;
use crate::alarms::core::{Kind, Told};
use crate::domain::Id;
use crate::fsio;
use crate::i18n::Text;

/// The alarm settings, under the data directory.
pub(crate) const CONFIG_FILE: &str = "secrets/alarms.json";
const LOG_FILE: &str = "state/alarms.json";
/// Closed incidents kept (the oldest are dropped first; open ones always stay).
pub(crate) const KEEP_CLOSED: usize = 2000;

/// One outage of one panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Incident {
    /// Numbered from 1 in the order raised; never reused.
    pub id: u64,
    /// The panel that is out.
    pub panel: Id,
    /// What is wrong: offline, or not confirming its frames.
    pub kind: Kind,
    /// Delivered during quiet hours too.
    pub urgent: bool,
    /// When the outage began.
    pub since: DateTime<Utc>,
    /// When the threshold was passed and the alarm raised.
    pub raised_at: DateTime<Utc>,
    /// When the outage ended (the condition cleared, then stayed clear for
    /// the minimum recovery time).
    #[serde(default)]
    pub recovered_at: Option<DateTime<Utc>>,
    /// Closed because the panel was deleted (no recovery notice).
    #[serde(default)]
    pub removed: bool,
    /// What has been told of it and what waits for the digest.
    #[serde(flatten)]
    pub told: Told,
    /// Who acknowledged the alarm, if anyone did.
    #[serde(default)]
    pub acked_by: Option<String>,
    /// When it was acknowledged.
    #[serde(default)]
    pub acked_at: Option<DateTime<Utc>>,
}

impl Incident {
    /// Whether the outage goes on (it has not recovered).
    pub fn is_open(&self) -> bool {
        self.recovered_at.is_none()
    }
}

#[cfg(test)]
impl Incident {
    /// An open, non-urgent `offline` incident of panel `p1` raised at `at`.
    pub(crate) fn sample(id: u64, at: DateTime<Utc>) -> Incident {
        Incident {
            id,
            panel: Id::parse("p1").expect("an id"),
            kind: Kind::Offline,
            urgent: false,
            since: at,
            raised_at: at,
            recovered_at: None,
            removed: false,
            told: Told::default(),
            acked_by: None,
            acked_at: None,
        }
    }
}

/// `state/alarms.json`: every incident kept, and the digest's bookkeeping.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AlarmLog {
    /// The last id given (the next incident gets one more).
    pub next_id: u64,
    /// When the last digest was made (set at first start, so a new server
    /// does not send one at once).
    pub last_digest: Option<DateTime<Utc>>,
    /// Oldest first.
    pub incidents: Vec<Incident>,
}

struct ConfigState {
    seen: Option<(u64, std::time::SystemTime)>,
    config: AlarmConfig,
    problem: Option<Text>,
}

/// The alarms' settings (`secrets/alarms.json`, reloaded when it changes) and
/// their incident log (`state/alarms.json`), written durably.
pub struct AlarmStore {
    config_path: PathBuf,
    log_path: PathBuf,
    config: Mutex<ConfigState>,
    log: Mutex<AlarmLog>,
    /// On the PostgreSQL store: the files two servers share
    /// ([`AlarmStore::share`]).
    shared: std::sync::OnceLock<std::sync::Arc<super::shared_files::SharedFiles>>,
}

fn stamp(path: &Path) -> Option<(u64, std::time::SystemTime)> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.len(), m.modified().unwrap_or(std::time::UNIX_EPOCH)))
}

impl AlarmStore {
    /// Opens both files; a missing file is the defaults, a broken one is
    /// reported ([`AlarmStore::problem`]) and the defaults (or the last
    /// good settings) stay in force.
    pub fn open(data: &Path) -> AlarmStore {
        let config_path = data.join(CONFIG_FILE);
        let log_path = data.join(LOG_FILE);
        fsio::remove_stale_temps(&config_path);
        fsio::remove_stale_temps(&log_path);
        let log = match super::read_json::<AlarmLog>(&log_path) {
            Ok(l) => l,
            Err(p) => {
                if log_path.exists() {
                    tracing::error!("alarm incidents not read, starting empty: {p}");
                }
                AlarmLog::default()
            }
        };
        let s = AlarmStore {
            config_path,
            log_path,
            config: Mutex::new(ConfigState {
                seen: None,
                config: AlarmConfig::default(),
                problem: None,
            }),
            log: Mutex::new(log),
            shared: std::sync::OnceLock::new(),
        };
        s.config();
        s
    }

    /// The settings in force (re-read if the file changed).
    pub fn config(&self) -> AlarmConfig {
        let mut st = self.config.lock().expect("alarm config lock");
        let seen = stamp(&self.config_path);
        if seen != st.seen {
            st.seen = seen;
            if seen.is_some() {
                let read = super::read_json::<AlarmConfig>(&self.config_path)
                    .map_err(|p| p.message)
                    .and_then(|c| c.check().map(|_| c).map_err(|e| e.0));
                match read {
                    Ok(c) => {
                        st.config = c;
                        st.problem = None;
                    }
                    Err(e) => {
                        tracing::error!(path = %self.config_path.display(), "alarm settings not applied: {e}");
                        st.problem = Some(e);
                    }
                }
            }
        }
        st.config.clone()
    }

    /// Why the settings file is not in force, if it is not.
    pub fn problem(&self) -> Option<Text> {
        self.config();
        self.config
            .lock()
            .expect("alarm config lock")
            .problem
            .clone()
    }

    /// On the PostgreSQL store: the settings are written through the
    /// database ([`super::shared_files::SharedFiles::write`]) from now on.
    pub fn share(&self, files: &std::sync::Arc<super::shared_files::SharedFiles>) {
        if files.name_of(&self.config_path).is_some() {
            let _ = self.shared.set(files.clone());
        }
    }

    /// Checks and writes new settings (mode 600), then puts them in force.
    /// `sent` is the settings as a PUT sends them: a secret it leaves out
    /// (the webhook's, the mail password) is kept from the latest stored
    /// settings, an empty one clears it ([`AlarmConfig::keeping_secrets`]).
    /// On the PostgreSQL store the latest settings are the database's
    /// copy, read and replaced under the file's lock
    /// ([`super::shared_files::SharedFiles::write`]): a secret another
    /// server changed a moment ago, not yet written here, is kept, not
    /// overwritten with this server's older one. (The settings are
    /// otherwise replaced whole: the latest commit is in force
    /// everywhere.)
    pub fn set_config(&self, sent: AlarmConfig) -> Result<AlarmConfig, StoreError> {
        sent.check()?;
        // Re-read first if changed by hand: the last good settings here.
        let here = self.config();
        let mut st = self.config.lock().expect("alarm config lock");
        // Shared: the file's time is taken while the write's guard keeps
        // another server's copy from being written here.
        let (full, _turn) = match self.shared.get() {
            Some(files) => {
                let mut full = None;
                let turn = files
                    .write(&self.config_path, |latest| {
                        // A copy broken by hand keeps the last good secrets.
                        let stored = latest
                            .and_then(|b| serde_json::from_slice::<AlarmConfig>(&b).ok())
                            .unwrap_or(here);
                        let c = sent.keeping_secrets(&stored);
                        let bytes = super::pretty(&c);
                        full = Some(c);
                        Ok(bytes)
                    })?
                    .1;
                (
                    full.expect("the write asked for the new settings"),
                    Some(turn),
                )
            }
            None => {
                let full = sent.keeping_secrets(&here);
                fsio::write_secret(&self.config_path, &super::pretty(&full))
                    .map_err(|e| StoreError::io(&self.config_path, e))?;
                (full, None)
            }
        };
        st.seen = stamp(&self.config_path);
        st.config = full.clone();
        st.problem = None;
        Ok(full)
    }

    /// A copy of the incidents (oldest first) and the digest mark.
    pub fn log(&self) -> AlarmLog {
        self.log.lock().expect("alarm log lock").clone()
    }

    /// Reads the log in place.
    pub fn with_log<R>(&self, f: impl FnOnce(&AlarmLog) -> R) -> R {
        f(&self.log.lock().expect("alarm log lock"))
    }

    /// Applies `change` to a copy of the log, writes it, then keeps it.
    /// Nothing changes if the write fails.
    pub fn update<R>(
        &self,
        change: impl FnOnce(&mut AlarmLog) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut log = self.log.lock().expect("alarm log lock");
        let mut next = log.clone();
        let r = change(&mut next)?;
        let closed = next.incidents.iter().filter(|i| !i.is_open()).count();
        if closed > KEEP_CLOSED {
            let mut drop = closed - KEEP_CLOSED;
            next.incidents.retain(|i| {
                if drop > 0 && !i.is_open() {
                    drop -= 1;
                    false
                } else {
                    true
                }
            });
        }
        fsio::write_atomic(&self.log_path, &super::pretty(&next))
            .map_err(|e| StoreError::io(&self.log_path, e))?;
        *log = next;
        Ok(r)
    }

    /// Records who acknowledged an incident and when (once: a second
    /// acknowledgement keeps the first).
    pub fn acknowledge(
        &self,
        id: u64,
        who: &str,
        at: DateTime<Utc>,
    ) -> Result<Incident, StoreError> {
        self.update(|log| {
            let i = log
                .incidents
                .iter_mut()
                .find(|i| i.id == id)
                .ok_or_else(|| StoreError::NotFound {
                    kind: "alarm",
                    id: id.to_string(),
                })?;
            if i.acked_by.is_none() {
                i.acked_by = Some(who.to_string());
                i.acked_at = Some(at);
            }
            Ok(i.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_written_mode_600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let s = AlarmStore::open(dir.path());
        assert_eq!(s.config(), AlarmConfig::default());
        let c = AlarmConfig {
            offline_after_s: 30,
            ..Default::default()
        };
        s.set_config(c.clone()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(CONFIG_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(AlarmStore::open(dir.path()).config(), c);
        let bad = AlarmConfig {
            offline_after_s: 0,
            ..Default::default()
        };
        assert!(matches!(s.set_config(bad), Err(StoreError::Refused(_))));
        assert_eq!(s.config(), c, "a refused change changes nothing");
    }

    #[test]
    fn an_incident_is_acknowledged_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = AlarmStore::open(dir.path());
        let at = Utc::now();
        s.update(|log| {
            log.incidents.push(Incident::sample(1, at));
            Ok(())
        })
        .unwrap();
        let a = s.acknowledge(1, "lan", at).unwrap();
        assert_eq!(a.acked_by.as_deref(), Some("lan"));
        let b = s.acknowledge(1, "minh", at).unwrap();
        assert_eq!(b.acked_by.as_deref(), Some("lan"));
        assert!(matches!(
            s.acknowledge(9, "x", at),
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(AlarmStore::open(dir.path()).log().incidents, vec![b]);
    }
}
