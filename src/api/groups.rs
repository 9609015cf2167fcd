//! Groups (districts, wards, corridors): the list with display names and
//! panel counts, and an administrator's create and rename. Panels and
//! targets keep naming a group by its id; people read its name.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warp::reply::Response;

use super::error::ApiError;
use super::req::{ok, Req};
use super::{blocking, Ctx};
use crate::domain::{Group, Id};

/// A group as the dashboard lists it.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct GroupView {
    pub id: String,
    /// What people read: the display name, else the id read as words.
    pub name: String,
    /// Panels in the group.
    pub panels: usize,
}

/// A new display name.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupPatch {
    pub name: String,
}

/// Every group panels name or that has a display name, by id; `q=`
/// filters by name or id, ignoring case and diacritics ("son tra" finds
/// "Sơn Trà").
pub(super) async fn list(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    // Folded once: the same search for every group.
    let q = crate::i18n::fold(r.q("q").unwrap_or("").trim());
    let snap = ctx.store.snapshot();
    // A district's staff: the groups of their scope and of the panels
    // they see, counting only those panels.
    let counted = |id: &str, n: usize| {
        let Some(scope) = &r.who.scope else {
            return Some(n);
        };
        let n = snap
            .panels
            .values()
            .filter(|p| super::scope::visible(&r.who, p) && p.groups.iter().any(|g| g == id))
            .count();
        (n > 0 || scope.iter().any(|s| s.as_str() == id)).then_some(n)
    };
    let list: Vec<GroupView> = snap
        .group_list()
        .into_iter()
        .filter(|(id, name, _)| {
            q.is_empty()
                || crate::i18n::fold(name).contains(&q)
                || crate::i18n::fold(id).contains(&q)
        })
        .filter_map(|(id, name, n)| counted(&id, n).map(|panels| GroupView { id, name, panels }))
        .collect();
    ok(&list)
}

pub(super) async fn create(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let g: Group = r.json().await?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let g = blocking(move || store.create_group(g, &who)).await??;
    ok(&g)
}

pub(super) async fn rename(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = Id::parse(&r.segs[1])?;
    let body: GroupPatch = r.json().await?;
    let store = ctx.store.clone();
    let who = r.who.name.clone();
    let g = blocking(move || store.rename_group(&id, &body.name, &who)).await??;
    ok(&g)
}
