//! What controllers need from the server to be trusted and to trust it: a
//! panel's broker credential (issued or rotated, shown once) and the
//! public key its frames are signed with.

use std::sync::Arc;

use serde::Serialize;
use warp::reply::Response;

use super::error::ApiError;
use super::req::{ok, Req};
use super::{blocking, Ctx};
use crate::domain::Id;
use crate::store::credentials::Credentials;

/// How the server treats its broker, set at start.
#[derive(Clone, Default)]
pub(crate) struct BrokerSecurity {
    /// Controllers' broker passwords.
    pub credentials: Option<Arc<Credentials>>,
    /// The key frames are verified with.
    pub frame_key: Option<ed25519_dalek::VerifyingKey>,
    /// Whether the broker authenticates every report's sender (the
    /// embedded broker does; an external broker may or may not).
    pub reports_authenticated: bool,
}

/// The reply to `POST /panels/{id}/credential`: the only time the
/// password is shown.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct IssuedCredential {
    panel: Id,
    /// The MQTT user name; also the client id the controller must use.
    username: Id,
    client_id: Id,
    password: String,
}

/// `GET /keys/frames`.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct FrameKey {
    algorithm: &'static str,
    /// 64 hex digits, as `bangtin controller --public-key` takes it.
    public_key: String,
    /// The same key as a PEM `PUBLIC KEY` block.
    pem: String,
}

pub(crate) async fn issue_credential(ctx: &Arc<Ctx>, r: &mut Req) -> Result<Response, ApiError> {
    let id = r.id(1)?;
    if !ctx.store.snapshot().panels.contains_key(&id) {
        return Err(ApiError::not_found(crate::i18n::Reason::NotFound {
            kind: crate::i18n::Kind::Panel,
            id: id.to_string(),
        }));
    }
    let Some(credentials) = ctx.broker.credentials.clone() else {
        return Err(ApiError::not_found(
            crate::i18n::Reason::NoBrokerCredentials,
        ));
    };
    let user = crate::mqtt::controller_user(&id)?.to_string();
    let line = super::admin::entry(&r.who.name, "issue", "controller-credential", id.as_str());
    let store = ctx.store.clone();
    // The line is durable before the password is issued.
    let password = blocking(move || store.audited(line, || credentials.issue(&user))).await??;
    ok(&IssuedCredential {
        panel: id.clone(),
        username: id.clone(),
        client_id: id,
        password,
    })
}

pub(crate) async fn frame_key(ctx: &Arc<Ctx>, _r: &mut Req) -> Result<Response, ApiError> {
    let Some(key) = &ctx.broker.frame_key else {
        return Err(ApiError::not_found(crate::i18n::Reason::NotSigning));
    };
    ok(&FrameKey {
        algorithm: "Ed25519",
        public_key: crate::store::signing::public_hex(key),
        pem: crate::store::signing::public_pem(key),
    })
}
