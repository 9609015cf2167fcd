//! Signs online over time: a sample of the fleet (how many configured
//! panels report online, of how many) every few minutes, kept beside proof
//! of play in `state/plays.redb` (table `online`; on the PostgreSQL store
//! its table `online_samples`, sampled by the leader) with the same retention,
//! so the reports can draw availability. One row per sample: at one every
//! five minutes, 400 days are about 115,000 rows (a few MB).

#![warn(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redb::{Database, ReadableTableMetadata, TableDefinition, TableError};
use serde::Serialize;

use super::plays::{at_ms, err, ms, Backend, Plays, PlaysError};

/// Key: the sample's instant in ms since the epoch. Value: (online, panels).
const ONLINE: TableDefinition<u64, (u32, u32)> = TableDefinition::new("online");

/// How often the fleet is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(300);

/// One sample: at `at`, `online` of `panels` configured panels reported online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OnlineSample {
    /// When the sample was taken, UTC (stored to the millisecond).
    pub at: DateTime<Utc>,
    /// Panels that reported online then.
    pub online: u32,
    /// Panels configured then.
    pub panels: u32,
}

impl Plays {
    /// Writes one sample (durably).
    pub fn record_online(&self, s: OnlineSample) -> Result<(), PlaysError> {
        self.record_online_all(&[s])
    }

    /// Writes samples in one durable transaction (a sample at the same
    /// instant as one there replaces it).
    pub fn record_online_all(&self, samples: &[OnlineSample]) -> Result<(), PlaysError> {
        match &self.backend {
            Backend::File(db) => record_file(db, samples),
            Backend::Postgres(pg) => pg.record_online(samples).map_err(err),
        }
    }

    /// Samples with `from <= at < to`, oldest first, at most `limit`.
    pub fn online_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OnlineSample>, PlaysError> {
        let (lo, hi) = (ms(from), ms(to));
        if hi <= lo {
            return Ok(Vec::new());
        }
        match &self.backend {
            Backend::File(db) => between_file(db, (lo, hi), limit),
            Backend::Postgres(pg) => pg.online_between((lo, hi), limit).map_err(err),
        }
    }

    /// Deletes samples taken before `cutoff`; returns how many.
    pub fn prune_online_before(&self, cutoff: DateTime<Utc>) -> Result<u64, PlaysError> {
        match &self.backend {
            Backend::File(db) => prune_file(db, ms(cutoff)),
            Backend::Postgres(pg) => pg.prune_online_before(ms(cutoff)).map_err(err),
        }
    }
}

fn record_file(db: &Database, samples: &[OnlineSample]) -> Result<(), PlaysError> {
    let tx = db.begin_write().map_err(err)?;
    {
        let mut t = tx.open_table(ONLINE).map_err(err)?;
        for s in samples {
            t.insert(ms(s.at), (s.online, s.panels)).map_err(err)?;
        }
    }
    tx.commit().map_err(err)
}

fn between_file(
    db: &Database,
    (lo, hi): (u64, u64),
    limit: usize,
) -> Result<Vec<OnlineSample>, PlaysError> {
    let tx = db.begin_read().map_err(err)?;
    let t = match tx.open_table(ONLINE) {
        Ok(t) => t,
        // Nothing sampled yet: the table is made by the first write.
        Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(err(e)),
    };
    let mut out = Vec::new();
    for row in t.range(lo..hi).map_err(err)? {
        let (k, v) = row.map_err(err)?;
        let (online, panels) = v.value();
        out.push(OnlineSample {
            at: at_ms(k.value()),
            online,
            panels,
        });
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

fn prune_file(db: &Database, before: u64) -> Result<u64, PlaysError> {
    let tx = db.begin_write().map_err(err)?;
    let n;
    {
        let mut t = tx.open_table(ONLINE).map_err(err)?;
        let len = t.len().map_err(err)?;
        t.retain_in(0..before, |_, _| false).map_err(err)?;
        n = len - t.len().map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok(n)
}

/// Samples the fleet every `every` for ever (the first sample at once):
/// `count()` answers (online, panels), or `None` when this server does
/// not sample now (two servers on PostgreSQL: the leader does). Once a
/// day, samples older than `keep` are dropped.
pub async fn sample_forever(
    plays: Arc<Plays>,
    every: Duration,
    keep: chrono::Duration,
    count: impl Fn() -> Option<(u32, u32)> + Send + 'static,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pruned: Option<DateTime<Utc>> = None;
    loop {
        tick.tick().await;
        let now = Utc::now();
        let Some((online, panels)) = count() else {
            continue;
        };
        let p = plays.clone();
        let prune = pruned.is_none_or(|t| now - t > chrono::Duration::days(1));
        let r = tokio::task::spawn_blocking(move || {
            p.record_online(OnlineSample {
                at: now,
                online,
                panels,
            })?;
            if prune {
                p.prune_online_before(now - keep)?;
            }
            Ok::<_, PlaysError>(())
        })
        .await;
        match r {
            Ok(Ok(())) => {
                if prune {
                    pruned = Some(now);
                }
            }
            Ok(Err(e)) => tracing::warn!("fleet sample not saved: {e}"),
            Err(e) => tracing::warn!("fleet sampler failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn samples_persist_query_by_time_and_prune() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("plays.redb");
        let t = |s| Utc.timestamp_opt(s, 0).unwrap();
        let s = |at, online| OnlineSample {
            at: t(at),
            online,
            panels: 10,
        };
        {
            let p = Plays::open(&path).unwrap();
            assert_eq!(p.online_between(t(0), t(1000), 10).unwrap(), vec![]);
            for (at, n) in [(100, 3), (200, 7), (300, 9)] {
                p.record_online(s(at, n)).unwrap();
            }
        }
        let p = Plays::open(&path).unwrap();
        assert_eq!(
            p.online_between(t(150), t(300), 10).unwrap(),
            vec![s(200, 7)]
        );
        assert_eq!(p.online_between(t(0), t(1000), 2).unwrap().len(), 2);
        assert_eq!(p.prune_online_before(t(250)).unwrap(), 2);
        assert_eq!(
            p.online_between(t(0), t(1000), 10).unwrap(),
            vec![s(300, 9)]
        );
    }
}
