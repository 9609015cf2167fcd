//! The embedded broker's front door. rumqttd authenticates but has no
//! topic ACLs, so controllers never reach it directly: this gateway owns
//! the public listener (`--broker-listen`), checks every client's
//! credential and every packet, and relays what is allowed to rumqttd on
//! a loopback port whose password only this process knows.
//!
//! - **CONNECT** within 10 s, MQTT 3.1.1, with a user name and password
//!   that [`Authenticate`] accepts; otherwise CONNACK 5 (not authorised,
//!   as Mosquitto answers) and the connection is closed. A controller's
//!   user name and client id are both its panel id (CONNACK 2 otherwise);
//!   its Last Will may only be its own status.
//! - **A controller** reads only `{root}/panels/{id}/frame`,
//!   `…/{id}/bundle` and `…/{id}/snapshot/request` (any other filter gets
//!   SUBACK 0x80) and
//!   writes only its own `status` and `ack`, at most [`MAX_REPORT`] bytes,
//!   and `snapshot`, at most [`MAX_SNAPSHOT`], QoS 0 or 1. Any other
//!   publish is dropped and logged — acknowledged at QoS 1, as Mosquitto
//!   2.0 does with an ACL denial on MQTT 3.1.1 — and the connection stays.
//!   A packet over 64 KiB ends it (as Mosquitto's `max_packet_size` does).
//! - **The server principal** ([`SERVER_USER`]) may do everything.
//! - Every credential is checked again every few seconds: a rotated or
//!   revoked one, or a deleted panel, ends its connections.
//! - Bounded: at most 20,000 connections; packets from controllers 64 KiB,
//!   from the server principal a frame.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rumqttc::mqttbytes::v4::{
    ConnAck, Connect, ConnectReturnCode, LastWill, Login, Packet, PubAck, Publish, SubAck,
    Subscribe, SubscribeReasonCode,
};
use rumqttc::mqttbytes::{Protocol, QoS};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::relay::{relay, Policy, Verdict};
use super::wire::{Codec, Item};
use super::{topics, Counters, FRAME_PACKET, MAX_REPORT, MAX_SNAPSHOT};
use crate::domain::Id;

/// The user name of the server principal, which may do everything.
pub const SERVER_USER: &str = "bangtin-server";

/// A controller's packets: a snapshot of at most [`MAX_SNAPSHOT`] bytes
/// with its topic, reports and subscriptions, with room to spare.
const CONTROLLER_PACKET: usize = 64 * 1024;
/// A CONNECT: client id, user name, password and a Last Will of a report's size.
const CONNECT_PACKET: usize = 8 * 1024;
const CONNECT_WAIT: Duration = Duration::from_secs(10);
const UPSTREAM_WAIT: Duration = Duration::from_secs(5);
/// Client connections at once (controllers and the server's tools).
const MAX_CLIENTS: usize = 20_000;
/// Subscriptions of one client awaiting rumqttd's SUBACK.
const PENDING_SUBSCRIBES: usize = 16;

/// Who a broker client is, once its credential checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// The server principal: everything.
    Server,
    /// One panel's controller: its own frame, status and ack.
    Panel(Id),
}

impl Access {
    /// Who a user name stands for: [`SERVER_USER`] or a panel id.
    pub fn for_user(user: &str) -> Option<Access> {
        if user == SERVER_USER {
            Some(Access::Server)
        } else {
            Id::parse(user).ok().map(Access::Panel)
        }
    }
}

/// A panel's controller credential is issued under the panel id; the one
/// id that cannot have one is [`SERVER_USER`], which would be the server
/// principal's (every topic).
pub fn controller_user(panel: &Id) -> Result<&str, crate::domain::Invalid> {
    if panel.as_str() == SERVER_USER {
        return Err(crate::domain::Invalid::new(
            crate::i18n::Reason::ServerUserPanel {
                user: SERVER_USER.to_string(),
            },
        ));
    }
    Ok(panel.as_str())
}

/// Checks a CONNECT's user name and password.
pub trait Authenticate: Send + Sync + 'static {
    /// What `user` may do when `password` is right; `None` refuses the CONNECT.
    fn authenticate(&self, user: &str, password: &str) -> Option<Access>;
}

impl<F> Authenticate for F
where
    F: Fn(&str, &str) -> Option<Access> + Send + Sync + 'static,
{
    fn authenticate(&self, user: &str, password: &str) -> Option<Access> {
        self(user, password)
    }
}

