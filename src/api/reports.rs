//! Proof-of-play reports, as JSON or CSV.

use std::collections::BTreeMap;
use std::sync::Arc;

use warp::reply::Response;

use super::error::ApiError;
use super::panels::parse_time;
use super::req::{bytes_reply, ok, Req};
use super::{blocking, Ctx};
use crate::domain::Id;
use crate::store::plays::Play;

const MAX_ROWS: usize = 1_000_000;

async fn rows(ctx: &Arc<Ctx>, r: &Req) -> Result<Vec<Play>, ApiError> {
    let from = parse_time(r, "from")?
        .ok_or_else(|| ApiError::bad_request("give from=RFC3339 and to=RFC3339"))?;
    let to = parse_time(r, "to")?
        .ok_or_else(|| ApiError::bad_request("give from=RFC3339 and to=RFC3339"))?;
    if to < from {
        return Err(ApiError::bad_request("to is before from"));
    }
    let panel = r.q("panel").map(Id::parse).transpose()?;
    let plays = ctx.plays.clone();
    blocking(move || plays.query(from, to, panel.as_ref().map(|p| p.as_str()), MAX_ROWS))
        .await?
        .map_err(|e| ApiError::internal("reading proof of play", e))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub async fn plays(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let rows = rows(ctx, r).await?;
    if r.wants_csv() {
        let mut out = String::from("panel,message,campaign,alert,seq,shown_at\n");
        for p in &rows {
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                csv_field(&p.panel),
                csv_field(p.message.as_deref().unwrap_or("")),
                csv_field(p.campaign.as_deref().unwrap_or("")),
                csv_field(p.alert.as_deref().unwrap_or("")),
                p.seq,
                p.shown_at.to_rfc3339()
            ));
        }
        return Ok(bytes_reply("text/csv; charset=utf-8", out.into_bytes()));
    }
    ok(&rows)
}

/// Plays per (campaign, group): a panel in several groups counts in each;
/// a panel in none counts under "(none)".
pub async fn summary(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let rows = rows(ctx, r).await?;
    let snap = ctx.store.snapshot();
    let mut sums: BTreeMap<(String, String), u64> = BTreeMap::new();
    for p in &rows {
        let campaign = p
            .campaign
            .clone()
            .or_else(|| p.alert.as_ref().map(|a| format!("alert:{a}")))
            .unwrap_or_else(|| "(none)".into());
        let groups = Id::parse(&p.panel)
            .ok()
            .and_then(|id| snap.panels.get(&id))
            .map(|panel| panel.groups.clone())
            .filter(|g| !g.is_empty())
            .unwrap_or_else(|| vec!["(none)".into()]);
        for g in groups {
            *sums.entry((campaign.clone(), g)).or_default() += 1;
        }
    }
    if r.wants_csv() {
        let mut out = String::from("campaign,group,plays\n");
        for ((c, g), n) in &sums {
            out.push_str(&format!("{},{},{n}\n", csv_field(c), csv_field(g)));
        }
        return Ok(bytes_reply("text/csv; charset=utf-8", out.into_bytes()));
    }
    let v: Vec<_> = sums
        .into_iter()
        .map(|((campaign, group), plays)| serde_json::json!({"campaign": campaign, "group": group, "plays": plays}))
        .collect();
    ok(&v)
}
