//! In-process tests of the HTTP API: requests go through the real router
//! ([`super::routes`]) with `warp::test`, against a store in a temp
//! directory. No process, no socket, no broker: what needs those lives in
//! `tests/it/`.

mod accounts;
mod admin;
mod calendar;
mod campaigns;
mod cap;
mod desk;
mod hardening;
mod i18n;
mod messages;
mod panels;
mod reports;
mod routes;
mod scope_leaks;
mod scopes;

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use warp::filters::BoxedFilter;
use warp::http::HeaderMap;
use warp::reply::Response;

use super::{metrics::Metrics, Ctx, Services};
use crate::domain::Role;
use crate::player::{Renditions, Schedules, Shared};
use crate::render::Renderer;
use crate::store::plays::Plays;
use crate::store::tokens::TokenStore;
use crate::store::Store;

pub(super) const ADMIN_TOKEN: &str = "rig-admin-token-0123456789";

/// A server without its process: the context the handlers see, the
/// router, and the data directory (in memory where the machine has
/// `/dev/shm`, so fsync costs nothing and a test may write thousands of
/// files).
pub(super) struct Rig {
    pub dir: tempfile::TempDir,
    pub ctx: Arc<Ctx>,
    routes: BoxedFilter<(Response,)>,
}

impl Rig {
    pub(super) fn new() -> Rig {
        Rig::build(false, false)
    }

    /// With the repository's sample `content/` and `schedules/`.
    pub(super) fn with_sample_data() -> Rig {
        Rig::build(true, false)
    }

    /// With self-approval switched on.
    pub(super) fn self_approving() -> Rig {
        Rig::build(false, true)
    }

    fn build(sample_data: bool, allow_self_approval: bool) -> Rig {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm).expect("temp dir in /dev/shm")
        } else {
            tempfile::tempdir().expect("temp dir")
        };
        if sample_data {
            let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
            for d in ["content", "schedules"] {
                copy_dir(&repo.join(d), &dir.path().join(d));
            }
        }
        let store = Arc::new(Store::open(dir.path()).expect("store opens"));
        let tokens = Arc::new(
            TokenStore::open(&dir.path().join("secrets/tokens.json"), Some(ADMIN_TOKEN))
                .expect("token store opens"),
        );
        let accounts = Arc::new(
            crate::auth::Accounts::open(&crate::store::users::users_file(dir.path()))
                .expect("accounts open"),
        );
        let plays = Arc::new(Plays::open(&store.plays_file()).expect("plays"));
        let renditions = Arc::new(Renditions::new(Arc::new(Renderer::new())));
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let feeds = Arc::new(crate::feeds::Feeds::new(
            crate::store::cap::ConfigFile::open(dir.path()),
        ));
        let alarms = Arc::new(crate::alarms::Alarms::new(
            Arc::new(crate::store::alarms::AlarmStore::open(dir.path())),
            crate::alarms::notify::Notifier::idle(),
            tz,
        ));
        let ctx = Arc::new(Ctx::new(Services {
            schedules: Arc::new(Schedules::new(store.clone(), renditions.clone(), tz)),
            store,
            tokens,
            accounts,
            renditions,
            shared: Arc::new(Shared::default()),
            plays,
            metrics: Arc::new(Metrics::default()),
            tz,
            allow_self_approval,
            feeds,
            alarms,
        }));
        let routes = super::routes(ctx.clone());
        Rig { dir, ctx, routes }
    }

    /// The same rig with other HTTP limits (e.g. trusted proxies).
    pub(super) fn with_limits(self, limits: super::Limits) -> Rig {
        let Rig { dir, ctx, routes } = self;
        drop(routes);
        let ctx = Arc::try_unwrap(ctx)
            .ok()
            .expect("only the rig holds its context")
            .with_limits(limits);
        let ctx = Arc::new(ctx);
        let routes = super::routes(ctx.clone());
        Rig { dir, ctx, routes }
    }

    pub(super) fn admin(&self) -> Client<'_> {
        self.client(Some(ADMIN_TOKEN))
    }

    pub(super) fn anonymous(&self) -> Client<'_> {
        self.client(None)
    }

    pub(super) fn client(&self, token: Option<&str>) -> Client<'_> {
        Client {
            rig: self,
            token: token.map(str::to_string),
            session: None,
        }
    }

    /// A staff account `name` with these roles and scope, created by the
    /// admin, signed in with a password and past its first password
    /// change: a client that sends the session cookie and CSRF token.
    pub(super) async fn person(
        &self,
        name: &str,
        roles: &[Role],
        scope: Option<&[&str]>,
    ) -> Client<'_> {
        let (st, v) = self
            .admin()
            .post(
                "/users",
                serde_json::json!({"username": name, "display_name": format!("Cán bộ {name}"),
                    "roles": roles, "scope": scope, "password": "mật khẩu đầu tiên"}),
            )
            .await;
        assert_eq!(st, 201, "creating {name}: {v}");
        let c = self
            .sign_in(name, "mật khẩu đầu tiên")
            .await
            .unwrap_or_else(|r| panic!("{name} signs in: {} {}", r.status, r.json));
        let (st, v) = c
            .put(
                "/session/password",
                serde_json::json!({"current": "mật khẩu đầu tiên", "new": "mật khẩu riêng của tôi"}),
            )
            .await;
        assert_eq!(st, 204, "changing the first password: {v}");
        c
    }

    /// `POST /session`: a client with the session, or the refusal.
    pub(super) async fn sign_in(&self, name: &str, password: &str) -> Result<Client<'_>, Reply> {
        let r = Reply::from(
            warp::test::request()
                .method("POST")
                .path("/api/v1/session")
                .remote_addr(([127, 0, 0, 1], 40000).into())
                .json(&serde_json::json!({"username": name, "password": password}))
                .reply(&self.routes)
                .await,
        );
        if r.status != 201 {
            return Err(r);
        }
        let id = session_cookie(&r).expect("a session cookie");
        Ok(Client {
            rig: self,
            token: None,
            session: Some((id, r.json["csrf"].as_str().unwrap().to_string())),
        })
    }

    /// A client for a new token named `name` with these roles.
    pub(super) fn user(&self, name: &str, roles: &[Role]) -> Client<'_> {
        let token = self.ctx.tokens.create(name, roles).expect("token created");
        self.client(Some(&token))
    }

    /// A request outside `/api/v1` (dashboard, `/healthz`, `/metrics`).
    pub(super) async fn site(&self, path: &str) -> Reply {
        Reply::from(
            warp::test::request()
                .method("GET")
                .path(path)
                .reply(&self.routes)
                .await,
        )
    }
}

