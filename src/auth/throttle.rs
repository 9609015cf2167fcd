//! Sign-in failures: a delay per account that grows, and a lock per
//! (account, address). Time is an argument.
//!
//! Why two counters and neither per address alone: a provincial office or
//! a district's commune offices sit behind one NAT address, so a lock per
//! address would let one person's typos (or one guesser) shut out every
//! colleague. A lock per account alone would let anyone lock out the
//! provincial approver by typing wrong passwords for them. So:
//!
//! - **per account**, after [`FREE_FAILURES`] failures in a row from
//!   anywhere, every further attempt must wait a delay that doubles with
//!   each failure, up to [`MAX_DELAY_S`]. Guessing from many addresses
//!   is slowed to one try a minute; the account's owner waits at most a
//!   minute and is never locked out by someone else.
//! - **per (account, address)**, [`PAIR_LIMIT`] failures within
//!   [`PAIR_WINDOW_S`] lock that account *from that address* for
//!   [`PAIR_LOCK_S`], refusing even the right password (423). Colleagues
//!   behind the same address sign in to their own accounts as usual.
//!
//! A success clears both for the account. Memory is bounded: past
//! [`KEPT`] entries the quiet ones are forgotten first.

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};

pub(crate) const FREE_FAILURES: u32 = 5;
pub(crate) const MAX_DELAY_S: i64 = 60;
pub(crate) const PAIR_LIMIT: u32 = 10;
pub(crate) const PAIR_WINDOW_S: i64 = 15 * 60;
pub(crate) const PAIR_LOCK_S: i64 = 15 * 60;
const KEPT: usize = 10_000;

/// Why an attempt is refused before the password is even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// The account waits after repeated failures (429, Retry-After).
    Wait { until: DateTime<Utc> },
    /// The account is locked from this address (423, Retry-After).
    Locked { until: DateTime<Utc> },
}

impl Hold {
    /// Whole seconds until the hold ends, at least 1.
    pub(crate) fn retry_after(&self, now: DateTime<Utc>) -> i64 {
        let until = match self {
            Hold::Wait { until } | Hold::Locked { until } => *until,
        };
        (until - now).num_seconds().max(1)
    }
}

#[derive(Debug, Clone, Copy)]
struct Account {
    failures: u32,
    last: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
struct Pair {
    failures: u32,
    first: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

/// The numbers above, as one value (tests shorten the delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    pub free_failures: u32,
    pub max_delay_s: i64,
    pub pair_limit: u32,
    pub pair_window_s: i64,
    pub pair_lock_s: i64,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            free_failures: FREE_FAILURES,
            max_delay_s: MAX_DELAY_S,
            pair_limit: PAIR_LIMIT,
            pair_window_s: PAIR_WINDOW_S,
            pair_lock_s: PAIR_LOCK_S,
        }
    }
}

#[derive(Default)]
pub(crate) struct Throttle {
    pub policy: Policy,
    accounts: HashMap<String, Account>,
    pairs: HashMap<(String, IpAddr), Pair>,
}

impl Policy {
    /// The delay after `failures` failures in a row.
    fn delay(&self, failures: u32) -> Duration {
        if failures < self.free_failures {
            return Duration::zero();
        }
        let exp = (failures - self.free_failures).min(16);
        Duration::seconds((1i64 << exp).min(self.max_delay_s))
    }
}

impl Throttle {
    /// Whether `account` may try from `ip` now.
    pub(crate) fn check(&self, account: &str, ip: IpAddr, now: DateTime<Utc>) -> Result<(), Hold> {
        if let Some(p) = self.pairs.get(&(account.to_string(), ip)) {
            if let Some(until) = p.locked_until.filter(|u| *u > now) {
                return Err(Hold::Locked { until });
            }
        }
        if let Some(a) = self.accounts.get(account) {
            let until = a.last + self.policy.delay(a.failures);
            if until > now {
                return Err(Hold::Wait { until });
            }
        }
        Ok(())
    }

    /// Counts a wrong password for `account` from `ip`.
    pub(crate) fn failed(&mut self, account: &str, ip: IpAddr, now: DateTime<Utc>) {
        self.bound(now);
        let a = self.accounts.entry(account.to_string()).or_insert(Account {
            failures: 0,
            last: now,
        });
        a.failures += 1;
        a.last = now;
        let p = self.pairs.entry((account.to_string(), ip)).or_insert(Pair {
            failures: 0,
            first: now,
            locked_until: None,
        });
        if now - p.first > Duration::seconds(self.policy.pair_window_s)
            || p.locked_until.is_some_and(|u| u <= now)
        {
            *p = Pair {
                failures: 0,
                first: now,
                locked_until: None,
            };
        }
        p.failures += 1;
        if p.failures >= self.policy.pair_limit {
            p.locked_until = Some(now + Duration::seconds(self.policy.pair_lock_s));
        }
    }

