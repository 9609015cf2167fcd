//! The route table, which is the router: one row per `/api/v1` route with
//! its method, path pattern, the role it needs, its handler, the shapes of
//! its body and reply, and a summary. [`route`] finds the row, checks the
//! role and calls the handler; the OpenAPI document (`web::openapi`) and
//! the role-matrix test read the same rows. Nothing about a route is
//! written anywhere else.
//!
//! Checks that are not a role (four eyes, a version read, ownership) are
//! the domain's and the handlers' business, but for districts: a scoped
//! principal's targets are checked by `scope::gate`, called here.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use warp::http::StatusCode;
use warp::reply::Response;

use super::error::ApiError;
use super::req::Req;
use super::{
    admin, alarms, alerts, broker, calendar, campaigns, cap, desk, events, groups, media, messages,
    panels, reports, session, snapshots, users, web, Ctx,
};
use crate::domain::Role::{self, Admin, Approver, Editor, Feed, Operator, Scheduler};
use crate::domain::{
    Alert, AlertBody, Campaign, CampaignBody, Message, MessageBody, MessageVersion, Panel,
};
use crate::i18n::Reason;
use crate::store::tokens::TokenInfo;
use crate::store::versions::DeletedHistory;
use crate::store::AuditEntry;

/// What a handler returns: a reply, or an error to send in the one shape.
pub(super) type Reply<'a> = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send + 'a>>;

/// A handler: an `async fn(&Arc<Ctx>, &mut Req) -> Result<Response, ApiError>`
/// seen through `handler!`.
pub(super) type Handler = for<'a> fn(&'a Arc<Ctx>, &'a mut Req) -> Reply<'a>;

/// Adds a type's JSON Schema to the generator and returns a reference to it.
pub(crate) type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

fn schema<T: schemars::JsonSchema>(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

/// What a route takes as its body.
#[derive(Clone, Copy)]
pub(crate) enum Body {
    None,
    /// JSON of this shape (`Content-Type: application/json`).
    Json(SchemaFn),
    /// JSON of this shape, or nothing.
    OptionalJson(SchemaFn),
    /// The bytes of an image (`Content-Type: image/png|jpeg|gif|webp`).
    Image,
    /// A CAP document (`Content-Type: application/cap+xml`).
    CapXml,
}

/// One row of the table.
pub(crate) struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// The role a caller needs (admins have every role); `None` = any
    /// valid token.
    pub role: Option<Role>,
    pub handler: Handler,
    pub body: Body,
    /// The JSON of a successful reply, when it is JSON.
    pub reply: Option<SchemaFn>,
    /// The status of every successful reply (the handler's 2xx is
    /// replaced by it).
    pub ok: StatusCode,
    pub summary: &'static str,
}

/// An async handler fn as a [`Handler`].
macro_rules! handler {
    ($f:path) => {{
        fn call<'a>(ctx: &'a Arc<Ctx>, r: &'a mut Req) -> Reply<'a> {
            Box::pin($f(ctx, r))
        }
        call as Handler
    }};
}

macro_rules! table {
    ($( ($method:ident $path:literal, $role:expr) => $handler:path {
        body: $body:expr, reply: $reply:expr, ok: $ok:ident,
        summary: $summary:literal,
    } )*) => {
        /// Every `/api/v1` route. The first row whose method and path match
        /// a request serves it.
        pub(crate) static ROUTES: &[Route] = &[ $( Route {
            method: stringify!($method),
            path: $path,
            role: $role,
            handler: handler!($handler),
            body: $body,
            reply: $reply,
            ok: StatusCode::$ok,
            summary: $summary,
        } ),* ];
    };
}

use Body::{CapXml, Image, Json, OptionalJson};
const NO_BODY: Body = Body::None;
/// Any valid token.
const ANY: Option<Role> = None;

/// Routes anyone may call, without a token or session: signing in.
const PUBLIC: &[(&str, &str)] = &[("POST", "session")];

/// Whether `method` on `tail` (the path after `/api/v1/`) needs no
/// credentials.
pub(super) fn is_public(method: &warp::http::Method, tail: &str) -> bool {
    let tail = tail.trim_matches('/');
    PUBLIC
        .iter()
        .any(|(m, p)| *m == method.as_str() && *p == tail)
}

