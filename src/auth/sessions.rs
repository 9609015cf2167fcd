//! Signed-in sessions, in memory: a restart signs everyone out, and a
//! session id never touches the disk. The id in the cookie is 32 random
//! bytes; only its SHA-256 is kept, so it is looked up, never compared
//! byte by byte. Each session has its own CSRF token. Time is an
//! argument.
//!
//! Only a person's own requests restart the idle clock: what a dashboard
//! asks for by itself (polling, the event stream) is marked background
//! and leaves it alone, so a tab left open still ends. A session that
//! ended for inactivity is remembered as such until its absolute end, so
//! every later request can say why (not just that it ended); making room
//! at the cap on sessions drops what is past its absolute end first.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::store::secret_file::{digest, new_secret};

/// A session ends after this long without a request of its person's
/// (the default; the server may set another, [`Sessions::with_idle`])…
pub(crate) const IDLE: Duration = Duration::minutes(30);
/// …and this long after sign-in, however busy.
pub(crate) const ABSOLUTE: Duration = Duration::hours(12);
/// Sessions kept per person: the oldest ends when one more begins.
pub(crate) const PER_PERSON: usize = 20;
/// Sessions kept in all.
const KEPT: usize = 100_000;

#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub username: String,
    pub csrf: String,
    pub created: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// How long it lasts without a request of its person's.
    pub idle: Duration,
}

impl Session {
    /// When it ends if nothing more happens.
    pub(crate) fn expires(&self) -> DateTime<Utc> {
        (self.last_seen + self.idle).min(self.created + ABSOLUTE)
    }
}

/// Why a cookie no longer signs anyone in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Its person did nothing for the idle time.
    Idle,
    /// Signed out, past the absolute limit, or never a session.
    Gone,
}

pub(crate) struct Sessions {
    by_id: HashMap<[u8; 32], Session>,
    idle: Duration,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions::with_idle(IDLE)
    }
}

impl Sessions {
    /// No sessions yet; each new one ends after `idle` without a request
    /// of its person's.
    pub(crate) fn with_idle(idle: Duration) -> Sessions {
        Sessions {
            by_id: HashMap::new(),
            idle,
        }
    }

    /// A new session for `username`: (the cookie's id, the session).
    pub(crate) fn begin(&mut self, username: &str, now: DateTime<Utc>) -> (String, Session) {
        if self.by_id.len() >= KEPT {
            self.prune(now);
        }
        let mine: Vec<([u8; 32], DateTime<Utc>)> = self
            .by_id
            .iter()
            .filter(|(_, s)| s.username == username)
            .map(|(k, s)| (*k, s.created))
            .collect();
        if mine.len() >= PER_PERSON {
            if let Some((oldest, _)) = mine.iter().min_by_key(|(_, c)| *c) {
                self.by_id.remove(oldest);
            }
        }
        let id = new_secret();
        let s = Session {
            username: username.to_string(),
            csrf: new_secret(),
            created: now,
            last_seen: now,
            idle: self.idle,
        };
        self.by_id.insert(digest(&id), s.clone());
        (id, s)
    }

    /// Makes room at the cap: drops the sessions past their absolute end;
    /// those that only went idle go too only when that was not enough, so
    /// an idle one goes on answering that it went idle (`Ended::Idle`)
    /// until its absolute end whenever there is room for it.
    fn prune(&mut self, now: DateTime<Utc>) {
        self.by_id.retain(|_, s| s.created + ABSOLUTE > now);
        if self.by_id.len() >= KEPT {
            self.by_id.retain(|_, s| s.expires() > now);
        }
    }

    /// The live session with this cookie id, its idle clock restarted
    /// when the request is the person's own (`activity`), not one the
    /// page made by itself. One past its absolute end is forgotten; one
    /// that went idle is kept until then, to say so.
    pub(crate) fn touch(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
        activity: bool,
    ) -> Result<Session, Ended> {
        let key = digest(id);
        let s = self.by_id.get_mut(&key).ok_or(Ended::Gone)?;
        if s.created + ABSOLUTE <= now {
            self.by_id.remove(&key);
            return Err(Ended::Gone);
        }
        if s.expires() <= now {
            return Err(Ended::Idle);
        }
        if activity {
            s.last_seen = now;
        }
        Ok(s.clone())
    }

    /// Whether the session with this id digest is still live (for long
    /// replies such as the event stream).
    pub(crate) fn alive(&self, key: &[u8; 32], now: DateTime<Utc>) -> bool {
        self.by_id.get(key).is_some_and(|s| s.expires() > now)
    }

    /// Ends one session; returns whether there was one.
    pub(crate) fn end(&mut self, id: &str) -> bool {
        self.by_id.remove(&digest(id)).is_some()
    }

    /// Ends every session of `username` (sign-out everywhere), except the
    /// one with id `keep`; returns how many ended.
    pub(crate) fn end_all(&mut self, username: &str, keep: Option<&str>) -> usize {
        let keep = keep.map(digest);
        let before = self.by_id.len();
        self.by_id
            .retain(|k, s| s.username != username || Some(*k) == keep);
        before - self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-11-30T01:00:00Z".parse().unwrap()
    }

