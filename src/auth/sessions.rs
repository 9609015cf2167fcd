//! Signed-in sessions, in memory: a restart signs everyone out, and a
//! session id never touches the disk. The id in the cookie is 32 random
//! bytes; only its SHA-256 is kept, so it is looked up, never compared
//! byte by byte. Each session has its own CSRF token. Time is an
//! argument.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::store::secret_file::{digest, new_secret};

/// A session ends after this long without a request…
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
}

impl Session {
    /// When it ends if nothing more happens.
    pub(crate) fn expires(&self) -> DateTime<Utc> {
        (self.last_seen + IDLE).min(self.created + ABSOLUTE)
    }
}

#[derive(Default)]
pub(crate) struct Sessions {
    by_id: HashMap<[u8; 32], Session>,
}

impl Sessions {
    /// A new session for `username`: (the cookie's id, the session).
    pub(crate) fn begin(&mut self, username: &str, now: DateTime<Utc>) -> (String, Session) {
        if self.by_id.len() >= KEPT {
            self.by_id.retain(|_, s| s.expires() > now);
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
        };
        self.by_id.insert(digest(&id), s.clone());
        (id, s)
    }

    /// The live session with this cookie id (its idle clock restarted),
    /// or `None`; an expired one is forgotten.
    pub(crate) fn touch(&mut self, id: &str, now: DateTime<Utc>) -> Option<Session> {
        let key = digest(id);
        let s = self.by_id.get_mut(&key)?;
        if s.expires() <= now {
            self.by_id.remove(&key);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
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
            assert!(ss.touch(&id, now).is_some(), "alive at {now}");
        }
        assert!(ss.touch(&id, t0() + ABSOLUTE).is_none(), "absolute timeout");
        let (id, _) = ss.begin("lan", t0());
        assert!(ss.touch(&id, t0() + IDLE - Duration::seconds(1)).is_some());
        assert!(
            ss.touch(&id, t0() + IDLE * 2).is_none(),
            "idle timeout (30 min after the last request)"
        );
        assert!(ss.touch("made-up-by-an-attacker", t0()).is_none());
    }

    #[test]
    fn sign_out_everywhere_ends_every_session_of_the_person_only() {
        let mut ss = Sessions::default();
        let (a, _) = ss.begin("lan", t0());
        let (b, _) = ss.begin("lan", t0());
        let (c, _) = ss.begin("hoa", t0());
        assert_eq!(ss.end_all("lan", Some(&b)), 1);
        assert!(ss.touch(&a, t0()).is_none());
        assert!(ss.touch(&b, t0()).is_some(), "the one kept");
        assert!(ss.touch(&c, t0()).is_some(), "someone else's");
        assert_eq!(ss.end_all("lan", None), 1);
        assert!(ss.touch(&b, t0()).is_none());
        for _ in 0..PER_PERSON + 5 {
            ss.begin("hoa", t0());
        }
        assert_eq!(
            ss.by_id.values().filter(|s| s.username == "hoa").count(),
            PER_PERSON
        );
    }
}