/// The topics one panel's controller may use.
#[derive(Debug, Clone)]
struct Acl {
    /// [`topics::controller_reads`].
    reads: [String; 3],
    status: String,
    ack: String,
    snapshot: String,
}

impl Acl {
    fn new(root: &str, panel: &Id) -> Acl {
        Acl {
            reads: topics::controller_reads(root, panel),
            status: topics::status(root, panel),
            ack: topics::ack(root, panel),
            snapshot: topics::snapshot(root, panel),
        }
    }

    fn may_subscribe(&self, filter: &str) -> bool {
        self.reads.iter().any(|t| t == filter)
    }

    /// Why a report may not be published, if it may not.
    fn refuse_report(&self, topic: &str, qos: QoS, len: usize) -> Option<String> {
        let limit = if topic == self.status || topic == self.ack {
            MAX_REPORT
        } else if topic == self.snapshot {
            MAX_SNAPSHOT
        } else {
            return Some(format!("it may not publish on {topic}"));
        };
        if qos == QoS::ExactlyOnce {
            Some("reports are sent at QoS 0 or 1".into())
        } else if len > limit {
            Some(format!(
                "a report of {len} bytes on {topic} (at most {limit})"
            ))
        } else {
            None
        }
    }

    fn refuse_will(&self, w: &LastWill) -> Option<String> {
        let why = match w.topic == self.status {
            true => self.refuse_report(&w.topic, w.qos, w.message.len()),
            false => Some(format!("it may only be its status, not {}", w.topic)),
        };
        why.map(|why| format!("its Last Will: {why}"))
    }
}

/// Sentences for refused connections, in one place.
fn refusal(
    c: &Connect,
    auth: &dyn Authenticate,
    root: &str,
) -> Result<Access, (ConnectReturnCode, String)> {
    use ConnectReturnCode::*;
    if c.protocol != Protocol::V4 {
        return Err((
            RefusedProtocolVersion,
            "only MQTT 3.1.1 is spoken here".into(),
        ));
    }
    let Some(login) = &c.login else {
        return Err((
            NotAuthorized,
            "no user name and password: every client needs the credential issued for it".into(),
        ));
    };
    let Some(access) = auth.authenticate(&login.username, &login.password) else {
        return Err((
            NotAuthorized,
            format!(
                "wrong password for {:?}, or no such panel: issue a credential with POST /api/v1/panels/ID/credential",
                login.username
            ),
        ));
    };
    if let Access::Panel(id) = &access {
        if c.client_id != id.as_str() {
            return Err((
                BadClientId,
                format!(
                    "a controller's client id must be its panel id {id:?}, not {:?}",
                    c.client_id
                ),
            ));
        }
        if let Some(why) = c
            .last_will
            .as_ref()
            .and_then(|w| Acl::new(root, id).refuse_will(w))
        {
            return Err((NotAuthorized, why));
        }
    }
    Ok(access)
}

/// The embedded broker's gateway, shared by its connections.
pub(crate) struct Gateway {
    pub root: String,
    pub auth: Arc<dyn Authenticate>,
    /// rumqttd's loopback listener.
    pub upstream: SocketAddr,
    /// The user name and password rumqttd takes.
    pub internal_login: Login,
    pub counters: Arc<Counters>,
}

/// Serves the gateway on `listener` for as long as the runtime runs.
pub(crate) async fn serve(listener: TcpListener, gw: Gateway) {
    let gw = Arc::new(gw);
    let permits = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors, typically: wait instead of spinning.
                tracing::warn!(error = %e, "the MQTT gateway cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            gw.counters.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%peer, "MQTT connection refused: {MAX_CLIENTS} clients are connected already");
            continue;
        };
        let gw = gw.clone();
        tokio::spawn(async move {
            client(&gw, stream, peer).await;
            drop(permit);
        });
    }
}