    #[test]
    fn idle_and_absolute_timeouts_end_a_session() {
        let mut ss = Sessions::default();
        let (id, s) = ss.begin("lan", t0());
        assert_eq!(s.csrf.len(), 64);
        assert_ne!(s.csrf, id);
        // Busy: every 20 minutes keeps it alive, until the absolute end.
        let mut now = t0();
        while now + Duration::minutes(20) < t0() + ABSOLUTE {
            now += Duration::minutes(20);
            assert!(ss.touch(&id, now, true).is_ok(), "alive at {now}");
        }
        assert!(
            ss.touch(&id, t0() + ABSOLUTE, true).is_err(),
            "absolute timeout"
        );
        let (id, _) = ss.begin("lan", t0());
        assert!(ss
            .touch(&id, t0() + IDLE - Duration::seconds(1), true)
            .is_ok());
        assert!(
            ss.touch(&id, t0() + IDLE * 2, true).is_err(),
            "idle timeout (30 min after the last request)"
        );
        assert!(ss.touch("made-up-by-an-attacker", t0(), true).is_err());
    }

    #[test]
    fn only_the_persons_own_requests_keep_a_session_alive() {
        let mut ss = Sessions::with_idle(Duration::minutes(10));
        let (id, _) = ss.begin("lan", t0());
        // The page polls every 30 s by itself: the idle clock runs on.
        let mut now = t0();
        while now + Duration::seconds(30) < t0() + Duration::minutes(10) {
            now += Duration::seconds(30);
            assert!(ss.touch(&id, now, false).is_ok(), "alive at {now}");
        }
        let idle_end = t0() + Duration::minutes(10);
        assert_eq!(ss.touch(&id, idle_end, false).unwrap_err(), Ended::Idle);
        // It says so to every later request, a click too, until its
        // absolute end; then it is forgotten.
        let later = idle_end + Duration::minutes(5);
        assert_eq!(ss.touch(&id, later, true).unwrap_err(), Ended::Idle);
        assert_eq!(
            ss.touch(&id, t0() + ABSOLUTE, true).unwrap_err(),
            Ended::Gone
        );
        assert!(ss.by_id.is_empty());
        // A click restarts the clock; background requests after it do not.
        let (id, _) = ss.begin("lan", t0());
        let click = t0() + Duration::minutes(9);
        assert!(ss.touch(&id, click, true).is_ok());
        let poll = click + Duration::minutes(9);
        assert!(
            ss.touch(&id, poll, false).is_ok(),
            "9 minutes after the click"
        );
        assert_eq!(
            ss.touch(&id, click + Duration::minutes(10), false)
                .unwrap_err(),
            Ended::Idle
        );
        assert_eq!(ss.touch("made-up", t0(), true).unwrap_err(), Ended::Gone);
    }

    /// Fills the sessions up to [`KEPT`] with others' sessions begun at
    /// `created` (inserted as they are, so a test need not sign in a
    /// hundred thousand times).
    fn fill(ss: &mut Sessions, created: DateTime<Utc>) {
        let other = Session {
            username: "others".into(),
            csrf: String::new(),
            created,
            last_seen: created,
            idle: ss.idle,
        };
        for i in 0..KEPT - ss.by_id.len() {
            let mut key = [0xff; 32];
            key[..8].copy_from_slice(&(i as u64).to_le_bytes());
            ss.by_id.insert(key, other.clone());
        }
        assert_eq!(ss.by_id.len(), KEPT);
    }

    #[test]
    fn pruning_keeps_saying_that_a_session_went_idle() {
        let mut ss = Sessions::with_idle(Duration::minutes(10));
        let (id, _) = ss.begin("lan", t0());
        let now = t0() + Duration::hours(1);
        assert_eq!(ss.touch(&id, now, false).unwrap_err(), Ended::Idle);
        // At the cap, with sessions past their absolute end to drop: a
        // sign-in prunes those, and the idle one still says why it ended.
        fill(&mut ss, now - ABSOLUTE);
        ss.begin("hoa", now);
        assert_eq!(ss.by_id.len(), 2, "lan's idle session and hoa's");
        assert_eq!(ss.touch(&id, now, true).unwrap_err(), Ended::Idle);
        // Only when live sessions alone fill the cap does an idle one go.
        fill(&mut ss, now);
        ss.begin("hoa", now);
        assert_eq!(ss.touch(&id, now, true).unwrap_err(), Ended::Gone);
    }

    #[test]
    fn sign_out_everywhere_ends_every_session_of_the_person_only() {
        let mut ss = Sessions::default();
        let (a, _) = ss.begin("lan", t0());
        let (b, _) = ss.begin("lan", t0());
        let (c, _) = ss.begin("hoa", t0());
        assert_eq!(ss.end_all("lan", Some(&b)), 1);
        assert!(ss.touch(&a, t0(), true).is_err());
        assert!(ss.touch(&b, t0(), true).is_ok(), "the one kept");
        assert!(ss.touch(&c, t0(), true).is_ok(), "someone else's");
        assert_eq!(ss.end_all("lan", None), 1);
        assert!(ss.touch(&b, t0(), true).is_err());
        for _ in 0..PER_PERSON + 5 {
            ss.begin("hoa", t0());
        }
        assert_eq!(
            ss.by_id.values().filter(|s| s.username == "hoa").count(),
            PER_PERSON
        );
    }
}