table! {
    (POST "/session", ANY) => session::sign_in {
        body: Json(schema::<session::SignIn>), reply: Some(schema::<session::SessionView>), ok: CREATED,
        summary: "sign in with a user name and password: sets the session cookie; the reply's csrf goes in X-CSRF-Token on every change (open to all; 401 wrong, 429 wait, 423 locked from this address)",
    }
    (GET "/session", ANY) => session::current {
        body: NO_BODY, reply: Some(schema::<session::SessionView>), ok: OK,
        summary: "the signed-in session with its CSRF token (400 for a token)",
    }
    (DELETE "/session", ANY) => session::sign_out {
        body: NO_BODY, reply: None, ok: NO_CONTENT,
        summary: "sign out: ends this session and clears the cookie",
    }
    (DELETE "/sessions", ANY) => session::sign_out_everywhere {
        body: NO_BODY, reply: None, ok: NO_CONTENT,
        summary: "sign out everywhere: ends every session of the signed-in person",
    }
    (PUT "/session/password", ANY) => session::change_password {
        body: Json(schema::<session::PasswordChange>), reply: None, ok: NO_CONTENT,
        summary: "change one's own password ({\"current\", \"new\"}); the person's other sessions end",
    }
    (POST "/users", Some(Admin)) => users::create {
        body: Json(schema::<crate::auth::NewUser>), reply: Some(schema::<crate::store::users::UserInfo>), ok: CREATED,
        summary: "create a staff account with a first password the person must change",
    }
    (GET "/users", Some(Admin)) => users::list {
        body: NO_BODY, reply: Some(schema::<Vec<crate::store::users::UserInfo>>), ok: OK,
        summary: "list staff accounts (never a password)",
    }
    (PATCH "/users/{name}", Some(Admin)) => users::update {
        body: Json(schema::<crate::auth::UserPatch>), reply: Some(schema::<crate::store::users::UserInfo>), ok: OK,
        summary: "change an account's display name, roles or scope",
    }
    (DELETE "/users/{name}", Some(Admin)) => users::delete {
        body: NO_BODY, reply: None, ok: NO_CONTENT,
        summary: "remove an account; its sessions end",
    }
    (POST "/users/{name}/password", Some(Admin)) => users::reset_password {
        body: Json(schema::<users::Reset>), reply: None, ok: NO_CONTENT,
        summary: "reset an account's password: the person must change it, every session ends, any lock ends",
    }
    (DELETE "/users/{name}/sessions", Some(Admin)) => users::sign_out_everywhere {
        body: NO_BODY, reply: None, ok: NO_CONTENT,
        summary: "sign a person out everywhere",
    }
    (GET "/me", ANY) => admin::me {
        body: NO_BODY, reply: Some(schema::<admin::Me<'static>>), ok: OK,
        summary: "who the token belongs to",
    }
    (POST "/tokens", Some(Admin)) => admin::create_token {
        body: Json(schema::<admin::NewToken>), reply: Some(schema::<admin::CreatedToken>), ok: CREATED,
        summary: "create a token (shown once)",
    }
    (GET "/tokens", Some(Admin)) => admin::list_tokens {
        body: NO_BODY, reply: Some(schema::<Vec<TokenInfo>>), ok: OK,
        summary: "list token names and roles",
    }
    (DELETE "/tokens/{name}", Some(Admin)) => admin::revoke_token {
        body: NO_BODY, reply: None, ok: NO_CONTENT,
        summary: "revoke a token",
    }
    (GET "/audit", Some(Admin)) => admin::audit {
        body: NO_BODY, reply: Some(schema::<Vec<AuditEntry>>), ok: OK,
        summary: "the audit trail, newest first",
    }
    (POST "/panels", Some(Admin)) => panels::create {
        body: Json(schema::<Panel>), reply: Some(schema::<panels::PanelView>), ok: CREATED,
        summary: "add a panel",
    }
    (GET "/groups", ANY) => groups::list {
        body: NO_BODY, reply: Some(schema::<Vec<groups::GroupView>>), ok: OK,
        summary: "list groups (districts) with display names and panel counts; q= searches ignoring diacritics",
    }
    (POST "/groups", Some(Admin)) => groups::create {
        body: Json(schema::<crate::domain::Group>), reply: Some(schema::<crate::domain::Group>), ok: CREATED,
        summary: "give a group its display name",
    }
    (PATCH "/groups/{id}", Some(Admin)) => groups::rename {
        body: Json(schema::<groups::GroupPatch>), reply: Some(schema::<crate::domain::Group>), ok: OK,
        summary: "rename a group (panels keep its id)",
    }
    (GET "/panels", ANY) => panels::list {
        body: NO_BODY, reply: Some(schema::<Vec<panels::PanelView>>), ok: OK,
        summary: "list panels with online status",
    }
    (GET "/panels/{id}", ANY) => panels::get {
        body: NO_BODY, reply: Some(schema::<panels::PanelView>), ok: OK,
        summary: "one panel",
    }
    (PUT "/panels/{id}", Some(Admin)) => panels::replace {
        body: Json(schema::<Panel>), reply: Some(schema::<panels::PanelView>), ok: OK,
        summary: "replace a panel",
    }
    (DELETE "/panels/{id}", Some(Admin)) => panels::delete {
        body: NO_BODY, reply: None, ok: NO_CONTENT,
        summary: "remove a panel",
    }
    (POST "/panels:import", Some(Admin)) => panels::import {
        body: NO_BODY, reply: Some(schema::<crate::store::import::ImportSummary>), ok: OK,
        summary: "create or replace many panels at once (a JSON array or a CSV file), all or nothing",
    }
    (POST "/panels/{id}/credential", Some(Admin)) => broker::issue_credential {
        body: NO_BODY, reply: Some(schema::<broker::IssuedCredential>), ok: CREATED,
        summary: "issue or rotate the panel's controller credential (shown once)",
    }
    (GET "/keys/frames", ANY) => broker::frame_key {
        body: NO_BODY, reply: Some(schema::<broker::FrameKey>), ok: OK,
        summary: "the public key frames are signed with",
    }
    (GET "/panels/{id}/now", ANY) => panels::now {
        body: NO_BODY, reply: Some(schema::<panels::NowView>), ok: OK,
        summary: "what the panel shows now",
    }
    (GET "/panels/{id}/timeline", ANY) => panels::timeline {
        body: NO_BODY, reply: Some(schema::<Vec<panels::SlotView>>), ok: OK,
        summary: "what the panel will show between from and to",
    }
    (GET "/panels/{id}/frame.png", ANY) => panels::frame_png {
        body: NO_BODY, reply: None, ok: OK,
        summary: "the panel's current frame as PNG",
    }
    (GET "/panels/{id}/at", ANY) => calendar::panel_at {
        body: NO_BODY, reply: Some(schema::<calendar::AtView>), ok: OK,
        summary: "what the panel will show at t (RFC 3339), by the live player's rules, alerts included",
    }
    (POST "/panels/{id}/snapshot", ANY) => snapshots::request {
        body: NO_BODY, reply: Some(schema::<snapshots::Requested>), ok: ACCEPTED,
        summary: "ask the panel's controller for a snapshot of what its glass shows",
    }
    (GET "/panels/{id}/snapshot", ANY) => snapshots::get {
        body: NO_BODY, reply: Some(schema::<snapshots::SnapshotView>), ok: OK,
        summary: "the latest snapshot the panel's controller sent, beside what the server sends",
    }
    (GET "/panels/{id}/snapshot.png", ANY) => snapshots::png {
        body: NO_BODY, reply: None, ok: OK,
        summary: "the latest snapshot of the panel's glass as PNG",
    }
    (POST "/assets", Some(Editor)) => media::upload_asset {
        body: Image, reply: None, ok: CREATED,
        summary: "upload an image",
    }
    (GET "/assets", ANY) => media::list_assets {
        body: NO_BODY, reply: Some(schema::<Vec<media::AssetView>>), ok: OK,
        summary: "list images with their names and the messages that use them",
    }
    (PATCH "/assets/{id}", Some(Editor)) => media::rename_asset {
        body: Json(schema::<media::AssetPatch>), reply: Some(schema::<media::AssetView>), ok: OK,
        summary: "rename an image",
    }
    (DELETE "/assets/{id}", Some(Editor)) => media::delete_asset {
        body: NO_BODY, reply: None, ok: NO_CONTENT,
        summary: "remove an image no message uses (409 naming the messages otherwise)",
    }
    (GET "/assets/{id}", ANY) => media::get_asset {
        body: NO_BODY, reply: None, ok: OK,
        summary: "an image's original bytes",
    }
    (POST "/messages", Some(Editor)) => messages::create {
        body: Json(schema::<MessageBody>), reply: Some(schema::<Message>), ok: CREATED,
        summary: "write a message (draft); the reply's ETag is its version",
    }
    (GET "/messages", ANY) => messages::list {
        body: NO_BODY, reply: Some(schema::<Vec<Message>>), ok: OK,
        summary: "list messages",
    }
    (GET "/messages/{id}", ANY) => messages::get {
        body: NO_BODY, reply: Some(schema::<Message>), ok: OK,
        summary: "one message; the ETag is its version",
    }
    (PUT "/messages/{id}", Some(Editor)) => messages::replace {
        body: Json(schema::<MessageBody>), reply: Some(schema::<Message>), ok: OK,
        summary: "replace a message (back to draft, a new version)",
    }
    (DELETE "/messages/{id}", Some(Editor)) => messages::delete {
        body: NO_BODY, reply: None, ok: NO_CONTENT,
        summary: "remove a message",
    }
    (POST "/messages/{id}/approve", Some(Approver)) => messages::approve {
        body: OptionalJson(schema::<messages::ApproveBody>), reply: None, ok: OK,
        summary: "approve a message (four eyes); name the version reviewed with {\"version\": N} (409 if it changed) or If-Match: \"N\" (412)",
    }
    (POST "/messages/{id}/reject", Some(Approver)) => desk::reject {
        body: Json(schema::<desk::RejectBody>), reply: Some(schema::<Message>), ok: OK,
        summary: "send a message waiting for approval back to its author with {\"comment\"} (1 to 1000 characters; optional \"version\" read, 409 if it changed; 409 not_waiting once approved); an edit puts it back in the queue",
    }
    (GET "/messages/{id}/versions", ANY) => desk::versions {
        body: NO_BODY, reply: Some(schema::<Vec<MessageVersion>>), ok: OK,
        summary: "every version of a message, newest first, with who wrote it, when, and who approved or rejected it",
    }
    (GET "/messages/{id}/deleted", Some(Admin)) => desk::deleted {
        body: NO_BODY, reply: Some(schema::<Vec<DeletedHistory>>), ok: OK,
        summary: "the histories of deleted messages that had this id, the latest deletion first: who deleted each and when, and every version it had (empty when none was deleted)",
    }
    (GET "/messages/{id}/diff", ANY) => desk::diff {
        body: NO_BODY, reply: Some(schema::<desk::Diff>), ok: OK,
        summary: "word-level diff of the current version against the last approved one, or for a message never approved the last rejected one (from: null when there is none)",
    }
    (GET "/desk", Some(Approver)) => desk::queue {
        body: NO_BODY, reply: Some(schema::<Vec<desk::QueueItem>>), ok: OK,
        summary: "the approval queue: messages waiting for approval that the caller may approve (district scopes), newest first, with who wrote them and the campaigns and places they will run in",
    }
    (GET "/notifications", ANY) => desk::notifications {
        body: NO_BODY, reply: Some(schema::<Vec<desk::Notice>>), ok: OK,
        summary: "the caller's notifications, newest first (at most 50): own messages rejected (with the comment) or approved, and for approvers the messages waiting for them",
    }
    (GET "/messages/{id}/preview.png", ANY) => messages::preview_stored {
        body: NO_BODY, reply: None, ok: OK,
        summary: "preview a message on a panel or profile",
    }
    (POST "/preview", ANY) => messages::preview_body {
        body: Json(schema::<MessageBody>), reply: None, ok: OK,
        summary: "preview an unsaved message body",
    }
    (POST "/campaigns", Some(Scheduler)) => campaigns::create {
        body: Json(schema::<CampaignBody>), reply: Some(schema::<Campaign>), ok: CREATED,
        summary: "create a campaign",
    }
    (GET "/campaigns", ANY) => campaigns::list {
        body: NO_BODY, reply: Some(schema::<Vec<Campaign>>), ok: OK,
        summary: "list campaigns",
    }
    (GET "/campaigns/{id}", ANY) => campaigns::get {
        body: NO_BODY, reply: Some(schema::<Campaign>), ok: OK,
        summary: "one campaign",
    }
    (PUT "/campaigns/{id}", Some(Scheduler)) => campaigns::replace {
        body: Json(schema::<CampaignBody>), reply: Some(schema::<Campaign>), ok: OK,
        summary: "replace a campaign",
    }
    (DELETE "/campaigns/{id}", Some(Scheduler)) => campaigns::delete {
        body: NO_BODY, reply: None, ok: NO_CONTENT,
        summary: "remove a campaign",
    }
    (GET "/calendar", ANY) => calendar::calendar {
        body: NO_BODY, reply: Some(schema::<calendar::Calendar>), ok: OK,
        summary: "campaign occurrences between from and to (at most 62 days, 2000 occurrences), with panels, priorities and conflicts, and each campaign's status; group= for one group",
    }
    (POST "/cron/explain", ANY) => campaigns::explain {
        body: Json(schema::<campaigns::ExplainBody>), reply: None, ok: OK,
        summary: "describe a cron expression and its next firings",
    }
    (POST "/alerts", Some(Operator)) => alerts::create {
        body: Json(schema::<AlertBody>), reply: None, ok: CREATED,
        summary: "send an emergency alert",
    }
    (GET "/alerts", ANY) => alerts::list {
        body: NO_BODY, reply: Some(schema::<Vec<Alert>>), ok: OK,
        summary: "list alerts",
    }
    (GET "/alerts/{id}", ANY) => alerts::get {
        body: NO_BODY, reply: None, ok: OK,
        summary: "one alert with delivery figures",
    }
    (DELETE "/alerts/{id}", Some(Operator)) => alerts::cancel {
        body: NO_BODY, reply: None, ok: NO_CONTENT,
        summary: "cancel an alert",
    }
    (POST "/alerts/preview", ANY) => alerts::preview {
        body: Json(schema::<alerts::PreviewBody>), reply: None, ok: OK,
        summary: "draw an alert as the panels will show it (PNG)",
    }
    (POST "/cap", Some(Feed)) => cap::receive {
        body: CapXml, reply: Some(schema::<cap::Received>), ok: OK,
        summary: "receive an official warning (CAP 1.2 document); the rules deploy, hold or log it",
    }
    (GET "/cap", ANY) => cap::list {
        body: NO_BODY, reply: Some(schema::<Vec<cap::WarningView>>), ok: OK,
        summary: "official warnings received, newest first (state=held|deployed|…, limit)",
    }
    (GET "/cap/feeds", ANY) => cap::feeds {
        body: NO_BODY, reply: None, ok: OK,
        summary: "polled CAP feeds' health and the CAP configuration's state",
    }
    (GET "/cap/{id}", ANY) => cap::get {
        body: NO_BODY, reply: None, ok: OK,
        summary: "one warning with its delivery figures",
    }
    (GET "/cap/{id}/document", ANY) => cap::document {
        body: NO_BODY, reply: None, ok: OK,
        summary: "the warning's CAP document, verbatim as received",
    }
    (POST "/cap/{id}/deploy", Some(Operator)) => cap::deploy {
        body: OptionalJson(schema::<cap::DeployBody>), reply: Some(schema::<cap::WarningView>), ok: OK,
        summary: "deploy a held warning as an alert (optionally with the operator's own text)",
    }
    (POST "/cap/{id}/dismiss", Some(Operator)) => cap::dismiss {
        body: NO_BODY, reply: Some(schema::<cap::WarningView>), ok: OK,
        summary: "dismiss a held warning",
    }
    (GET "/reports/plays", ANY) => reports::plays {
        body: NO_BODY, reply: Some(schema::<Vec<reports::PlayView>>), ok: OK,
        summary: "proof-of-play rows, with names and local times",
    }
    (GET "/reports/summary", ANY) => reports::summary {
        body: NO_BODY, reply: Some(schema::<Vec<reports::SummaryRow>>), ok: OK,
        summary: "plays and time on air per campaign and group",
    }
    (GET "/reports/summary.xlsx", ANY) => reports::workbook {
        body: NO_BODY, reply: None, ok: OK,
        summary: "the report as an Excel workbook: summary per district and campaign, then every play",
    }
    (GET "/reports/daily", ANY) => reports::daily {
        body: NO_BODY, reply: Some(schema::<Vec<reports::DailyRow>>), ok: OK,
        summary: "plays and time on air per local day, by group or by campaign",
    }
    (GET "/reports/online", ANY) => reports::online {
        body: NO_BODY, reply: Some(schema::<Vec<reports::OnlinePoint>>), ok: OK,
        summary: "signs online over time (sampled every 5 minutes)",
    }
    (GET "/reports/alerts", ANY) => reports::alerts {
        body: NO_BODY, reply: Some(schema::<Vec<reports::AlertDelivery>>), ok: OK,
        summary: "alerts created in the period and how fast each panel acknowledged them",
    }
    (GET "/alarms", ANY) => alarms::list {
        body: NO_BODY, reply: Some(schema::<alarms::AlarmList>), ok: OK,
        summary: "fleet alarms: open incidents, then the latest closed (`?closed=N`)",
    }
    (POST "/alarms/{id}/acknowledge", Some(Operator)) => alarms::acknowledge {
        body: NO_BODY, reply: Some(schema::<crate::store::alarms::Incident>), ok: OK,
        summary: "acknowledge an alarm (who and when are recorded; the first acknowledgement stays)",
    }
    (GET "/alarms/config", Some(Admin)) => alarms::get_config {
        body: NO_BODY, reply: Some(schema::<alarms::ConfigView>), ok: OK,
        summary: "alarm settings: thresholds, recipients, webhook, quiet hours, digest (secrets never shown)",
    }
    (PUT "/alarms/config", Some(Admin)) => alarms::put_config {
        body: Json(schema::<crate::alarms::config::AlarmConfig>), reply: Some(schema::<alarms::ConfigView>), ok: OK,
        summary: "replace the alarm settings (a secret left out is kept; an empty one is cleared)",
    }
    (GET "/events", ANY) => events::stream {
        body: NO_BODY, reply: None, ok: OK,
        summary: "server-sent events: panel changes",
    }
    (GET "/status", ANY) => admin::status {
        body: NO_BODY, reply: None, ok: OK,
        summary: "server health: broker link, problems in data files",
    }
    (GET "/openapi.json", ANY) => web::openapi {
        body: NO_BODY, reply: None, ok: OK,
        summary: "this API described in OpenAPI 3",
    }
}

/// Serves a request: the row whose method and path match, if the caller
/// has its role. Returns the row's path pattern (for metrics) with the
/// result; an address no row has is 404, a method no row on that address
/// has is 405.
pub(super) async fn route(
    ctx: &Arc<Ctx>,
    r: &mut Req,
) -> (&'static str, Result<Response, ApiError>) {
    let found = {
        let segs: Vec<&str> = r.segs.iter().map(String::as_str).collect();
        let mut on_path = ROUTES
            .iter()
            .filter(|rt| path_matches(rt.path, &segs))
            .peekable();
        match on_path.peek() {
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no_route",
                Reason::NoApiRoute {
                    path: segs.join("/"),
                },
            )),
            Some(_) => on_path
                .find(|rt| rt.method == r.method.as_str())
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method_not_allowed",
                        Reason::MethodNotAccepted {
                            method: r.method.to_string(),
                        },
                    )
                }),
        }
    };
    let rt = match found {
        Ok(rt) => rt,
        Err(e) => return ("(none)", Err(e)),
    };
    if let Some(role) = rt.role {
        if let Err(e) = permit(r, role) {
            return (rt.path, Err(e));
        }
    }
    // Districts: the one place a scoped principal's targets are checked.
    if let Err(e) = super::scope::gate(ctx, r, rt.path).await {
        return (rt.path, Err(e));
    }
    let result = (rt.handler)(ctx, r).await.map(|mut resp| {
        if resp.status().is_success() {
            *resp.status_mut() = rt.ok;
        }
        resp
    });
    (rt.path, result)
}

/// Refuses the request unless the caller has `role` (admins have all).
fn permit(r: &Req, role: Role) -> Result<(), ApiError> {
    if r.who.has(role) {
        return Ok(());
    }
    if r.who.admin_scoped() {
        return Err(ApiError::forbidden(Reason::AdminScopeIgnored {
            who: r.who.name.clone(),
        }));
    }
    let held: Vec<&str> = r.who.roles.iter().map(|r| r.name()).collect();
    Err(ApiError::forbidden(Reason::NeedsRole {
        role: role.name(),
        who: r.who.name.clone(),
        held: held.join(", "),
    }))
}

/// Whether a table pattern like `/panels/{id}/now` matches segments.
pub(crate) fn path_matches(pattern: &str, segs: &[&str]) -> bool {
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    pat.len() == segs.len()
        && pat
            .iter()
            .zip(segs)
            .all(|(p, s)| p.starts_with('{') || p == s)
}