/// One client connection, from its CONNECT to its end.
async fn client(gw: &Gateway, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let (r, w) = tokio::io::split(stream);
    let mut client_in = FramedRead::new(r, Codec::new(CONNECT_PACKET));
    let mut client_out = FramedWrite::new(w, Codec::new(0));
    let connect = match tokio::time::timeout(CONNECT_WAIT, client_in.next()).await {
        Ok(Some(Ok(Item::Packet(Packet::Connect(c))))) => c,
        Ok(None) => return,
        other => {
            gw.counters.refused.fetch_add(1, Ordering::Relaxed);
            let why = match other {
                Err(_) => "no CONNECT within 10 s".to_string(),
                Ok(Some(Err(e))) => e.to_string(),
                _ => "its first packet was not a CONNECT".to_string(),
            };
            tracing::warn!(%peer, "MQTT connection refused: {why}");
            return;
        }
    };
    let access = match refusal(&connect, gw.auth.as_ref(), &gw.root) {
        Ok(a) => a,
        Err((code, why)) => {
            gw.counters.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%peer, client_id = %connect.client_id, "MQTT connection refused: {why}");
            let _ = client_out
                .send(Packet::ConnAck(ConnAck::new(code, false)))
                .await;
            return;
        }
    };
    let upstream = match tokio::time::timeout(UPSTREAM_WAIT, TcpStream::connect(gw.upstream)).await
    {
        Ok(Ok(s)) => s,
        other => {
            tracing::error!(
                ?other,
                "the embedded MQTT broker behind the gateway cannot be reached"
            );
            let unavailable = ConnAck::new(ConnectReturnCode::ServiceUnavailable, false);
            let _ = client_out.send(Packet::ConnAck(unavailable)).await;
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    let (br, bw) = tokio::io::split(upstream);
    let broker_in = FramedRead::new(br, Codec::new(FRAME_PACKET));
    let mut broker_out = FramedWrite::new(bw, Codec::new(0));
    // Admitted, so it has a login.
    let Some(login) = connect.login.clone() else {
        return;
    };
    let mut inside = connect;
    inside.login = Some(gw.internal_login.clone());
    let client_id = inside.client_id.clone();
    if broker_out.send(Packet::Connect(inside)).await.is_err() {
        return;
    }
    client_in.decoder_mut().set_limit(match access {
        Access::Server => FRAME_PACKET,
        Access::Panel(_) => CONTROLLER_PACKET,
    });
    let policy = Rules {
        acl: match &access {
            Access::Panel(id) => Some(Acl::new(&gw.root, id)),
            Access::Server => None,
        },
        access,
        login,
        auth: gw.auth.clone(),
        counters: gw.counters.clone(),
        pending: Mutex::new(HashMap::new()),
    };
    let why = relay(client_in, client_out, broker_in, broker_out, &policy).await;
    tracing::debug!(%peer, %client_id, "MQTT gateway connection ended: {why}");
}

/// The ACL applied to one connection.
struct Rules {
    access: Access,
    /// `None` for the server principal.
    acl: Option<Acl>,
    /// As presented in the CONNECT, to check it again later.
    login: Login,
    auth: Arc<dyn Authenticate>,
    counters: Arc<Counters>,
    /// For each subscription forwarded with some filters refused: which
    /// filters were forwarded, so rumqttd's SUBACK can be widened again.
    pending: Mutex<HashMap<u16, Vec<bool>>>,
}

impl Rules {
    fn denied(&self, what: &str, why: &str) {
        self.counters.denied.fetch_add(1, Ordering::Relaxed);
        let who = match &self.access {
            Access::Panel(id) => id.as_str(),
            Access::Server => SERVER_USER,
        };
        tracing::warn!(client = who, "MQTT {what} denied: {why}");
    }

    fn publish(&self, acl: &Acl, p: Publish) -> Verdict {
        match acl.refuse_report(&p.topic, p.qos, p.payload.len()) {
            None => Verdict::Forward(Packet::Publish(p)),
            Some(why) if p.qos == QoS::ExactlyOnce => Verdict::Close(why),
            Some(why) => {
                self.denied("publish", &format!("{why}; dropped"));
                if p.qos == QoS::AtLeastOnce {
                    Verdict::Reply(Packet::PubAck(PubAck::new(p.pkid)))
                } else {
                    Verdict::Drop
                }
            }
        }
    }

    fn subscribe(&self, acl: &Acl, mut s: Subscribe) -> Verdict {
        let allowed: Vec<bool> = s
            .filters
            .iter()
            .map(|f| acl.may_subscribe(&f.path))
            .collect();
        for f in s.filters.iter().filter(|f| !acl.may_subscribe(&f.path)) {
            self.denied(
                "subscription",
                &format!(
                    "{} (a controller reads only {})",
                    f.path,
                    acl.reads.join(", ")
                ),
            );
        }
        if !allowed.contains(&true) {
            let codes = vec![SubscribeReasonCode::Failure; allowed.len()];
            return Verdict::Reply(Packet::SubAck(SubAck::new(s.pkid, codes)));
        }
        if allowed.contains(&false) {
            let mut pending = self.pending.lock().expect("pending lock");
            if pending.len() >= PENDING_SUBSCRIBES {
                return Verdict::Close("too many subscriptions awaiting an answer".into());
            }
            pending.insert(s.pkid, allowed.clone());
            let mut keep = allowed.iter();
            s.filters.retain(|_| *keep.next().unwrap_or(&false));
        }
        Verdict::Forward(Packet::Subscribe(s))
    }
}

impl Policy for Rules {
    fn upward(&self, p: Packet) -> Verdict {
        match (p, &self.acl) {
            (
                Packet::Connect(_)
                | Packet::ConnAck(_)
                | Packet::SubAck(_)
                | Packet::UnsubAck(_)
                | Packet::PingResp,
                _,
            ) => Verdict::Close("it sent a packet only a broker sends, or a second CONNECT".into()),
            (p, None) => Verdict::Forward(p),
            (Packet::Publish(p), Some(acl)) => self.publish(acl, p),
            (Packet::Subscribe(s), Some(acl)) => self.subscribe(acl, s),
            (p, Some(_)) => Verdict::Forward(p),
        }
    }

    fn downward(&self, item: Item) -> Verdict {
        match item {
            Item::Packet(Packet::SubAck(mut ack)) => {
                if let Some(allowed) = self.pending.lock().expect("pending lock").remove(&ack.pkid)
                {
                    let mut granted = ack.return_codes.into_iter();
                    ack.return_codes = allowed
                        .iter()
                        .map(|ok| match ok {
                            true => granted.next().unwrap_or(SubscribeReasonCode::Failure),
                            false => SubscribeReasonCode::Failure,
                        })
                        .collect();
                }
                Verdict::Forward(Packet::SubAck(ack))
            }
            Item::Packet(p) => Verdict::Forward(p),
            Item::Skipped(s) => Verdict::Close(format!(
                "the broker sent an oversized packet on {}",
                s.topic
            )),
        }
    }

    fn still_allowed(&self) -> bool {
        self.auth
            .authenticate(&self.login.username, &self.login.password)
            == Some(self.access.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::mqttbytes::v4::SubscribeFilter;

    fn id(s: &str) -> Id {
        Id::parse(s).unwrap()
    }

    fn rules(access: Access) -> Rules {
        let auth: Arc<dyn Authenticate> = Arc::new(|u: &str, p: &str| {
            (p == format!("pw-{u}"))
                .then(|| Access::for_user(u))
                .flatten()
        });
        Rules {
            acl: match &access {
                Access::Panel(p) => Some(Acl::new("bangtin", p)),
                Access::Server => None,
            },
            login: Login {
                username: "a".into(),
                password: "pw-a".into(),
            },
            access,
            auth,
            counters: Arc::default(),
            pending: Mutex::default(),
        }
    }

    fn publish(topic: &str, qos: QoS, len: usize) -> Packet {
        let mut p = Publish::new(topic, qos, vec![b'x'; len]);
        p.pkid = 7;
        Packet::Publish(p)
    }

    fn connect(client_id: &str, user: Option<(&str, &str)>) -> Connect {
        let mut c = Connect::new(client_id);
        if let Some((u, p)) = user {
            c.set_login(u, p);
        }
        c
    }

    #[test]
    fn a_controller_writes_only_its_own_reports() {
        let r = rules(Access::Panel(id("a")));
        for topic in ["bangtin/panels/a/status", "bangtin/panels/a/ack"] {
            assert!(matches!(
                r.upward(publish(topic, QoS::AtLeastOnce, 10)),
                Verdict::Forward(_)
            ));
            assert!(matches!(
                r.upward(publish(topic, QoS::AtMostOnce, MAX_REPORT)),
                Verdict::Forward(_)
            ));
        }
        for (topic, qos, len) in [
            ("bangtin/panels/a/frame", QoS::AtLeastOnce, 10),
            ("bangtin/panels/b/ack", QoS::AtLeastOnce, 10),
            ("bangtin/panels/a/ack/x", QoS::AtLeastOnce, 10),
            ("bangtin/panels/+/ack", QoS::AtLeastOnce, 10),
            ("bangtin/server/status", QoS::AtLeastOnce, 10),
            ("bangtin/panels/a/status", QoS::AtLeastOnce, MAX_REPORT + 1),
        ] {
            match r.upward(publish(topic, qos, len)) {
                Verdict::Reply(Packet::PubAck(a)) => assert_eq!(a.pkid, 7, "{topic}"),
                v => panic!("{topic} {len}: {v:?}"),
            }
        }
        assert!(matches!(
            r.upward(publish("bangtin/panels/b/ack", QoS::AtMostOnce, 1)),
            Verdict::Drop
        ));
        assert!(matches!(
            r.upward(publish("bangtin/panels/b/ack", QoS::ExactlyOnce, 1)),
            Verdict::Close(_)
        ));
        assert_eq!(r.counters.denied.load(Ordering::Relaxed), 7);
        // The server principal: anything.
        let s = rules(Access::Server);
        assert!(matches!(
            s.upward(publish("bangtin/panels/b/frame", QoS::AtLeastOnce, 100_000)),
            Verdict::Forward(_)
        ));
    }

    #[test]
    fn a_controller_reads_only_its_own_frame_and_refused_filters_get_0x80() {
        let r = rules(Access::Panel(id("a")));
        let sub = |filters: &[&str]| {
            Packet::Subscribe(Subscribe {
                pkid: 3,
                filters: filters
                    .iter()
                    .map(|f| SubscribeFilter::new(f.to_string(), QoS::AtLeastOnce))
                    .collect(),
            })
        };
        match r.upward(sub(&["bangtin/#", "bangtin/panels/b/frame"])) {
            Verdict::Reply(Packet::SubAck(a)) => {
                assert_eq!(a.return_codes, [SubscribeReasonCode::Failure; 2])
            }
            v => panic!("{v:?}"),
        }
        match r.upward(sub(&[
            "bangtin/panels/+/frame",
            "bangtin/panels/a/frame",
            "#",
        ])) {
            Verdict::Forward(Packet::Subscribe(s)) => {
                assert_eq!(s.filters.len(), 1);
                assert_eq!(s.filters[0].path, "bangtin/panels/a/frame");
            }
            v => panic!("{v:?}"),
        }
        let granted = SubscribeReasonCode::Success(QoS::AtLeastOnce);
        match r.downward(Item::Packet(Packet::SubAck(SubAck::new(3, vec![granted])))) {
            Verdict::Forward(Packet::SubAck(a)) => assert_eq!(
                a.return_codes,
                [
                    SubscribeReasonCode::Failure,
                    granted,
                    SubscribeReasonCode::Failure
                ]
            ),
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            r.upward(sub(&["bangtin/panels/a/frame"])),
            Verdict::Forward(_)
        ));
        assert!(matches!(
            r.upward(Packet::Connect(Connect::new("a"))),
            Verdict::Close(_)
        ));
    }

    #[test]
    fn connects_are_checked_and_refusals_say_why() {
        let r = rules(Access::Server);
        let auth = r.auth.as_ref();
        let refused = |c: &Connect| refusal(c, auth, "bangtin").err().map(|(code, _)| code);
        assert_eq!(refused(&connect("a", Some(("a", "pw-a")))), None);
        assert_eq!(
            refused(&connect("tools", Some((SERVER_USER, "pw-bangtin-server")))),
            None
        );
        assert_eq!(
            refused(&connect("a", None)),
            Some(ConnectReturnCode::NotAuthorized)
        );
        assert_eq!(
            refused(&connect("a", Some(("a", "pw-b")))),
            Some(ConnectReturnCode::NotAuthorized)
        );
        assert_eq!(
            refused(&connect("b", Some(("a", "pw-a")))),
            Some(ConnectReturnCode::BadClientId)
        );
        let mut c = connect("a", Some(("a", "pw-a")));
        c.protocol = Protocol::V5;
        assert_eq!(refused(&c), Some(ConnectReturnCode::RefusedProtocolVersion));
        let mut c = connect("a", Some(("a", "pw-a")));
        c.last_will = Some(LastWill::new(
            "bangtin/panels/a/status",
            r#"{"online":false}"#,
            QoS::AtLeastOnce,
            true,
        ));
        assert_eq!(refused(&c), None);
        c.last_will = Some(LastWill::new(
            "bangtin/panels/b/status",
            r#"{"online":false}"#,
            QoS::AtLeastOnce,
            true,
        ));
        assert_eq!(refused(&c), Some(ConnectReturnCode::NotAuthorized));
    }

    #[test]
    fn no_panel_gets_the_server_principal_s_user_name() {
        assert!(controller_user(&id("hc-01")).is_ok());
        assert!(controller_user(&id(SERVER_USER)).is_err());
    }

    #[test]
    fn a_rotated_credential_is_no_longer_allowed() {
        let mut r = rules(Access::Panel(id("a")));
        assert!(r.still_allowed());
        r.login.password = "old".into();
        assert!(!r.still_allowed());
    }
}