    /// A right password from `ip`: the account's delay and this
    /// address's count are forgotten. Locks from other addresses stay
    /// (the owner signing in elsewhere does not give a guesser new tries).
    pub(crate) fn succeeded(&mut self, account: &str, ip: IpAddr) {
        self.accounts.remove(account);
        self.pairs.remove(&(account.to_string(), ip));
    }

    /// An administrator reset the password: every lock on it ends.
    pub(crate) fn unlock(&mut self, account: &str) {
        self.accounts.remove(account);
        self.pairs.retain(|(a, _), _| a != account);
    }

    fn bound(&mut self, now: DateTime<Utc>) {
        let quiet = Duration::seconds(self.policy.pair_window_s.max(self.policy.pair_lock_s));
        if self.accounts.len() >= KEPT {
            self.accounts.retain(|_, a| now - a.last < quiet);
        }
        if self.pairs.len() >= KEPT {
            self.pairs
                .retain(|_, p| now - p.first < quiet || p.locked_until.is_some_and(|u| u > now));
        }
        // Still full (a flood of fresh names): forget everything but locks.
        if self.accounts.len() >= KEPT {
            self.accounts.clear();
        }
        if self.pairs.len() >= KEPT {
            self.pairs
                .retain(|_, p| p.locked_until.is_some_and(|u| u > now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-11-30T01:00:00Z".parse().unwrap()
    }
    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn the_delay_grows_per_account_and_is_capped() {
        let mut th = Throttle::default();
        let now = t0();
        for _ in 0..FREE_FAILURES - 1 {
            th.failed("lan", ip(1), now);
        }
        assert!(
            th.check("lan", ip(1), now).is_ok(),
            "the first failures are free"
        );
        th.failed("lan", ip(2), now);
        assert_eq!(
            th.check("lan", ip(3), now),
            Err(Hold::Wait {
                until: now + Duration::seconds(1)
            }),
            "from any address"
        );
        for _ in 0..20 {
            th.failed("lan", ip(4), now);
        }
        let Err(Hold::Wait { until }) = th.check("lan", ip(5), now) else {
            panic!("should wait")
        };
        assert_eq!(until - now, Duration::seconds(MAX_DELAY_S));
        assert!(th
            .check("lan", ip(5), now + Duration::seconds(MAX_DELAY_S))
            .is_ok());
        assert!(
            th.check("hoa", ip(4), now).is_ok(),
            "other accounts are untouched"
        );
    }

    #[test]
    fn the_lock_is_per_account_and_address_so_one_nat_is_not_shut_out() {
        let mut th = Throttle::default();
        let office = ip(9);
        let mut now = t0();
        for _ in 0..PAIR_LIMIT {
            th.failed("lan", office, now);
            now += Duration::seconds(MAX_DELAY_S);
        }
        assert!(matches!(
            th.check("lan", office, now),
            Err(Hold::Locked { .. })
        ));
        // A colleague behind the same address is not held at all.
        assert!(th.check("hoa", office, now).is_ok());
        // Lan from home waits at most the account delay, never the lock.
        assert!(th
            .check("lan", ip(10), now + Duration::seconds(MAX_DELAY_S))
            .is_ok());
        // The lock ends by itself.
        let later = now + Duration::seconds(PAIR_LOCK_S + MAX_DELAY_S);
        assert!(th.check("lan", office, later).is_ok());
        // A success elsewhere leaves the lock from the office in place…
        let mut th2 = Throttle::default();
        for i in 0..PAIR_LIMIT {
            th2.failed("lan", office, t0() + Duration::seconds(i as i64));
        }
        th2.succeeded("lan", ip(10));
        let soon = t0() + Duration::seconds(MAX_DELAY_S * 2);
        assert!(matches!(
            th2.check("lan", office, soon),
            Err(Hold::Locked { .. })
        ));
        assert!(th2.check("lan", ip(10), soon).is_ok());
        // …until an administrator's reset.
        th2.unlock("lan");
        assert!(th2.check("lan", office, soon).is_ok());
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_names() {
        let mut th = Throttle::default();
        let now = t0();
        for i in 0..(KEPT * 2) {
            th.failed(&format!("guess-{i}"), ip((i % 250) as u8), now);
        }
        assert!(th.accounts.len() <= KEPT && th.pairs.len() <= KEPT);
    }
}
