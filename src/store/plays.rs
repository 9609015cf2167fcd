//! Proof of play: one row per frame a controller acknowledged as shown,
//! kept in an embedded database (redb: pure Rust, crash-safe, no server)
//! at `state/plays.redb`, with retention.
//!
//! Rows arrive in bursts (10,000 panels acknowledging one change), so they
//! are written in batches: one durable transaction per [`Plays::insert`].

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use redb::{Database, ReadableTableMetadata, TableDefinition};
use serde::Serialize;

/// Key: (shown_at in ms since the epoch, panel, seq) — time first, so a
/// report is one range scan. Value: (message, campaign, alert), "" = none.
const PLAYS: TableDefinition<(u64, &str, u32), (&str, &str, &str)> = TableDefinition::new("plays");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Play {
    pub panel: String,
    pub message: Option<String>,
    pub campaign: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    pub seq: u32,
    pub shown_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
#[error("proof-of-play database: {0}")]
pub struct PlaysError(String);

pub(super) fn err(e: impl std::fmt::Display) -> PlaysError {
    PlaysError(e.to_string())
}

pub struct Plays {
    pub(super) db: Database,
}

impl Plays {
    pub fn open(path: &Path) -> Result<Plays, PlaysError> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(err)?;
        }
        let db = Database::create(path).map_err(err)?;
        let tx = db.begin_write().map_err(err)?;
        tx.open_table(PLAYS).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Plays { db })
    }

    /// Writes rows in one durable transaction.
    pub fn insert(&self, rows: &[Play]) -> Result<(), PlaysError> {
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(err)?;
        {
            let mut t = tx.open_table(PLAYS).map_err(err)?;
            for r in rows {
                let ms = r.shown_at.timestamp_millis().max(0) as u64;
                t.insert(
                    (ms, r.panel.as_str(), r.seq),
                    (
                        r.message.as_deref().unwrap_or(""),
                        r.campaign.as_deref().unwrap_or(""),
                        r.alert.as_deref().unwrap_or(""),
                    ),
                )
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Rows with `from <= shown_at < to`, oldest first, optionally for one
    /// panel; at most `limit`.
    pub fn query(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        panel: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Play>, PlaysError> {
        let tx = self.db.begin_read().map_err(err)?;
        let t = tx.open_table(PLAYS).map_err(err)?;
        let lo = from.timestamp_millis().max(0) as u64;
        let hi = to.timestamp_millis().max(0) as u64;
        let mut out = Vec::new();
        if hi <= lo {
            return Ok(out);
        }
        for row in t.range((lo, "", 0)..(hi, "", 0)).map_err(err)? {
            let (k, v) = row.map_err(err)?;
            let (ms, p, seq) = k.value();
            if panel.is_some_and(|want| want != p) {
                continue;
            }
            let (m, c, a) = v.value();
            let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
            out.push(Play {
                panel: p.to_string(),
                message: opt(m),
                campaign: opt(c),
                alert: opt(a),
                seq,
                shown_at: Utc
                    .timestamp_millis_opt(ms as i64)
                    .single()
                    .unwrap_or_default(),
            });
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Deletes rows shown before `cutoff`; returns how many.
    pub fn prune_before(&self, cutoff: DateTime<Utc>) -> Result<u64, PlaysError> {
        let hi = cutoff.timestamp_millis().max(0) as u64;
        let tx = self.db.begin_write().map_err(err)?;
        let n;
        {
            let mut t = tx.open_table(PLAYS).map_err(err)?;
            let before = t.len().map_err(err)?;
            t.retain_in((0u64, "", 0u32)..(hi, "", 0u32), |_, _| false)
                .map_err(err)?;
            n = before - t.len().map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(panel: &str, seq: u32, at: i64) -> Play {
        Play {
            panel: panel.into(),
            message: Some("m1".into()),
            campaign: Some("c1".into()),
            alert: None,
            seq,
            shown_at: Utc.timestamp_opt(at, 0).unwrap(),
        }
    }

    #[test]
    fn rows_persist_and_query_by_time_and_panel() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("plays.redb");
        {
            let p = Plays::open(&path).unwrap();
            p.insert(&[play("a", 1, 100), play("b", 1, 200), play("a", 2, 300)])
                .unwrap();
        }
        let p = Plays::open(&path).unwrap();
        let t = |s| Utc.timestamp_opt(s, 0).unwrap();
        assert_eq!(p.query(t(0), t(1000), None, 100).unwrap().len(), 3);
        assert_eq!(
            p.query(t(150), t(300), None, 100).unwrap(),
            vec![play("b", 1, 200)]
        );
        assert_eq!(p.query(t(0), t(1000), Some("a"), 100).unwrap().len(), 2);
        assert_eq!(p.prune_before(t(250)).unwrap(), 2);
        assert_eq!(
            p.query(t(0), t(1000), None, 100).unwrap(),
            vec![play("a", 2, 300)]
        );
    }
}
