//! Proof of play and the fleet's online samples in the PostgreSQL store
//! (`plays`, `online_samples`), as `state/plays.redb` keeps them on a
//! file store ([`crate::store::plays`]): every server reads the rows any
//! leader wrote, so reports span failovers. Times are milliseconds since
//! the epoch, as there.

use tokio_postgres::types::ToSql;

use super::Postgres;
use crate::store::online::OnlineSample;
use crate::store::plays::{at_ms, Play};
use crate::store::StoreError;

impl Postgres {
    /// Writes rows in one transaction. A row already there (the same
    /// instant, panel and seq) takes the newer values and keeps its
    /// verified mark, as on the file store.
    pub fn insert_plays(&self, rows: &[Play]) -> Result<(), StoreError> {
        // One statement may not touch a row twice: fold repeats first.
        let mut folded: std::collections::BTreeMap<(i64, &str, i64), &Play> = Default::default();
        let mut verified: std::collections::HashSet<(i64, &str, i64)> = Default::default();
        for r in rows {
            let key = (
                r.shown_at.timestamp_millis().max(0),
                r.panel.as_str(),
                i64::from(r.seq),
            );
            if r.verified {
                verified.insert(key);
            }
            folded.insert(key, r);
        }
        let mut cols: (Vec<i64>, Vec<&str>, Vec<i64>) = Default::default();
        let mut vals: (Vec<&str>, Vec<&str>, Vec<&str>, Vec<bool>) = Default::default();
        for (key, r) in &folded {
            cols.0.push(key.0);
            cols.1.push(key.1);
            cols.2.push(key.2);
            vals.0.push(r.message.as_deref().unwrap_or(""));
            vals.1.push(r.campaign.as_deref().unwrap_or(""));
            vals.2.push(r.alert.as_deref().unwrap_or(""));
            vals.3.push(verified.contains(key));
        }
        let params: [&(dyn ToSql + Sync); 7] = [
            &cols.0, &cols.1, &cols.2, &vals.0, &vals.1, &vals.2, &vals.3,
        ];
        self.with(async |c| {
            c.execute(
                "INSERT INTO plays (shown_ms, panel, seq, message, campaign, alert, verified) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], \
                                      $5::text[], $6::text[], $7::boolean[]) \
                 ON CONFLICT (shown_ms, panel, seq) DO UPDATE \
                 SET message = EXCLUDED.message, campaign = EXCLUDED.campaign, \
                     alert = EXCLUDED.alert, verified = plays.verified OR EXCLUDED.verified",
                &params,
            )
            .await
            .map(drop)
        })
    }