/// Copies a directory tree (the repository's sample data into a test's
/// data directory).
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// What came back: status, headers, the body and the body as JSON (or
/// `Null` when it is not JSON).
#[derive(Debug)]
pub(super) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
    pub json: Value,
}

impl From<warp::http::Response<bytes::Bytes>> for Reply {
    fn from(r: warp::http::Response<bytes::Bytes>) -> Reply {
        let (parts, body) = r.into_parts();
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            json: serde_json::from_slice(&body).unwrap_or(Value::Null),
            body,
        }
    }
}

impl Reply {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The value of the `bangtin_session` cookie a reply sets.
pub(super) fn session_cookie(r: &Reply) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("bangtin_session="))
        .map(|c| c.split(';').next().unwrap_or("").to_string())
}

/// Someone holding a token, a signed-in session (cookie and CSRF token),
/// or nothing.
pub(super) struct Client<'a> {
    rig: &'a Rig,
    token: Option<String>,
    pub session: Option<(String, String)>,
}

impl Client<'_> {
    /// A request to `/api/v1{path}` with this client's token.
    pub(super) fn req(&self, method: &str, path: &str) -> warp::test::RequestBuilder {
        // The tests read the English sentences; Vietnamese, the default,
        // has tests of its own (`i18n.rs`).
        let b = warp::test::request()
            .method(method)
            .path(&format!("/api/v1{path}"))
            .header("accept-language", "en");
        let b = match &self.session {
            Some((id, csrf)) => b
                .header("cookie", format!("bangtin_session={id}"))
                .header("x-csrf-token", csrf),
            None => b,
        };
        match &self.token {
            Some(t) => b.header("authorization", format!("Bearer {t}")),
            None => b,
        }
    }

    pub(super) async fn send(&self, b: warp::test::RequestBuilder) -> Reply {
        Reply::from(b.reply(&self.rig.routes).await)
    }

    pub(super) async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }
    pub(super) async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }
    pub(super) async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("PUT", path, Some(body)).await
    }
    pub(super) async fn delete(&self, path: &str) -> (u16, Value) {
        self.call("DELETE", path, None).await
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut b = self.req(method, path);
        if let Some(v) = body {
            b = b.json(&v);
        }
        let r = self.send(b).await;
        (r.status, r.json)
    }

    /// `POST /panels`, insisting on 201.
    pub(super) async fn create_panel(&self, body: Value) -> Value {
        let (st, v) = self.post("/panels", body).await;
        assert_eq!(st, 201, "creating a panel: {v}");
        v
    }

    /// `POST /messages`, insisting on 201; returns the new message.
    pub(super) async fn create_message(&self, body: Value) -> Value {
        let (st, v) = self.post("/messages", body).await;
        assert_eq!(st, 201, "creating a message: {v}");
        v
    }

    /// A panel, then a message (each insisting on 201); returns the
    /// message's id.
    pub(super) async fn panel_and_message(&self, panel: Value, message: Value) -> String {
        self.create_panel(panel).await;
        let m = self.create_message(message).await;
        m["id"].as_str().expect("a message id").to_string()
    }
}

/// Raises an offline alarm numbered `id` on `panel`, as the monitor would.
pub(super) fn raise_alarm(rig: &Rig, id: u64, panel: &str) {
    let at = chrono::Utc::now();
    rig.ctx
        .alarms
        .store
        .update(|log| {
            let mut incident = crate::store::alarms::Incident::sample(id, at);
            incident.panel = crate::domain::Id::parse(panel).unwrap();
            log.incidents.push(incident);
            Ok(())
        })
        .unwrap();
}

pub(super) fn panel(id: &str, w: u32, h: u32, format: &str, groups: &[&str]) -> Value {
    serde_json::json!({"id": id, "name": format!("Bảng {id}"), "width": w, "height": h, "format": format, "groups": groups})
}

pub(super) fn png(w: u32, h: u32) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 120]));
    crate::render::png_bytes(&img)
}

/// A valid PNG whose header claims 100000×100000 pixels: a decompression bomb.
pub(super) fn bomb_png() -> Vec<u8> {
    let mut p = png(4, 4);
    // IHDR data starts at byte 16: width, height (big-endian).
    p[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    p[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32fast::hash(&p[12..29]);
    p[29..33].copy_from_slice(&crc.to_be_bytes());
    p
}
