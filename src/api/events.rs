//! Server-sent events for the dashboard's live panel wall: one `panel`
//! event per panel at connect, then one whenever a panel gets a new frame
//! or reports its status. A district's staff get only their district's
//! panels (`scope::sees`, checked per event against the current panels). A
//! stream ends when the server shuts down and the moment its token is
//! revoked.

use std::convert::Infallible;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use warp::reply::{Reply, Response};
use warp::sse::Event;

use super::error::ApiError;
use super::req::Req;
use super::Ctx;

pub(super) async fn stream(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let rx = ctx.shared.events.subscribe();
    let snap = ctx.store.snapshot();
    let initial: Vec<_> = snap
        .panels
        .keys()
        .filter(|id| super::scope::sees(&r.who, &snap, id))
        .map(|id| ctx.shared.event_for(id))
        .collect();
    let first = stream::iter(
        initial
            .into_iter()
            .map(|e| Ok::<_, Infallible>(to_event(&e))),
    );
    let state = (rx, ctx.store.clone(), r.who.clone());
    let live = stream::unfold(state, |(mut rx, store, viewer)| {
        async move {
            loop {
                match rx.recv().await {
                    Ok(e)
                        if viewer.scope.is_none()
                            || super::scope::sees(&viewer, &store.snapshot(), &e.id) =>
                    {
                        return Some((Ok::<_, Infallible>(to_event(&e)), (rx, store, viewer)))
                    }
                    Ok(_) => continue,
                    // A slow reader skips what it missed; the next events catch up.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    let mut stopping = ctx.stopping.subscribe();
    let shutdown = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    let (holder, who) = (ctx.clone(), r.who.clone());
    let mut revocations = ctx.tokens.revocations();
    let revoked = async move {
        // Subscribed before this check, so no revocation slips between.
        while holder.still_valid(&who) {
            if revocations.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            () = revoked => {}
        }
    };
    let s = first.chain(live).take_until(stop);
    Ok(warp::sse::reply(warp::sse::keep_alive().stream(s)).into_response())
}

fn to_event(e: &crate::player::PanelEvent) -> Event {
    Event::default()
        .event("panel")
        .data(serde_json::to_string(e).expect("event serializes"))
}