    /// Rows with `lo <= shown_ms < hi`, oldest first (then by panel and
    /// seq, as on the file store), optionally for one panel; at most
    /// `limit`.
    pub fn plays_between(
        &self,
        (lo, hi): (u64, u64),
        panel: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Play>, StoreError> {
        let (lo, hi, limit) = (lo as i64, hi as i64, rows_limit(limit));
        self.select_plays(
            "shown_ms >= $1 AND shown_ms < $2 AND ($3::text IS NULL OR panel = $3)",
            [&lo, &hi, &panel, &limit],
        )
    }

    /// Rows of frames of `alerts` with `lo <= shown_ms < hi`, oldest
    /// first; at most `limit`.
    pub fn alert_plays_between(
        &self,
        (lo, hi): (u64, u64),
        alerts: &[String],
        limit: usize,
    ) -> Result<Vec<Play>, StoreError> {
        let (lo, hi, limit) = (lo as i64, hi as i64, rows_limit(limit));
        self.select_plays(
            "shown_ms >= $1 AND shown_ms < $2 AND alert = ANY($3)",
            [&lo, &hi, &alerts, &limit],
        )
    }

    /// Up to `limit` rows after the row `after` (ms, panel, seq), or from
    /// the first, in order: the rows page by page.
    pub fn plays_after(
        &self,
        after: Option<&(u64, String, u32)>,
        limit: usize,
    ) -> Result<Vec<Play>, StoreError> {
        let (ms, panel, seq) = after.map_or((-1, "", -1), |(m, p, s)| {
            (*m as i64, p.as_str(), i64::from(*s))
        });
        let limit = rows_limit(limit);
        self.select_plays(
            "(shown_ms, panel, seq) > ($1, $2, $3)",
            [&ms, &panel, &seq, &limit],
        )
    }

    /// The rows `filter` keeps, in order; its last parameter, `$4`, is the
    /// most to return.
    fn select_plays(
        &self,
        filter: &str,
        params: [&(dyn ToSql + Sync); 4],
    ) -> Result<Vec<Play>, StoreError> {
        let sql = format!(
            "SELECT shown_ms, panel, seq, message, campaign, alert, verified FROM plays \
             WHERE {filter} ORDER BY shown_ms, panel, seq LIMIT $4"
        );
        let rows = self.with(async |c| c.query(&sql, &params).await)?;
        Ok(rows.iter().map(play_of).collect())
    }

    /// Deletes rows shown before `before` (ms); returns how many.
    pub fn prune_plays_before(&self, before: u64) -> Result<u64, StoreError> {
        let before = before as i64;
        self.with(async |c| {
            c.execute("DELETE FROM plays WHERE shown_ms < $1", &[&before])
                .await
        })
    }

    /// Writes samples of the fleet in one statement (the same instant
    /// again replaces the sample; the last of repeats wins).
    pub fn record_online(&self, samples: &[OnlineSample]) -> Result<(), StoreError> {
        let folded: std::collections::BTreeMap<i64, (i64, i64)> = samples
            .iter()
            .map(|s| {
                let at = s.at.timestamp_millis().max(0);
                (at, (i64::from(s.online), i64::from(s.panels)))
            })
            .collect();
        let at: Vec<i64> = folded.keys().copied().collect();
        let online: Vec<i64> = folded.values().map(|v| v.0).collect();
        let panels: Vec<i64> = folded.values().map(|v| v.1).collect();
        self.with(async |c| {
            c.execute(
                "INSERT INTO online_samples (at_ms, online, panels) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) \
                 ON CONFLICT (at_ms) DO UPDATE SET online = EXCLUDED.online, panels = EXCLUDED.panels",
                &[&at, &online, &panels],
            )
            .await
            .map(drop)
        })
    }

    /// Samples with `lo <= at_ms < hi`, oldest first, at most `limit`.
    pub fn online_between(
        &self,
        (lo, hi): (u64, u64),
        limit: usize,
    ) -> Result<Vec<OnlineSample>, StoreError> {
        let (lo, hi, limit) = (lo as i64, hi as i64, rows_limit(limit));
        let rows = self.with(async |c| {
            c.query(
                "SELECT at_ms, online, panels FROM online_samples \
                 WHERE at_ms >= $1 AND at_ms < $2 ORDER BY at_ms LIMIT $3",
                &[&lo, &hi, &limit],
            )
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|r| OnlineSample {
                at: at_ms(r.get::<_, i64>(0) as u64),
                online: r.get::<_, i64>(1) as u32,
                panels: r.get::<_, i64>(2) as u32,
            })
            .collect())
    }

    /// Deletes samples taken before `before` (ms); returns how many.
    pub fn prune_online_before(&self, before: u64) -> Result<u64, StoreError> {
        let before = before as i64;
        self.with(async |c| {
            c.execute("DELETE FROM online_samples WHERE at_ms < $1", &[&before])
                .await
        })
    }
}

/// A row of `plays`, selected in the table's column order.
fn play_of(r: &tokio_postgres::Row) -> Play {
    let opt = |s: String| (!s.is_empty()).then_some(s);
    Play {
        shown_at: at_ms(r.get::<_, i64>(0) as u64),
        panel: r.get(1),
        seq: r.get::<_, i64>(2) as u32,
        message: opt(r.get(3)),
        campaign: opt(r.get(4)),
        alert: opt(r.get(5)),
        verified: r.get(6),
    }
}

/// A count of rows as a LIMIT (`usize::MAX`: no limit, in effect).
fn rows_limit(n: usize) -> i64 {
    n.min(i64::MAX as usize) as i64
}
